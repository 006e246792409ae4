"""The sign-in throttle holds under concurrency (django-axes behind the SignInGate): 20 wrong
passwords for one user sent at once through a real server get at most 5 password checks, and
one account's successful sign-ins do not reset the count of an address trying other names."""
import threading
import time

import pytest
import requests
from django.contrib.auth.base_user import AbstractBaseUser

from tests import factories

LIMIT = 5


@pytest.fixture
def counted_password_checks(monkeypatch):
    """Counts real password checks and makes each take 0.2 s, like a production hasher, so
    that the 20 requests overlap."""
    checks = []
    real = AbstractBaseUser.check_password

    def slow_check(self, raw_password):
        checks.append(self.username)
        time.sleep(0.2)
        return real(self, raw_password)

    monkeypatch.setattr(AbstractBaseUser, "check_password", slow_check)
    return checks


def _post(session, live_server, username, password):
    page = session.get(f"{live_server.url}/login/", timeout=30)
    token = page.cookies.get("csrftoken") or session.cookies.get("csrftoken")
    return session.post(f"{live_server.url}/login/", data={"username": username, "password": password,
                                                           "csrfmiddlewaretoken": token},
                        headers={"Referer": f"{live_server.url}/login/"}, timeout=60, allow_redirects=False)


def test_twenty_concurrent_wrong_passwords_get_at_most_five_checks(live_server, transactional_db,
                                                                   counted_password_checks):
    factories.make_user("mark")
    sessions = [requests.Session() for _ in range(20)]
    for s in sessions:
        s.get(f"{live_server.url}/login/", timeout=30)
    statuses = []
    start = threading.Barrier(20)

    def attempt(session):
        start.wait()
        statuses.append(_post(session, live_server, "mark", "wrong").status_code)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert len(statuses) == 20
    assert len(counted_password_checks) <= LIMIT
    assert statuses.count(429) >= 20 - LIMIT + 1
    assert set(statuses) <= {200, 429}


def test_another_accounts_success_does_not_reset_the_address_count(client, db, counted_password_checks):
    from tests.factories import PASSWORD

    factories.make_user("own")
    for n in range(LIMIT - 1):  # spraying other usernames from one address…
        assert client.post("/login/", {"username": f"victim{n}", "password": "guess"}).status_code == 200
    assert client.post("/login/", {"username": "own", "password": PASSWORD}).status_code == 302  # …own success
    client.logout()
    response = client.post("/login/", {"username": "victim9", "password": "guess"})
    assert response.status_code == 429  # the address reached the limit: the success reset nothing
    assert client.post("/login/", {"username": "victim10", "password": "guess"}).status_code == 429
