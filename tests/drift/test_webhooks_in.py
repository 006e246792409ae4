"""The webhook receiver and its worker at the HTTP seam (responses for Xero): Xero's signature
rule, the intent-to-receive answers, events stored once whatever the order and repetition,
other tenants' events never touching our organisations, and exactly the named documents and
contacts read again."""
import json
import re
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from tests import factories
from xero_connect.models import (
    Contact,
    DocumentType,
    ExportRecord,
    ExportState,
    Role,
    XeroDrift,
    XeroWebhookEvent,
)
from xero_connect.services import drift
from xero_connect.services.documents import LineSpec, document_create

KEY = "the-webhook-key-from-xeros-developer-portal"
TENANT = "aef86862-2015-4b6b-88bc-d89032cecc50"
OTHER_TENANT = "0c1f2a3b-0000-4000-8000-00000000beef"
INVOICE_ID = "55d84274-a3da-4829-a7c0-0cab601b95cc"
API = settings.XERO_API_URL.rstrip("/")
URL = "/xero/webhooks/"


@pytest.fixture(autouse=True)
def webhook_settings():
    with override_settings(XERO_WEBHOOK_KEY=KEY, XERO_LIMIT_MINUTE_SECONDS=0.3):
        yield


def event(resource_id=INVOICE_ID, *, category="INVOICE", tenant=TENANT, when="2026-11-29T22:10:01.123",
          kind="UPDATE"):
    return {"resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource_id}", "resourceId": resource_id,
            "tenantId": tenant, "tenantType": "ORGANISATION", "eventCategory": category, "eventType": kind,
            "eventDateUtc": when}


def body_of(*events, sequence=1) -> bytes:
    return json.dumps({"events": list(events), "firstEventSequence": sequence, "lastEventSequence": sequence,
                       "entropy": "FXNGWLCCGVANWHKILRUB"}).encode()


def deliver(client, body: bytes, *, key=KEY, signature=None):
    sig = signature if signature is not None else drift.sign(body, key)
    return client.generic("POST", URL, body, content_type="application/json", HTTP_X_XERO_SIGNATURE=sig)


@pytest.fixture
def exported(db):
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai")
    factories.make_connection(org, tenant_id=TENANT)
    doc = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-1",
                          date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Cuba Street Café",
                          lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("100"),
                                          account_code="200", tax_type="OUTPUT2")])
    record = ExportRecord.objects.get(document=doc)
    ExportRecord.objects.filter(pk=record.pk).update(state=ExportState.EXPORTED, xero_id=INVOICE_ID, tenant_id=TENANT,
                                                     xero_total=Decimal("115.00"), exported_at=timezone.now())
    record.refresh_from_db()
    return org, record


def xero_invoice(status="AUTHORISED", total="115.00", paid="0.00", updated_ms=1764454201000):
    return {"InvoiceID": INVOICE_ID, "InvoiceNumber": "INV-1", "Type": "ACCREC", "Status": status,
            "Total": float(total), "AmountPaid": float(paid), "AmountDue": float(Decimal(total) - Decimal(paid)),
            "UpdatedDateUTC": f"/Date({updated_ms}+0000)/"}


def answer_invoices(rsps, *elements, seen=None):
    def callback(request):
        if seen is not None:
            seen.append(request.url)
        return 200, {}, json.dumps({"Invoices": list(elements)})
    rsps.add_callback("GET", re.compile(rf"{re.escape(API)}/Invoices\?.*"), callback=callback)


# --- the receiver -------------------------------------------------------------------------------

def test_a_bad_signature_is_401_and_nothing_is_stored(client, exported):
    body = body_of(event())
    assert deliver(client, body, key="not-the-key").status_code == 401
    assert deliver(client, body, signature="").status_code == 401
    tampered = body.replace(b"UPDATE", b"CREATE")
    assert deliver(client, tampered, signature=drift.sign(body, KEY)).status_code == 401
    assert XeroWebhookEvent.objects.count() == 0


def test_the_intent_to_receive_handshake_gets_200_empty_then_401(client, db):
    handshake = body_of(sequence=0)  # Xero's check: no events
    good = deliver(client, handshake)
    assert good.status_code == 200 and good.content == b"" and not good.cookies
    assert deliver(client, handshake, key="wrong").status_code == 401


def test_without_a_configured_key_every_delivery_is_refused(client, exported):
    with override_settings(XERO_WEBHOOK_KEY=""):
        assert deliver(client, body_of(event()), key="").status_code == 401
    assert XeroWebhookEvent.objects.count() == 0


def test_the_receiver_needs_no_csrf_token_and_refuses_an_oversized_body(exported):
    client = Client(enforce_csrf_checks=True)
    assert deliver(client, body_of(event())).status_code == 200
    with override_settings(XERO_WEBHOOK_MAX_BYTES=100):
        assert deliver(client, body_of(event(when="2026-11-29T23:00:00"))).status_code == 413
    assert XeroWebhookEvent.objects.count() == 1
    assert client.get(URL).status_code == 405


def test_a_signed_body_that_is_not_xeros_shape_gets_200_and_stores_nothing(client, exported):
    # Xero: 200 for every correctly signed payload (else it retries for 24 h and disables the hook)
    for raw in (b"not json", b"[]", json.dumps({"events": [{"resourceId": 5}]}).encode(),
                json.dumps({"events": [{**event(), "eventDateUtc": "yesterday"}]}).encode()):
        response = deliver(client, raw)
        assert response.status_code == 200 and response.content == b"" and not response.cookies
        assert deliver(client, raw, key="wrong").status_code == 401
    assert XeroWebhookEvent.objects.count() == 0


def test_events_are_stored_once_and_the_worker_is_queued_after_commit(client, exported,
                                                                      django_capture_on_commit_callbacks):
    org, record = exported
    body = body_of(event(), event(when="2026-11-29T22:09:00"))
    with responses.RequestsMock() as rsps:
        answer_invoices(rsps, xero_invoice(status="VOIDED"))
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert deliver(client, body).status_code == 200
        assert len(callbacks) == 1  # one worker run queued (django-q2 runs it synchronously in tests)
    assert XeroWebhookEvent.objects.count() == 2
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED
    assert deliver(client, body).status_code == 200  # Xero retrying the same delivery
    assert XeroWebhookEvent.objects.count() == 2


# --- the worker ----------------------------------------------------------------------------------

def test_duplicate_and_out_of_order_events_change_nothing_twice(client, exported):
    org, record = exported
    with override_settings(XERO_WEBHOOK_WORKER_ON_RECEIPT=False):
        deliver(client, body_of(event(when="2026-11-29T22:10:05")))
        deliver(client, body_of(event(when="2026-11-29T22:10:01")))  # older, arriving later
        deliver(client, body_of(event(when="2026-11-29T22:10:05")))  # the first again
    assert XeroWebhookEvent.objects.count() == 2
    seen = []
    with responses.RequestsMock() as rsps:
        answer_invoices(rsps, xero_invoice(status="VOIDED", updated_ms=1764454205000), seen=seen)
        result = drift.webhook_events_process()
    assert len(seen) == 1 and f"IDs={INVOICE_ID}" in seen[0]  # both events: one look-up of that one invoice
    assert result.drift_changed == 1
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED
    assert drift.webhook_events_process().events == 0  # nothing left to do twice

    # An answer older than the one applied (a slow look-up finishing late) never overwrites it.
    assert drift.document_drift_apply(record, xero_invoice(status="AUTHORISED", updated_ms=1764454100000)) is False
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED


def test_other_tenants_events_never_touch_our_organisations(client, exported):
    org, record = exported
    other = factories.make_organisation("Someone Else", slug="else")
    factories.make_connection(other, tenant_id=OTHER_TENANT)
    with override_settings(XERO_WEBHOOK_WORKER_ON_RECEIPT=False):
        # the same invoice id, but in another Xero organisation; and a tenant nobody connected
        deliver(client, body_of(event(tenant=OTHER_TENANT), event(tenant="99999999-0000-4000-8000-000000000000")))
    assert list(XeroWebhookEvent.objects.values_list("tenant_id", flat=True)) == [OTHER_TENANT]
    with responses.RequestsMock() as rsps:  # no call may be made: no exported document of that tenant
        result = drift.webhook_events_process()
    assert result.calls == 0 and result.not_ours == 1
    record.refresh_from_db()
    assert record.xero_drift == ""


def test_contact_events_refresh_just_those_contacts_by_contact_id(client, exported):
    org, record = exported
    contact_id = "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777"
    Contact.objects.create(organisation=org, tenant_id=TENANT, xero_id=contact_id, name="Cuba St Cafe",
                           is_active=True, first_seen_at=timezone.now(), last_seen_at=timezone.now())
    with override_settings(XERO_WEBHOOK_WORKER_ON_RECEIPT=False):
        deliver(client, body_of(event(contact_id, category="CONTACT")))
    seen = []

    def contacts(request):
        seen.append(request.url)
        return 200, {}, json.dumps({"Contacts": [{"ContactID": contact_id, "Name": "Cuba Street Café",
                                                  "ContactStatus": "ARCHIVED", "IsCustomer": True}]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback("GET", re.compile(rf"{re.escape(API)}/Contacts\?.*"), callback=contacts)
        result = drift.webhook_events_process()
    assert len(seen) == 1 and f"IDs={contact_id}" in seen[0] and "includeArchived=true" in seen[0]
    assert result.contacts == 1
    contact = Contact.objects.get(organisation=org, xero_id=contact_id)
    assert (contact.name, contact.status, contact.is_active) == ("Cuba Street Café", "ARCHIVED", False)


def test_when_xero_does_not_answer_the_events_wait_for_the_next_cycle(client, exported):
    with override_settings(XERO_WEBHOOK_WORKER_ON_RECEIPT=False):
        deliver(client, body_of(event()))
    with responses.RequestsMock() as rsps:
        rsps.add("GET", re.compile(rf"{re.escape(API)}/Invoices\?.*"), body="The Xero API is currently offline",
                 status=503)
        result = drift.webhook_events_process()
    assert result.failed == 1 and result.left == 1
    with responses.RequestsMock() as rsps:
        answer_invoices(rsps, xero_invoice(paid="115.00", status="PAID"))
        assert drift.webhook_events_process().left == 0
    record = ExportRecord.objects.get(xero_id=INVOICE_ID)
    assert record.xero_drift == XeroDrift.PAID
    assert (record.xero_amount_paid, record.xero_amount_due) == (Decimal("115.00"), Decimal("0.00"))


# --- the explicit actions ----------------------------------------------------------------------------

def test_accept_xeros_version_records_the_change_and_stops_flagging(exported, admin_client, org):
    exported_org, record = exported
    drift.document_drift_apply(record, xero_invoice(total="92.00"))
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.CHANGED
    admin = factories.make_user("boss", first_name="Bo", last_name="Boss")
    factories.add_member(exported_org, admin, Role.ADMIN)
    drift.drift_accept(record=record, actor=admin)
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.AS_SENT and record.accepted_total == Decimal("92.00")
    assert "Changed in Xero (Total 115.00 → 92.00); accepted by Bo Boss" in record.drift_note
    # The same document seen again is not flagged; a further change is.
    assert drift.document_drift_apply(record, xero_invoice(total="92.00", updated_ms=1764454300000)) is False
    drift.document_drift_apply(record, xero_invoice(total="90.00", updated_ms=1764454400000))
    assert record.xero_drift == XeroDrift.CHANGED and record.drift_total_before == Decimal("92.00")
    # Exported again (an update sending 90.00): what was sent now is the baseline, not the acceptance.
    record.exported_at, record.xero_total = timezone.now(), Decimal("90.00")
    record.save()
    drift.document_drift_apply(record, xero_invoice(total="90.00", updated_ms=1764454500000))
    assert record.xero_drift == XeroDrift.AS_SENT


def test_drift_actions_are_admin_only_and_scoped_to_the_organisation(exported, client):
    org, record = exported
    drift.document_drift_apply(record, xero_invoice(status="VOIDED"))
    member = factories.make_user("mo", first_name="Mo", last_name="Member")
    factories.add_member(org, member)
    admin = factories.make_user("al", first_name="Al", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    url = f"/o/{org.slug}/exports/items/{record.pk}/xero-changes/"
    client.force_login(member)
    assert client.post(url, {"action": "accept"}).status_code == 403
    page = client.get(f"/o/{org.slug}/exports/items/{record.pk}/").content.decode()
    assert "Voided in Xero" in page and "Al Admin" in page and "Accept Xero" not in page
    outsider_org = factories.make_organisation("Other", slug="other")
    factories.add_member(outsider_org, admin, Role.ADMIN)
    client.force_login(admin)
    assert client.post(f"/o/other/exports/items/{record.pk}/xero-changes/", {"action": "accept"}).status_code == 404
    response = client.post(url, {"action": "reexport", "suffix": ""})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.replaced_by is None  # an empty suffix is refused, nothing queued
