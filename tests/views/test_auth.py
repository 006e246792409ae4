from django.core.cache import cache
from django.urls import reverse

from tests.factories import PASSWORD


def test_sign_in_with_correct_password(client, member_user):
    response = client.post(reverse("login"), {"username": "mark", "password": PASSWORD})
    assert response.status_code == 302


def test_sign_in_is_throttled_after_repeated_failures(client, member_user, settings):
    cache.clear()
    statuses = [client.post(reverse("login"), {"username": "mark", "password": "wrong"}).status_code
                for _ in range(settings.LOGIN_THROTTLE_ATTEMPTS)]
    assert statuses == [200] * (settings.LOGIN_THROTTLE_ATTEMPTS - 1) + [429]  # the 5th failure locks
    response = client.post(reverse("login"), {"username": "mark", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    cache.clear()
