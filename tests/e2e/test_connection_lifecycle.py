"""End to end against the sandbox over real HTTP: connect → choose among two organisations →
confirm → connected and imports queued; an expired token refreshes transparently; the app is
disconnected on Xero's Connected Apps page → the health check says "removed in Xero" with the
right advice → reconnect → connected, and Xero lists exactly one connection for this app."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.core import mail
from django.urls import reverse

from xero_connect.models import ConnectionStatus, ListRefresh, XeroConnection
from xero_connect.selectors.connections import current_connection
from xero_connect.services import xero_access
from xero_sandbox import services as sandbox
from xero_sandbox.models import Connection as SandboxConnection

NZ, AU = "!kWh4R", "!wG7oS"


@pytest.fixture
def xero(xero, live_server):
    """The shared sandbox fixture; these tests need the sandbox's base URL for Xero's own pages."""
    return f"{live_server.url}/xero-sandbox"


def tenant_id(short_code) -> str:
    return str(sandbox.organisation_get(short_code).tenant_id)


def app_connections():
    return list(SandboxConnection.objects.filter(app__client_id=settings.XERO_CLIENT_ID, removed_at__isnull=True)
                .values_list("organisation__short_code", flat=True))


def sign_in_at_xero(client, org, *, button, tenants):
    """Press Connect/Reconnect, play the Xero user's consent, come back to the callback."""
    start = client.post(reverse(button, args=[org.slug]))
    assert start.status_code == 302 and start["Location"].startswith(settings.XERO_AUTHORIZE_URL)
    back = sandbox.consent_redirect(start["Location"], tenants=tenants)
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    return client.get(reverse("xero_oauth_callback"), query)


def disconnect_on_connected_apps_page(base, short_code):
    """What a Xero user does in Xero: Settings → Connected Apps → Disconnect."""
    browser = requests.Session()
    login = browser.get(f"{base}/identity/login")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    browser.post(f"{base}/identity/login", data={"csrfmiddlewaretoken": csrf, "email": "demo@xero.example",
                                                 "password": "xero-demo", "next": "/xero-sandbox/"},
                 headers={"Referer": login.url})
    page = browser.get(f"{base}/orgs/{tenant_id(short_code)}/")
    action = re.search(r'action="([^"]+/disconnect)"', page.text).group(1)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = browser.post(urlsplit(base)._replace(path=action).geturl(), data={"csrfmiddlewaretoken": csrf},
                        headers={"Referer": page.url}, allow_redirects=False)
    assert done.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_connect_refresh_removed_in_xero_and_reconnect(xero, admin_client, org, admin_user):
    # Connect, choosing one of two organisations.
    response = sign_in_at_xero(admin_client, org, button="connection_start", tenants=[NZ, AU])
    assert "/choose/" in response["Location"]
    choose = html.unescape(admin_client.get(response["Location"]).content.decode())
    assert sandbox.organisation_get(NZ).name in choose and sandbox.organisation_get(AU).name in choose
    confirm = admin_client.post(response["Location"], {"tenant_id": tenant_id(NZ)})["Location"]
    assert sandbox.organisation_get(NZ).name in html.unescape(admin_client.get(confirm).content.decode())
    page = admin_client.post(confirm, {"tenant_id": tenant_id(NZ)}, follow=True).content.decode()
    assert "Your organisation is connected" in page
    connection = current_connection(organisation=org)
    assert connection.status == ConnectionStatus.CONNECTED and connection.short_code == NZ
    assert ListRefresh.objects.filter(organisation=org, trigger=ListRefresh.Trigger.CONNECT).exists()
    assert app_connections() == [NZ]  # the unpicked organisation was removed in Xero

    # The access token expires at Xero: the next call refreshes transparently.
    refresh_before = connection.get_refresh_token()
    sandbox.expire_access_tokens(tenant=NZ)
    assert xero_access.api_for(connection).organisation()["ShortCode"] == NZ
    connection.refresh_from_db()
    assert connection.get_refresh_token() != refresh_before and connection.status == ConnectionStatus.CONNECTED

    # Someone disconnects the app in Xero's Connected Apps → the health check tells.
    disconnect_on_connected_apps_page(xero, NZ)
    body = admin_client.post(reverse("connection_diagnose", args=[org.slug])).content.decode()
    assert 'data-situation="removed_in_xero"' in body
    assert "The app was disconnected in Xero" in body and "Reconnect clears it for you" in body
    assert XeroConnection.objects.get(pk=connection.pk).status == ConnectionStatus.REMOVED_IN_XERO
    assert any("/o/acme/xero/reconnect/" in m.body for m in mail.outbox)

    # Reconnect (consenting to all four this time) → connected, exactly one connection in Xero.
    response = sign_in_at_xero(admin_client, org, button="connection_reconnect", tenants=None)
    confirm = admin_client.post(response["Location"], {"tenant_id": tenant_id(NZ)})["Location"]
    admin_client.post(confirm, {"tenant_id": tenant_id(NZ)})
    fresh = current_connection(organisation=org)
    assert fresh.pk != connection.pk and fresh.status == ConnectionStatus.CONNECTED
    assert XeroConnection.objects.get(pk=connection.pk).status == ConnectionStatus.DISCONNECTED
    assert app_connections() == [NZ]
    body = admin_client.post(reverse("connection_diagnose", args=[org.slug])).content.decode()
    assert 'data-situation="working"' in body and "you don&#x27;t need to" in body


@pytest.mark.django_db(transaction=True)
def test_disconnect_removes_the_app_from_xero(xero, admin_client, org):
    response = sign_in_at_xero(admin_client, org, button="connection_start", tenants=[AU])
    admin_client.post(response["Location"], {"tenant_id": tenant_id(AU)})
    assert app_connections() == [AU]
    page = admin_client.post(reverse("connection_disconnect", args=[org.slug]), follow=True).content.decode()
    assert "Not connected to Xero" in page
    assert app_connections() == []


@pytest.mark.django_db(transaction=True)
def test_cancel_at_xero_changes_nothing(xero, admin_client, org):
    start = admin_client.post(reverse("connection_start", args=[org.slug]))
    back = sandbox.consent_redirect(start["Location"], cancel=True)
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    body = admin_client.get(reverse("xero_oauth_callback"), query).content.decode()
    assert "You cancelled the sign-in to Xero" in body and "Try again" in body
    assert app_connections() == [] and current_connection(organisation=org) is None


@pytest.mark.django_db(transaction=True)
def test_confirm_warns_when_the_chosen_xero_organisation_uses_another_currency(xero, admin_client, org):
    """Acme keeps NZD books: choosing the Australian (AUD) Xero organisation is questioned before
    Finish; choosing the NZ one is not."""
    choose_url = sign_in_at_xero(admin_client, org, button="connection_start", tenants=[NZ, AU])["Location"]
    confirm = admin_client.post(choose_url, {"tenant_id": tenant_id(AU)})["Location"]
    page = html.unescape(admin_client.get(confirm).content.decode())
    assert "Is this the right Xero organisation?" in page
    assert "keeps its books in AUD, but Acme Widgets uses NZD" in page
    confirm = admin_client.post(choose_url, {"tenant_id": tenant_id(NZ)})["Location"]
    assert "Is this the right Xero organisation?" not in admin_client.get(confirm).content.decode()
