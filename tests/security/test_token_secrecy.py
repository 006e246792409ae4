"""Tokens never leave the database: not in logs, the admin, or error pages."""
import logging
from datetime import timedelta

import responses
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests import factories
from xero_connect.models import XeroConnection
from xero_connect.services import tokens

ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH = "acc-SECRET-1", "ref-SECRET-1", "acc-SECRET-2", "ref-SECRET-2"


def _staff_client():
    staff = factories.make_user("staff", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client


def test_admin_never_shows_tokens_in_plain_or_encrypted_form(org):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)
    client = _staff_client()
    secrets = [ACCESS, REFRESH, conn.access_token_encrypted.ciphertext, conn.refresh_token_encrypted.ciphertext]
    for url in (f"/admin/xero_connect/xeroconnection/{conn.pk}/change/", "/admin/xero_connect/xeroconnection/",
                "/admin/xero_connect/connectionevent/"):
        body = client.get(url).content.decode()
        assert client.get(url).status_code == 200
        assert not [s for s in secrets if s in body], url


@responses.activate
def test_a_token_refresh_logs_no_token(org, caplog):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH, expires_in=10)
    responses.post(settings.XERO_TOKEN_URL, json={
        "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "expires_in": 1800, "token_type": "Bearer",
        "scope": "offline_access accounting.settings"})
    with caplog.at_level(logging.DEBUG):
        assert tokens.access_token(conn.pk) == NEW_ACCESS
    assert XeroConnection.objects.get(pk=conn.pk).get_refresh_token() == NEW_REFRESH
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert not [s for s in (ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH) if s in logged]


def test_error_pages_show_no_tokens_or_settings(org, admin_user, settings):
    factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    settings.DEBUG = False
    body = client.get("/o/acme/this-page-does-not-exist/").content.decode()
    assert "Not found" in body
    assert ACCESS not in body and REFRESH not in body and settings.SECRET_KEY not in body


def test_an_expired_token_is_refreshed_before_it_is_used(org):
    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH)
    XeroConnection.objects.filter(pk=conn.pk).update(access_token_expires_at=timezone.now() - timedelta(minutes=1))
    with responses.RequestsMock() as rsps:
        rsps.post(settings.XERO_TOKEN_URL, json={"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH,
                                                 "expires_in": 1800, "token_type": "Bearer"})
        assert tokens.access_token(conn.pk) == NEW_ACCESS
        assert len(rsps.calls) == 1
    # Fresh now: no further call.
    assert tokens.access_token(conn.pk) == NEW_ACCESS


@responses.activate
def test_json_log_lines_carry_the_ids_and_no_token(org):
    """The same refresh with LOG_FORMAT=json: the lines name the connection and tenant, and no
    token appears — not even one a careless message would have written."""
    from tests.observability.jsonlog import json_log_lines

    conn = factories.make_connection(org, access_token=ACCESS, refresh_token=REFRESH, expires_in=10)
    responses.post(settings.XERO_TOKEN_URL, json={
        "access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH, "expires_in": 1800, "token_type": "Bearer",
        "scope": "offline_access accounting.settings"})
    with json_log_lines() as lines:
        assert tokens.access_token(conn.pk) == NEW_ACCESS
        careless = logging.getLogger("xero_connect.careless")
        careless.info("xero.debug.headers Authorization: Bearer %s", NEW_ACCESS)
        careless.info("xero.debug.body refresh_token=%s&client_id=abc", NEW_REFRESH)
        careless.info("xero.debug.json %s", {"access_token": NEW_ACCESS, "refresh_token": NEW_REFRESH})
        careless.info("xero.debug.extra", extra={"refresh_token": NEW_REFRESH})
    written = lines.pop()["_raw"]
    assert not [s for s in (ACCESS, REFRESH, NEW_ACCESS, NEW_REFRESH) if s in written]
    [ok] = [line for line in lines if line.get("event") == "xero.token.refresh.ok"]
    assert ok["connection_id"] == conn.pk and ok["tenant_id"] == conn.tenant_id
    assert len([line for line in lines if line.get("event", "").startswith("xero.debug.")]) == 4
