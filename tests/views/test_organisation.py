import pytest
from django.urls import reverse

from tests import factories
from xero_connect.models import Role


def test_anonymous_is_sent_to_sign_in(client, org):
    response = client.get(reverse("organisation_home", args=[org.slug]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_member_sees_status_and_whom_to_ask(member_client, org, admin_user):
    response = member_client.get(reverse("organisation_home", args=[org.slug]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Not connected to Xero" in body
    assert "Alice Admin" in body
    assert "Connect to Xero</button>" not in body


def test_admin_sees_the_connect_button(admin_client, org):
    body = admin_client.get(reverse("organisation_home", args=[org.slug])).content.decode()
    assert "Connect to Xero</button>" in body


def test_connected_card_shows_tenant_and_who_connected(admin_client, org, admin_user):
    factories.make_connection(org, actor=admin_user, tenant_name="Acme Widgets (Xero)")
    body = admin_client.get(reverse("organisation_home", args=[org.slug])).content.decode()
    assert "Connected" in body and "Acme Widgets (Xero)" in body and "Alice Admin" in body
    assert "Reconnect" in body


def test_another_organisations_page_is_404(client, org, outsider):
    client.force_login(outsider)
    assert client.get(reverse("organisation_home", args=[org.slug])).status_code == 404
    assert client.get(reverse("organisation_home", args=["no-such-org"])).status_code == 404


def test_member_pressing_an_admin_only_button_gets_403_naming_the_admins(member_client, org, admin_user):
    second = factories.make_user("zoe", first_name="Zoe", last_name="Zeal")
    factories.add_member(org, second, Role.ADMIN)
    response = member_client.post(reverse("connection_start", args=[org.slug]))
    body = response.content.decode()
    assert response.status_code == 403
    assert "Alice Admin" in body and "Zoe Zeal" in body


def test_home_goes_straight_to_the_only_organisation(member_client, org):
    response = member_client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("organisation_home", args=[org.slug])


@pytest.mark.django_db
def test_organisation_switcher_lists_only_my_organisations(client, org, other_org, member_user):
    client.force_login(member_user)
    body = client.get(reverse("organisation_home", args=[org.slug])).content.decode()
    assert org.name in body and other_org.name not in body
