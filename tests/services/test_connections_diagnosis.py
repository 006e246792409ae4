"""Self-diagnosis: each situation, its one next step, the state it proves, the admins' email."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests import factories
from tests.fakes import add_connections, add_organisation, add_token, tenant
from xero_connect.models import ConnectionEvent, ConnectionStatus, ExportRecord, XeroConnection
from xero_connect.services.diagnosis import connection_health_check

REVOKED = {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"}


@pytest.fixture
def conn(org, admin_user):
    return factories.make_connection(org, actor=admin_user, tenant_id="tenant-1", tenant_name="Acme NZ",
                                     scopes="openid offline_access accounting.settings accounting.contacts "
                                            "accounting.invoices accounting.payments accounting.manualjournals")


def status_of(connection):
    return XeroConnection.objects.get(pk=connection.pk).status


def test_working_says_you_dont_need_to_reconnect(org, conn, rsps):
    add_connections(rsps, [tenant(1)])
    add_organisation(rsps)
    d = connection_health_check(organisation=org)
    assert d.situation == "working" and "don't need to" in d.words and d.next_step == "Nothing to do."
    assert [c.ok for c in d.checks] == [True, True, True, True, True]
    event = ConnectionEvent.objects.filter(organisation=org, kind=ConnectionEvent.Kind.CHECK).get()
    assert event.outcome == "ok" and len(event.details["checks"]) == 5
    assert XeroConnection.objects.get(pk=conn.pk).last_health_check_at is not None


def test_not_connected_says_connect_and_that_queued_exports_wait(org, admin_user):
    d = connection_health_check(organisation=org, actor=admin_user)
    assert d.situation == "not_connected" and "Connect to Xero" in d.next_step
    assert "will go out once connected" in d.words


def test_member_is_told_whom_to_ask(org, conn, member_user, rsps):
    add_token(rsps, {"error": "invalid_grant"}, status=400)
    XeroConnection.objects.filter(pk=conn.pk).update(access_token_expires_at=timezone.now() - timedelta(minutes=1))
    d = connection_health_check(organisation=org, actor=member_user)
    assert d.situation == "needs_reconnect" and d.action == "ask_admin"
    assert d.next_step == "Ask Alice Admin (an Admin) to press Reconnect."


def test_expired_or_revoked_sign_in_needs_reconnect_and_emails_the_admins(org, conn, rsps,
                                                                         django_capture_on_commit_callbacks):
    add_token(rsps, {"error": "invalid_grant"}, status=400)
    XeroConnection.objects.filter(pk=conn.pk).update(access_token_expires_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        d = connection_health_check(organisation=org)
    assert d.situation == "needs_reconnect" and "Reconnect" in d.next_step
    assert status_of(conn) == ConnectionStatus.NEEDS_RECONNECT
    assert len(mail.outbox) == 1 and "/o/acme/xero/reconnect/" in mail.outbox[0].body


def test_removed_in_xero_is_detected_with_the_greyed_out_advice(org, conn, admin_user, rsps,
                                                                django_capture_on_commit_callbacks):
    add_connections(rsps, [tenant(2)])
    add_organisation(rsps, body=REVOKED, status=403)
    with django_capture_on_commit_callbacks(execute=True):
        d = connection_health_check(organisation=org)
    assert d.situation == "removed_in_xero"
    assert "don't need to remove the old entry in Xero first" in d.next_step
    assert status_of(conn) == ConnectionStatus.REMOVED_IN_XERO
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    assert "Removed in Xero" in mail.outbox[0].subject


def test_connected_here_but_not_listed_there(org, conn, rsps):
    add_connections(rsps, [])
    add_organisation(rsps)
    d = connection_health_check(organisation=org)
    assert d.situation == "connected_here_not_there" and d.action == "reconnect"
    assert status_of(conn) == ConnectionStatus.REMOVED_IN_XERO


def test_xero_down_says_wait_and_changes_nothing(org, conn, rsps):
    add_connections(rsps, {"x": 1}, status=503)
    add_organisation(rsps, body={"m": "offline"}, status=503)
    d = connection_health_check(organisation=org)
    assert d.situation == "xero_down" and d.action == "wait" and "no need to reconnect" in d.next_step
    assert status_of(conn) == ConnectionStatus.CONNECTED and not mail.outbox


def test_rate_limited_says_wait_until(org, conn, rsps):
    add_connections(rsps, [tenant(1)])
    add_organisation(rsps, body={}, status=429, headers={"Retry-After": "120", "X-Rate-Limit-Problem": "minute"})
    d = connection_health_check(organisation=org)
    assert d.situation == "rate_limited" and d.retry_at is not None
    assert d.next_step.startswith("Wait until ") and status_of(conn) == ConnectionStatus.CONNECTED


def test_missing_scopes_say_reconnect_and_allow_all(org, conn, rsps):
    XeroConnection.objects.filter(pk=conn.pk).update(scopes="offline_access accounting.settings accounting.contacts")
    add_connections(rsps, [tenant(1)])
    add_organisation(rsps)
    d = connection_health_check(organisation=org)
    assert d.situation == "missing_scopes" and "allow every permission" in d.next_step
    assert "create and update invoices, bills and credit notes" in d.words  # in words, not scope ids


def test_older_accounting_transactions_scope_covers_invoices_payments_journals(org, conn, rsps):
    XeroConnection.objects.filter(pk=conn.pk).update(
        scopes="offline_access accounting.settings accounting.contacts accounting.transactions")
    add_connections(rsps, [tenant(1)])
    add_organisation(rsps)
    assert connection_health_check(organisation=org).situation == "working"


def test_a_removed_connection_that_answers_again_recovers(org, conn, rsps):
    from xero_connect import connection_states
    connection_states.mark_removed_in_xero(conn, reason="test")
    add_connections(rsps, [tenant(1)])
    add_organisation(rsps)
    assert connection_health_check(organisation=org).situation == "working"
    assert status_of(conn) == ConnectionStatus.CONNECTED


def test_scheduled_health_check_covers_every_connected_organisation(org, other_org, conn, rsps):
    from xero_connect.tasks.connections import connections_health_check_all
    factories.make_connection(other_org, tenant_id="tenant-1")
    add_connections(rsps, [tenant(1)])
    add_organisation(rsps)
    assert connections_health_check_all() == {"working": 2}
    assert not ExportRecord.objects.exists()


def test_xero_health_command_prints_the_situation_and_next_step(org, admin_user):
    from io import StringIO

    from django.core.management import call_command
    out = StringIO()
    call_command("xero_health", "--org", org.slug, stdout=out)
    text = out.getvalue()
    assert "acme: not_connected — Not connected to Xero" in text and "next step: Press Connect to Xero" in text


def test_schedules_include_keep_alive_and_health_checks(db):
    from django_q.models import Schedule

    from xero_connect.tasks.schedules import ensure_schedules
    ensure_schedules()
    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {"xero_connect.tasks.connections.connections_keep_alive",
            "xero_connect.tasks.connections.connections_health_check_all"} <= funcs
