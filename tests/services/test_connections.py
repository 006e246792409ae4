"""The connection lifecycle at the HTTP seam: start, every callback failure, choose, confirm,
reconnect clearing the old authorisation, the switch guard, disconnect, keep-alive."""
import time
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.utils import timezone

from tests import factories
from tests.fakes import (FakeSession, add_connections, add_delete, add_organisation,
                                                   add_revoke, add_token, callback, calls_to, form, start,
                                                   tenant, token_body)
from xero_connect.models import (ConnectionEvent, ConnectionStatus, DocumentType, ExportRecord, ExportState,
                                 ListRefresh, PendingAuthorisation, Role, SourceDocument, XeroConnection)
from xero_connect.roles import AdminRequired
from xero_connect.selectors.connections import current_connection, presentation
from xero_connect.services import connections as services


def exported_record(org, tenant_id, n=1):
    doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"INV-{n}",
                                        date=date(2026, 1, n))
    return ExportRecord.objects.create(organisation=org, document=doc, doc_type=doc.doc_type, doc_date=doc.date,
                                       state=ExportState.EXPORTED, tenant_id=tenant_id, xero_id=f"x-{n}")


# --- start ----------------------------------------------------------------------------


def test_start_binds_state_and_pkce_to_org_user_and_expiry_without_clobbering(org, admin_user):
    session = FakeSession()
    url = services.oauth_start(organisation=org, actor=admin_user, session=session)
    services.oauth_start(organisation=org, actor=admin_user, session=session)
    query = parse_qs(urlparse(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    entries = session[services.SESSION_KEY]
    assert len(entries) == 2  # two tabs: both sign-ins can still finish
    entry = entries[query["state"][0]]
    assert entry["org"] == org.pk and entry["user"] == admin_user.pk and entry["exp"] > time.time()
    assert entry["verifier"] not in url  # only the challenge travels


def test_member_cannot_start(org, member_user):
    with pytest.raises(AdminRequired):
        services.oauth_start(organisation=org, actor=member_user, session=FakeSession())


# --- callback failures ----------------------------------------------------------------


def test_cancel_at_consent_is_a_calm_cancel_naming_the_organisation(org, admin_user, rsps):
    session, state = start(org, admin_user)
    with pytest.raises(services.SignInCancelled) as exc:
        services.oauth_callback(session=session, user=admin_user, params={"state": state, "error": "access_denied"})
    assert exc.value.organisation == org
    assert not rsps.calls
    assert ConnectionEvent.objects.filter(organisation=org, outcome="cancelled").exists()


def test_expired_state_is_a_session_timeout(org, admin_user, rsps):
    session, state = start(org, admin_user)
    session[services.SESSION_KEY][state]["exp"] = time.time() - 1
    with pytest.raises(services.SignInTimedOut):
        services.oauth_callback(session=session, user=admin_user, params={"state": state, "code": "c"})
    assert not rsps.calls


@pytest.mark.parametrize("state", ["", "tampered-state"])
def test_unknown_or_tampered_state_is_a_session_timeout(org, admin_user, rsps, state):
    session, good_state = start(org, admin_user)
    with pytest.raises(services.SignInTimedOut):
        services.oauth_callback(session=session, user=admin_user, params={"state": state or None, "code": "c"})
    assert not rsps.calls


def test_state_of_another_user_is_refused(org, admin_user, rsps):
    other_admin = factories.make_user("ann")
    factories.add_member(org, other_admin, Role.ADMIN)
    session, state = start(org, admin_user)
    with pytest.raises(services.SignInRefused):
        services.oauth_callback(session=session, user=other_admin, params={"state": state, "code": "c"})
    assert not rsps.calls


def test_state_for_an_organisation_the_user_no_longer_administers_is_refused(org, admin_user, rsps):
    session, state = start(org, admin_user)
    admin_user.memberships.filter(organisation=org).update(role=Role.MEMBER)
    with pytest.raises(AdminRequired):
        services.oauth_callback(session=session, user=admin_user, params={"state": state, "code": "c"})
    assert not rsps.calls


def test_missing_code(org, admin_user, rsps):
    session, state = start(org, admin_user)
    with pytest.raises(services.ConnectionFlowError) as exc:
        services.oauth_callback(session=session, user=admin_user, params={"state": state})
    assert exc.value.kind == "missing_code"


def test_reused_code_is_told_apart_and_the_state_is_single_use(org, admin_user, rsps):
    session, state = start(org, admin_user)
    add_token(rsps, {"error": "invalid_grant"}, status=400)
    with pytest.raises(services.ConnectionFlowError) as exc:
        services.oauth_callback(session=session, user=admin_user, params={"state": state, "code": "used"})
    assert exc.value.kind == "code_rejected"
    with pytest.raises(services.SignInTimedOut):  # replaying the same redirect
        services.oauth_callback(session=session, user=admin_user, params={"state": state, "code": "used"})


def test_xero_error_at_the_token_endpoint_carries_the_typed_error(org, admin_user, rsps):
    session, state = start(org, admin_user)
    add_token(rsps, {"error": "invalid_client"}, status=400)
    with pytest.raises(services.ConnectionFlowError) as exc:
        services.oauth_callback(session=session, user=admin_user, params={"state": state, "code": "c"})
    assert exc.value.kind == "xero_error" and exc.value.error is not None


def test_callback_exchanges_with_the_verifier_and_reads_this_auth_events_connections(org, admin_user, rsps):
    session, state = start(org, admin_user)
    verifier = session[services.SESSION_KEY][state]["verifier"]
    add_token(rsps)
    add_connections(rsps, [tenant(1), tenant(2)])
    pending = services.oauth_callback(session=session, user=admin_user, params={"state": state, "code": "c"})
    assert form(calls_to(rsps, "POST", "/token")[0])["code_verifier"] == verifier
    assert "authEventId=11111111-1111-4111-8111-111111111111" in calls_to(rsps, "GET", "/connections")[0].request.url
    assert [t["tenantName"] for t in pending.tenants] == ["Xero Org 1", "Xero Org 2"]
    assert pending.chosen_tenant_id == "" and pending.xero_user_email == "xu@example.com"
    assert pending.get_access_token() and "access" not in pending.access_token_encrypted.ciphertext


# --- complete ---------------------------------------------------------------------------


def test_finish_links_the_chosen_organisation_removes_the_unpicked_one_and_queues_imports(org, admin_user, rsps):
    pending = callback(rsps, org, admin_user, tenants=[tenant(1), tenant(2)])
    add_organisation(rsps)
    add_delete(rsps)
    connection = services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    assert presentation(current_connection(organisation=org)).words == "Connected"
    assert (connection.tenant_id, connection.short_code, connection.xero_base_currency) == ("tenant-1", "!abc12", "NZD")
    assert connection.xero_connection_id == "00000000-0000-4000-8000-000000000001" and connection.auth_event_id == "11111111-1111-4111-8111-111111111111"
    assert connection.xero_user_email == "xu@example.com" and "accounting.invoices" in connection.scopes
    assert connection.connected_by == admin_user and connection.get_refresh_token() == "refresh-new"
    deletes = calls_to(rsps, "DELETE", "/connections/")
    assert [c.request.url.rsplit("/", 1)[1] for c in deletes] == ["00000000-0000-4000-8000-000000000002"]  # exactly one connection stays in Xero
    assert ListRefresh.objects.filter(organisation=org, trigger=ListRefresh.Trigger.CONNECT).count() == 1


def test_double_finish_makes_one_connection(org, admin_user, rsps):
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)])
    add_organisation(rsps)
    first = services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    second = services.connection_complete(pending=PendingAuthorisation.objects.get(pk=pending.pk), actor=admin_user,
                                          tenant_id="tenant-1")
    assert first.pk == second.pk
    assert XeroConnection.objects.filter(organisation=org).count() == 1
    assert len(calls_to(rsps, "GET", "/Organisation")) == 1
    assert ListRefresh.objects.filter(organisation=org).count() == 1


def test_finish_releases_exports_waiting_for_the_connection(org, admin_user, rsps):
    record = exported_record(org, "")
    ExportRecord.objects.filter(pk=record.pk).update(state=ExportState.WAITING_FOR_CONNECTION)
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)])
    add_organisation(rsps)
    services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    assert ExportRecord.objects.get(pk=record.pk).state != ExportState.WAITING_FOR_CONNECTION


def test_member_cannot_finish(org, admin_user, member_user, rsps):
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)])
    with pytest.raises(services.SignInRefused):
        services.connection_complete(pending=pending, actor=member_user, tenant_id="tenant-1")
    assert not XeroConnection.objects.exists()


def test_finish_after_the_pending_sign_in_expired_is_a_timeout(org, admin_user, rsps):
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)])
    PendingAuthorisation.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.SignInTimedOut):
        services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")


def test_reconnect_to_the_same_tenant_revokes_the_old_authorisation_and_keeps_the_reused_connection(
        org, admin_user, rsps):
    old = factories.make_connection(org, tenant_id="tenant-1", xero_connection_id="00000000-0000-4000-8000-000000000001", auth_event_id="22222222-2222-4222-8222-222222222222",
                                    refresh_token="refresh-old", status="needs_reconnect")
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)], reconnect=True)
    assert pending.replaces_id == old.pk
    add_organisation(rsps)
    add_revoke(rsps)
    add_delete(rsps)
    new = services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    old.refresh_from_db()
    assert old.status == ConnectionStatus.DISCONNECTED and not old.is_current and not old.has_tokens
    assert new.is_current and new.status == ConnectionStatus.CONNECTED
    assert form(calls_to(rsps, "POST", "/revocation")[0])["token"] == "refresh-old"
    assert not calls_to(rsps, "DELETE", "/connections/")  # Xero reused conn-1 for the new authorisation
    assert ConnectionEvent.objects.filter(connection=old, transition="replace").exists()


def test_reconnect_deletes_an_old_connection_id_and_tolerates_it_being_gone(org, admin_user, rsps):
    factories.make_connection(org, tenant_id="tenant-1", xero_connection_id="00000000-0000-4000-8000-0000000000ff", auth_event_id="22222222-2222-4222-8222-222222222222",
                              status="removed_in_xero")
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)], reconnect=True)
    add_organisation(rsps)
    add_revoke(rsps, status=400)
    rsps.add(responses.DELETE, "http://127.0.0.1:8000/xero-sandbox/connections/00000000-0000-4000-8000-0000000000ff", status=404,
             json={"Title": "Not Found"})
    new = services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    assert new.status == ConnectionStatus.CONNECTED
    note = ConnectionEvent.objects.filter(connection=new, reason__startswith="Cleared old entries").get()
    assert note.details["old_connection_deleted"] == "already gone"


def test_unpicked_tenant_linked_to_another_of_our_organisations_is_not_deleted(org, other_org, admin_user, rsps):
    factories.make_connection(other_org, tenant_id="tenant-2", xero_connection_id="00000000-0000-4000-8000-000000000002")
    pending = callback(rsps, org, admin_user, tenants=[tenant(1), tenant(2)])
    add_organisation(rsps)
    add_delete(rsps)
    services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    assert not calls_to(rsps, "DELETE", "/connections/")


# --- switch guard -------------------------------------------------------------------------


def test_switching_xero_organisation_with_exported_documents_needs_explicit_confirmation(org, admin_user, rsps):
    factories.make_connection(org, tenant_id="tenant-9", tenant_name="Old Books Ltd", xero_connection_id="00000000-0000-4000-8000-000000000009")
    exported_record(org, "tenant-9")
    exported_record(org, "tenant-9", n=2)
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)], reconnect=True)
    add_organisation(rsps)
    add_revoke(rsps)
    add_delete(rsps)
    with pytest.raises(services.SwitchConfirmationRequired) as exc:
        services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1")
    assert exc.value.consequence.exported_count == 2 and exc.value.consequence.old_tenant_name == "Old Books Ltd"
    assert current_connection(organisation=org).tenant_id == "tenant-9"  # refused: nothing changed
    new = services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1", confirm_switch=True)
    assert new.tenant_id == "tenant-1"
    assert ExportRecord.objects.filter(organisation=org, tenant_id="tenant-9", state=ExportState.EXPORTED).count() == 2
    assert ConnectionEvent.objects.filter(organisation=org, reason__startswith="Switched Xero organisation").exists()


def test_switch_guard_also_applies_after_a_disconnect(org, admin_user, rsps):
    old = factories.make_connection(org, tenant_id="tenant-9", xero_connection_id="00000000-0000-4000-8000-000000000009")
    from xero_connect import connection_states
    connection_states.disconnect(old)
    exported_record(org, "tenant-9")
    assert services.connection_switch_consequence(organisation=org, tenant_id="tenant-1") is not None
    assert services.connection_switch_consequence(organisation=org, tenant_id="tenant-9") is None


def test_no_guard_when_nothing_was_exported_to_the_old_tenant(org, admin_user, rsps):
    factories.make_connection(org, tenant_id="tenant-9", xero_connection_id="00000000-0000-4000-8000-000000000009")
    pending = callback(rsps, org, admin_user, tenants=[tenant(1)], reconnect=True)
    add_organisation(rsps)
    add_revoke(rsps)
    add_delete(rsps)
    assert services.connection_complete(pending=pending, actor=admin_user, tenant_id="tenant-1").tenant_id == "tenant-1"


# --- cancel on the choose page ----------------------------------------------------------


def test_cancel_after_consent_removes_the_connections_it_made(org, admin_user, rsps):
    pending = callback(rsps, org, admin_user, tenants=[tenant(1), tenant(2)])
    add_delete(rsps)
    services.pending_discard(pending=pending, actor=admin_user)
    assert len(calls_to(rsps, "DELETE", "/connections/")) == 2
    assert not XeroConnection.objects.exists()
    pending.refresh_from_db()
    assert pending.completed_at and not pending.access_token_encrypted


# --- disconnect -----------------------------------------------------------------------------


def test_disconnect_deletes_and_revokes_at_xero_and_keeps_history(org, admin_user, rsps):
    connection = factories.make_connection(org, xero_connection_id="00000000-0000-4000-8000-000000000007", refresh_token="refresh-7")
    add_delete(rsps)
    add_revoke(rsps)
    services.connection_disconnect(organisation=org, actor=admin_user)
    assert presentation(current_connection(organisation=org)).words == "Not connected to Xero"
    assert calls_to(rsps, "DELETE", "/connections/00000000-0000-4000-8000-000000000007")
    assert form(calls_to(rsps, "POST", "/revocation")[0])["token"] == "refresh-7"
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.DISCONNECTED and not connection.has_tokens
    event = ConnectionEvent.objects.get(connection=connection, transition="disconnect")
    assert event.actor == admin_user and event.details == {"connection_deleted": "done", "authorisation_revoked": "done"}


def test_disconnect_still_happens_when_xero_is_down_and_says_so(org, admin_user, rsps):
    factories.make_connection(org, xero_connection_id="00000000-0000-4000-8000-000000000007")
    add_delete(rsps, status=503)
    add_revoke(rsps, status=503)
    connection = services.connection_disconnect(organisation=org, actor=admin_user)
    assert current_connection(organisation=org) is None
    event = ConnectionEvent.objects.get(connection=connection, transition="disconnect")
    assert event.details["connection_deleted"].startswith("failed")


def test_member_cannot_disconnect(org, member_user):
    factories.make_connection(org)
    with pytest.raises(AdminRequired):
        services.connection_disconnect(organisation=org, actor=member_user)
    assert current_connection(organisation=org) is not None


# --- keep alive -------------------------------------------------------------------------


def test_keep_alive_refreshes_only_refresh_tokens_older_than_the_threshold(org, other_org, rsps, settings):
    settings.XERO_REFRESH_KEEP_ALIVE_DAYS = 20
    old = factories.make_connection(org, refresh_token="old-rt")
    young = factories.make_connection(other_org, refresh_token="young-rt")
    XeroConnection.objects.filter(pk=old.pk).update(refresh_token_issued_at=timezone.now() - timedelta(days=25))
    XeroConnection.objects.filter(pk=young.pk).update(refresh_token_issued_at=timezone.now() - timedelta(days=5))
    add_token(rsps, token_body(refresh="rotated-rt"))
    assert services.connections_keep_alive() == 1
    assert [form(c)["refresh_token"] for c in calls_to(rsps, "POST", "/token")] == ["old-rt"]
    old.refresh_from_db()
    assert old.get_refresh_token() == "rotated-rt" and old.refresh_token_issued_at > timezone.now() - timedelta(
        minutes=1)
