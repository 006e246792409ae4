"""Connection pages as a person clicks them (Xero faked at the HTTP seam)."""
import html
from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from tests import factories
from tests.fakes import (add_connections, add_delete, add_organisation, add_revoke,
                                                   add_token, calls_to, tenant)
from xero_connect.models import (ConnectionStatus, DocumentType, ExportRecord, ExportState, PendingAuthorisation,
                                 Role, SourceDocument, XeroConnection)


def press_connect(client, org, name="connection_start"):
    response = client.post(reverse(name, args=[org.slug]))
    assert response.status_code == 302
    return parse_qs(urlparse(response["Location"]).query)["state"][0]


def callback(client, **params):
    return client.get(reverse("xero_oauth_callback"), params)


def test_connect_choose_confirm_finish(admin_client, org, rsps):
    state = press_connect(admin_client, org)
    add_token(rsps)
    add_connections(rsps, [tenant(1, name="Acme NZ"), tenant(2, name="Acme AU")])
    response = callback(admin_client, state=state, code="c")
    pending = PendingAuthorisation.objects.get()
    assert response["Location"] == reverse("connection_choose", args=[org.slug, pending.pk])

    page = admin_client.get(response["Location"]).content.decode()
    assert "Acme NZ" in page and "Acme AU" in page and "Next" in page
    assert admin_client.post(response["Location"], {}).status_code == 400  # nothing selected
    response = admin_client.post(reverse("connection_choose", args=[org.slug, pending.pk]), {"tenant_id": "tenant-2"})
    assert response["Location"] == reverse("connection_confirm", args=[org.slug, pending.pk])

    page = admin_client.get(response["Location"]).content.decode()
    assert "Acme AU" in page and "Finish" in page
    add_organisation(rsps)
    add_delete(rsps)
    finish = reverse("connection_confirm", args=[org.slug, pending.pk])
    response = admin_client.post(finish, {"tenant_id": "tenant-2"}, follow=True)
    body = response.content.decode()
    assert "Your organisation is connected" in body and 'id="xero-status"' in body
    assert XeroConnection.objects.get(organisation=org).status == ConnectionStatus.CONNECTED
    # A double click on Finish: same connection, no error.
    again = admin_client.post(finish, {"tenant_id": "tenant-2"})
    assert again.status_code == 302 and XeroConnection.objects.filter(organisation=org).count() == 1
    # Later, after a Disconnect, Back to this page and Finish again: nothing is connected, and
    # the page must not say it is.
    from xero_connect import connection_states
    admin_client.get(reverse("connection_page", args=[org.slug]))  # shows (and clears) the double click's message
    connection_states.disconnect(XeroConnection.objects.get(organisation=org))
    late = admin_client.post(finish, {"tenant_id": "tenant-2"}, follow=True).content.decode()
    assert "Your organisation is connected" not in late and "This sign-in was already finished." in late
    assert not XeroConnection.objects.filter(organisation=org, is_current=True).exists()


def test_one_organisation_still_gets_a_confirmation_naming_it(admin_client, org, rsps):
    state = press_connect(admin_client, org)
    add_token(rsps)
    add_connections(rsps, [tenant(1, name="Only Org Ltd")])
    response = callback(admin_client, state=state, code="c")
    assert "/confirm/" in response["Location"]
    assert "Only Org Ltd" in admin_client.get(response["Location"]).content.decode()


def test_cancel_at_xero_shows_a_calm_page_with_try_again(admin_client, org):
    state = press_connect(admin_client, org)
    response = callback(admin_client, state=state, error="access_denied")
    body = response.content.decode()
    assert response.status_code == 200
    assert "You cancelled the sign-in to Xero" in body and "Try again" in body
    assert reverse("connection_start", args=[org.slug]) in body


@pytest.mark.parametrize("params", [{"state": "tampered", "code": "c"}, {"code": "c"}])
def test_unknown_state_shows_the_session_timeout_page_not_a_stack_trace(admin_client, org, params, rsps):
    press_connect(admin_client, org)
    response = callback(admin_client, **params)
    body = response.content.decode()
    assert response.status_code == 400
    assert "Your sign-in session timed out" in body and "Start again" in body and "Traceback" not in body
    assert not rsps.calls


def test_expired_state_offers_start_again_for_the_organisation(admin_client, org, settings):
    settings.XERO_OAUTH_STATE_TTL = -1
    state = press_connect(admin_client, org)
    body = callback(admin_client, state=state, code="c").content.decode()
    assert "Your sign-in session timed out" in body and reverse("connection_start", args=[org.slug]) in body


def test_another_users_sign_in_is_refused(client, org, admin_user):
    other = factories.make_user("ann", first_name="Ann")
    factories.add_member(org, other, Role.ADMIN)
    client.force_login(admin_user)
    state = press_connect(client, org)
    session_states = client.session["xero_oauth_states"]
    client.force_login(other)  # same browser, someone else signed in, the old state smuggled along
    session = client.session
    session["xero_oauth_states"] = session_states
    session.save()
    response = callback(client, state=state, code="c")
    assert response.status_code == 403 and "isn't yours" in html.unescape(response.content.decode())


def test_reused_code_page(admin_client, org, rsps):
    state = press_connect(admin_client, org)
    add_token(rsps, {"error": "invalid_grant"}, status=400)
    response = callback(admin_client, state=state, code="used")
    assert response.status_code == 400 and "already used or has expired" in response.content.decode()


def test_member_pressing_connect_or_reconnect_gets_403_naming_admins(member_client, org, admin_user):
    factories.make_connection(org)
    for name in ("connection_start", "connection_reconnect", "connection_disconnect"):
        response = member_client.post(reverse(name, args=[org.slug]))
        assert response.status_code == 403 and "Alice Admin" in response.content.decode()


def test_pending_sign_in_of_another_organisation_is_404(admin_client, org, other_org, outsider, rsps, client):
    pending = PendingAuthorisation.objects.create(organisation=other_org, user=outsider, tenants=[tenant(1)],
                                                  expires_at="2999-01-01T00:00:00Z")
    assert admin_client.get(reverse("connection_confirm", args=[org.slug, pending.pk])).status_code == 404
    assert admin_client.get(reverse("connection_confirm", args=[other_org.slug, pending.pk])).status_code == 404


def test_switch_page_explains_and_needs_the_checkbox(admin_client, org, rsps):
    factories.make_connection(org, tenant_id="tenant-9", tenant_name="Old Books Ltd", xero_connection_id="00000000-0000-4000-8000-000000000009")
    doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.BILL, number="B-1", date=date(2026, 1, 1))
    ExportRecord.objects.create(organisation=org, document=doc, doc_type=doc.doc_type, doc_date=doc.date,
                                state=ExportState.EXPORTED, tenant_id="tenant-9")
    state = press_connect(admin_client, org, "connection_reconnect")
    add_token(rsps)
    add_connections(rsps, [tenant(1, name="New Books Ltd")])
    confirm = callback(admin_client, state=state, code="c")["Location"]
    body = admin_client.get(confirm).content.decode()
    assert "Switch Xero organisation?" in body and "stay in Old Books Ltd" in body and "confirm_switch" in body
    add_organisation(rsps)
    add_revoke(rsps)
    add_delete(rsps)
    refused = admin_client.post(confirm, {"tenant_id": "tenant-1"})
    assert refused.status_code == 400 and "Tick the box" in refused.content.decode()
    assert XeroConnection.objects.get(organisation=org, is_current=True).tenant_id == "tenant-9"
    admin_client.post(confirm, {"tenant_id": "tenant-1", "confirm_switch": "1"})
    assert XeroConnection.objects.get(organisation=org, is_current=True).tenant_id == "tenant-1"


def test_disconnect_asks_first_then_shows_not_connected_and_keeps_history(admin_client, org, rsps):
    factories.make_connection(org, tenant_name="Acme NZ")
    page = admin_client.get(reverse("connection_disconnect", args=[org.slug])).content.decode()
    assert "Disconnect Acme Widgets from Xero?" in page
    add_delete(rsps)
    add_revoke(rsps)
    body = admin_client.post(reverse("connection_disconnect", args=[org.slug]), follow=True).content.decode()
    assert "Not connected to Xero" in body and "Connected → Disconnected" in body
    assert calls_to(rsps, "DELETE", "/connections/")


def test_diagnose_for_a_member_says_whom_to_ask(member_client, org, admin_user):
    body = member_client.post(reverse("connection_diagnose", args=[org.slug])).content.decode()
    assert 'data-situation="not_connected"' in body and "Ask Alice Admin" in body


def test_connection_page_shows_status_and_history(member_client, org, admin_user):
    factories.make_connection(org, actor=admin_user, tenant_name="Acme NZ", status="needs_reconnect")
    body = member_client.get(reverse("connection_page", args=[org.slug])).content.decode()
    assert "Needs reconnect" in body and "Connected → Needs reconnect" in body and "Alice Admin" in body
    assert "Reconnect</button>" not in body and "Ask Alice Admin" in body


def test_reconnect_link_from_the_email_opens_a_page_with_the_button(admin_client, org):
    factories.make_connection(org, status="needs_reconnect")
    body = admin_client.get(reverse("connection_reconnect", args=[org.slug])).content.decode()
    assert "Reconnect Acme Widgets to Xero" in body and "clears the previous authorisation" in body


def test_a_check_of_the_previous_connection_is_not_shown_after_a_reconnect(member_client, org, admin_user):
    from xero_connect import connection_states
    old = factories.make_connection(org, actor=admin_user, status="removed_in_xero")
    connection_states.record_check(organisation=org, connection=old, reason="Health check: The app was disconnected "
                                   "in Xero", outcome="problem")
    connection_states.replace(old, actor=admin_user)
    factories.make_connection(org, actor=admin_user, tenant_name="Acme NZ")
    for page in ("connection_diagnose", "connection_page"):
        body = member_client.get(reverse(page, args=[org.slug])).content.decode()
        assert '<p class="muted">Last check' not in body, page  # (the history still lists it)
    assert "The app was disconnected in Xero" not in member_client.get(
        reverse("connection_diagnose", args=[org.slug])).content.decode()
