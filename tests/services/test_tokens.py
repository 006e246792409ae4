"""Tokens: refresh once on 401 and retry once, invalid_grant → needs reconnect (and the admins are
told), 403 with the tenant gone → removed in Xero, and many threads needing a token at once
cause exactly one refresh."""
import json
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from django.conf import settings
from django.core import mail
from django.db import connection as db_connection
from django.utils import timezone

from tests import factories
from tests.fakes import add_connections, add_organisation, add_token, form, token_body
from xero_connect.models import ConnectionStatus, XeroConnection
from xero_connect.services import tokens, xero_access
from xero_connect.xero import errors

ORG_URL = f"{settings.XERO_API_URL}/Organisation"
EXPIRED = {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at 01/01/2026 00:00:00"}


def test_a_401_refreshes_once_and_retries_once(org, rsps):
    conn = factories.make_connection(org, access_token="old-access", refresh_token="rt-1")
    rsps.add(responses.GET, ORG_URL, json=EXPIRED, status=401)
    add_organisation(rsps)
    add_token(rsps, token_body(refresh="rt-2"))
    assert xero_access.api_for(conn).organisation()["ShortCode"] == "!abc12"
    token_calls = [c for c in rsps.calls if c.request.url == settings.XERO_TOKEN_URL]
    api_calls = [c for c in rsps.calls if c.request.url == ORG_URL]
    assert len(token_calls) == 1 and form(token_calls[0])["refresh_token"] == "rt-1"
    assert [c.request.headers["Authorization"] for c in api_calls][0] == "Bearer old-access"
    assert api_calls[1].request.headers["Authorization"] != "Bearer old-access"
    conn.refresh_from_db()
    assert conn.get_refresh_token() == "rt-2" and conn.status == ConnectionStatus.CONNECTED


def test_a_second_401_is_not_retried_again(org, rsps):
    conn = factories.make_connection(org)
    rsps.add(responses.GET, ORG_URL, json=EXPIRED, status=401)
    add_token(rsps)
    with pytest.raises(errors.TokenExpired):
        xero_access.api_for(conn).organisation()
    assert len([c for c in rsps.calls if c.request.url == settings.XERO_TOKEN_URL]) == 1
    assert len([c for c in rsps.calls if c.request.url == ORG_URL]) == 2


def test_invalid_grant_means_needs_reconnect_no_retry_loop_and_the_admins_get_the_link(
        org, admin_user, member_user, rsps, django_capture_on_commit_callbacks):
    conn = factories.make_connection(org, expires_in=-60)
    add_token(rsps, {"error": "invalid_grant"}, status=400)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(errors.ReauthorisationRequired):
            tokens.access_token(conn.pk)
    with pytest.raises(errors.ReauthorisationRequired):  # no second call to Xero
        tokens.access_token(conn.pk)
    assert len(rsps.calls) == 1
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.NEEDS_RECONNECT
    assert [m.to for m in mail.outbox] == [[admin_user.email]]  # admins only, once
    assert f"{settings.SITE_URL}/o/acme/xero/reconnect/" in mail.outbox[0].body


def test_403_with_the_tenant_gone_from_connections_is_removed_in_xero(org, admin_user, rsps,
                                                                    django_capture_on_commit_callbacks):
    conn = factories.make_connection(org, tenant_id="tenant-1")
    add_connections(rsps, [])
    with django_capture_on_commit_callbacks(execute=True):
        xero_access.record_xero_failure(connection=conn, error=errors.ConnectionRevoked("403"))
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.REMOVED_IN_XERO
    assert len(mail.outbox) == 1 and "Removed in Xero" in mail.outbox[0].subject


def test_403_while_the_tenant_is_still_listed_changes_nothing(org, rsps):
    conn = factories.make_connection(org, tenant_id="tenant-1")
    add_connections(rsps, [{"id": "c", "tenantId": "tenant-1"}])
    xero_access.record_xero_failure(connection=conn, error=errors.ConnectionRevoked("403"))
    assert XeroConnection.objects.get(pk=conn.pk).status == ConnectionStatus.CONNECTED


# --- concurrency: threads on SQLite's test file, processes on PostgreSQL ----------------------


THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_many_threads_needing_a_token_cause_one_refresh_and_share_the_new_token(org):
    conn = factories.make_connection(org, access_token="stale", refresh_token="rt-0", expires_in=-5)
    calls = []
    lock = threading.Lock()

    def token_endpoint(request):
        with lock:
            calls.append(parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
                         ["refresh_token"][0])
            n = len(calls)
        time.sleep(0.3)  # a slow answer widens any race
        return 200, {"Content-Type": "application/json"}, json.dumps(token_body(refresh=f"rt-{n}", n=n))

    results, failures = [], []
    barrier = threading.Barrier(THREADS)

    def worker():
        try:
            barrier.wait()
            results.append(tokens.access_token(conn.pk))
        except Exception as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            db_connection.close()

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, settings.XERO_TOKEN_URL, callback=token_endpoint)
        threads = [threading.Thread(target=worker) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert failures == []
    assert calls == ["rt-0"]  # exactly ONE call reached the token endpoint
    assert len(results) == THREADS and len(set(results)) == 1 and results[0] != "stale"
    stored = XeroConnection.objects.get(pk=conn.pk)
    assert stored.get_refresh_token() == "rt-1" and stored.get_access_token() == results[0]
    assert stored.refresh_lock_until is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_on_postgresql_cause_one_refresh(org):
    """The same with real processes (row locks are real on PostgreSQL)."""
    if db_connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    import subprocess
    from http.server import ThreadingHTTPServer

    from tests.faults.test_token_concurrency import CHILD, TokenEndpoint
    from tests.processes import PYTHON, child_env

    TokenEndpoint.calls = 0
    TokenEndpoint.seen_refresh_tokens = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = factories.make_connection(org, access_token="old", refresh_token="old-rt", expires_in=-5)
        env = child_env(XERO_TOKEN_URL=f"http://127.0.0.1:{server.server_address[1]}/connect/token")
        start_at = time.time() + 3.0
        procs = [subprocess.Popen([PYTHON, "-c", CHILD, str(conn.pk), str(start_at)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        outs = []
        for proc in procs:
            out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err[-2000:]
            outs.append(out.strip())
    finally:
        server.shutdown()
        server.server_close()
    assert TokenEndpoint.calls == 1 and outs == ["access-1"] * 6
    assert XeroConnection.objects.get(pk=conn.pk).get_refresh_token() == "refresh-1"


def test_refresh_uses_the_lease_and_releases_it(org, rsps):
    conn = factories.make_connection(org, expires_in=-5)
    add_token(rsps)
    tokens.access_token(conn.pk)
    conn.refresh_from_db()
    assert conn.refresh_lock_until is None and conn.refresh_lock_owner == ""
    assert conn.access_token_expires_at > timezone.now() + timedelta(minutes=20)
