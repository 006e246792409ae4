"""Drift against the sandbox over real HTTP (live_server, django-q2 synchronous): Xero's webhook
is signed and delivered by the sandbox after its intent-to-receive check, the product's worker
looks the document up through the API, and the ledger says what happened in Xero. The same
changes are found without webhooks by the reconciliation run, with the calls it spent."""
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import xero_live
from tests.e2e.test_export_sandbox import kowhai, xero  # noqa: F401  (organisation; sandbox, fast waits)
from xero_connect.models import (DocumentType, ExportRecord, ExportState, ReconciliationRun, TaxRate,
                                 XeroDrift, XeroWebhookEvent)
from xero_connect.services import drift, exports
from xero_connect.services.documents import LineSpec, document_create

sandbox = pytest.importorskip("xero_sandbox.services")
KOWHAI = "!kWh4R"
KEY = "test-webhook-key-0123456789"


@pytest.fixture
def hooked(kowhai, xero, settings, live_server):
    """The export tests' organisation (Admin Alice) connected to the sandbox, with a webhook key
    the sandbox signs with and the product checks."""
    org, admin = kowhai
    settings.XERO_WEBHOOK_KEY = KEY
    settings.XERO_SANDBOX_WEBHOOK_URL = ""  # the product's /xero/webhooks/ on SITE_URL (live_server)
    # The live server's thread must not run django-q2's synchronous worker (it closes the
    # test's shared database connection): each test runs the worker cycle itself.
    settings.XERO_WEBHOOK_WORKER_ON_RECEIPT = False
    xero_live.connect(org, admin, KOWHAI)
    TaxRate.objects.update_or_create(organisation=org, tax_type="OUTPUT2", defaults={
        "name": "15% GST on Income", "effective_rate": Decimal("15"), "status": "ACTIVE"})
    return org, admin


def sale(org, number, unit="100.00"):
    return document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=number,
                           date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Cuba Street Café",
                           lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal(unit),
                                           account_code="200", tax_type="OUTPUT2")])


def worker_cycle():
    from xero_connect.tasks.drift import webhook_events_process

    return webhook_events_process()


def export(org, admin, doc):
    exports.exports_enqueue(records=ExportRecord.objects.filter(document=doc), actor=admin)
    exports.exports_drain(organisation_id=org.pk, max_seconds=20)
    record = ExportRecord.objects.get(document=doc)
    assert record.state == ExportState.EXPORTED
    return record


def test_the_sandbox_passes_the_intent_to_receive_check_only_against_a_receiver_with_the_same_key(hooked,
                                                                                                  settings):
    assert sandbox.webhook_configure(url="", key="")["verified"] is True
    settings.XERO_WEBHOOK_KEY = "another-key"  # the product no longer has the sandbox app's key
    result = sandbox.webhook_configure(url=f"{settings.SITE_URL}/xero/webhooks/", key=KEY)
    assert result["verified"] is False
    assert XeroWebhookEvent.objects.count() == 0


def test_void_in_xero_sends_a_webhook_and_the_ledger_shows_voided_in_xero(hooked, client):
    org, admin = hooked
    record = export(org, admin, sale(org, "KC-V1"))
    assert record.xero_drift == ""

    sandbox.webhooks_flush()  # Xero's CREATE event for the export itself
    worker_cycle()
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.AS_SENT

    sandbox.document_set_status(tenant=KOWHAI, document_id=record.xero_id, action="void")
    assert sandbox.webhooks_flush() == [200]
    assert worker_cycle()["drift_changed"] == 1  # one worker cycle

    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED and record.xero_status == "VOIDED"
    events = list(XeroWebhookEvent.objects.values_list("event_category", "event_type", "resource_id", "outcome"))
    assert events == [("INVOICE", "CREATE", record.xero_id, "applied"), ("INVOICE", "UPDATE", record.xero_id, "applied")]
    client.force_login(admin)
    html = client.get(reverse("exports_page", args=[org.slug]) + "?drift=changed").content.decode()
    assert "Voided in Xero" in html and "KC-V1" in html


def test_an_amount_edited_in_xero_shows_changed_with_before_and_after(hooked, client):
    org, admin = hooked
    record = export(org, admin, sale(org, "KC-A1", unit="100.00"))
    assert record.xero_total == Decimal("115.00")

    sandbox.document_set_amount(tenant=KOWHAI, document_id=record.xero_id, unit_amount="80")
    sandbox.webhooks_flush()
    worker_cycle()

    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.CHANGED
    assert (record.drift_total_before, record.drift_total_after) == (Decimal("115.00"), Decimal("92.00"))
    client.force_login(admin)
    html = client.get(reverse("exports_page", args=[org.slug])).content.decode()
    assert "Changed in Xero" in html and "Total 115.00 when sent, 92.00 in Xero now" in html


def test_without_webhooks_the_reconciliation_run_finds_the_same_with_its_calls_counted(hooked, settings):
    org, admin = hooked
    settings.XERO_WEBHOOK_KEY = ""  # no webhooks: the sandbox's handshake fails, nothing is delivered
    voided = export(org, admin, sale(org, "KC-R1"))
    edited = export(org, admin, sale(org, "KC-R2"))
    untouched = export(org, admin, sale(org, "KC-R3"))

    first = drift.reconcile_organisation(organisation=org, trigger="test")
    assert first.ok and first.changed == 3  # first look: all three seen as sent
    assert first.calls == 2  # one page of invoices, one of credit notes
    assert XeroWebhookEvent.objects.count() == 0

    quiet = drift.reconcile_organisation(organisation=org, trigger="test")
    assert quiet.ok and quiet.calls == 2 and quiet.changed == 0  # nothing changed: a constant two calls

    sandbox.document_set_status(tenant=KOWHAI, document_id=voided.xero_id, action="void")
    sandbox.document_set_amount(tenant=KOWHAI, document_id=edited.xero_id, unit_amount="50")
    assert sandbox.webhooks_flush() == []  # no webhook key: Xero has nowhere to send events
    run = drift.reconcile_organisation(organisation=org, trigger="test")

    # seen may include the third: runs overlap by a second (Xero compares to the second)
    assert run.ok and run.calls == 2 and run.changed == 2 and run.seen >= 2
    states = dict(ExportRecord.objects.filter(pk__in=[voided.pk, edited.pk, untouched.pk])
                  .values_list("document__number", "xero_drift"))
    assert states == {"KC-R1": XeroDrift.VOIDED, "KC-R2": XeroDrift.CHANGED, "KC-R3": XeroDrift.AS_SENT}
    assert ReconciliationRun.objects.filter(organisation=org, ok=True).count() == 3


def test_reexport_as_new_after_a_void_gives_two_documents_in_xero_and_a_true_ledger(hooked, client):
    org, admin = hooked
    record = export(org, admin, sale(org, "KC-N1"))
    sandbox.document_set_status(tenant=KOWHAI, document_id=record.xero_id, action="void")
    sandbox.webhooks_flush()
    worker_cycle()
    client.force_login(admin)

    response = client.post(reverse("exports_drift_action", args=[org.slug, record.pk]),
                           {"action": "reexport", "suffix": "-R1"})

    assert response.status_code == 302
    exports.exports_drain(organisation_id=org.pk, max_seconds=20)
    record.refresh_from_db()
    new = record.replaced_by
    assert new is not None and new.state == ExportState.EXPORTED and new.document.number == "KC-N1-R1"
    assert new.xero_id != record.xero_id
    assert sandbox.document_find(tenant=KOWHAI, document_id=record.xero_id)["Status"] == "VOIDED"
    assert sandbox.document_find(tenant=KOWHAI, document_id=new.xero_id)["Status"] == "AUTHORISED"
    assert record.xero_drift == XeroDrift.VOIDED  # the old row still tells the truth


def test_a_contact_added_in_xero_arrives_in_the_lists_by_its_webhook_alone(hooked):
    from xero_connect.models import Contact

    org, admin = hooked
    added = sandbox.add_contact(tenant=KOWHAI, name="Aro Valley Deli", is_customer=True)
    assert sandbox.webhooks_flush() == [200]
    assert worker_cycle()["calls"] == 1  # /Contacts?IDs=<that ContactID>, not the whole list
    contact = Contact.objects.get(organisation=org, xero_id=added["ContactID"])
    assert contact.name == "Aro Valley Deli" and contact.tenant_id == str(sandbox.organisation_get(KOWHAI).tenant_id)


def test_a_void_in_xero_reaches_the_host_once_signed_and_the_api_says_voided_in_xero(hooked, client):
    """The host's side: one signed `document.changed_in_xero` per change, whatever Xero repeats."""
    import json as _json
    from datetime import timedelta

    from standardwebhooks.webhooks import Webhook

    from tests.api.conftest import client_for, make_key
    from tests.services.test_webhooks_out import Listener
    from xero_connect.models import WebhookDelivery, XeroConnection
    from xero_connect.services import webhooks_out

    org, admin = hooked
    org.external_id = "cust-kowhai"
    org.save()
    host = Listener()
    try:
        endpoint, secret = webhooks_out.endpoint_create(organisation=org, actor=admin, url=host.url)
        record = export(org, admin, sale(org, "KC-H1"))
        sandbox.webhooks_flush()
        worker_cycle()  # first look: as sent, no news

        sandbox.document_set_status(tenant=KOWHAI, document_id=record.xero_id, action="void")
        assert sandbox.webhooks_flush() == [200]
        worker_cycle()
        # Xero repeats itself: the same delivery again, and a later event for the unchanged document.
        tenant = XeroConnection.objects.get(organisation=org, is_current=True).tenant_id
        again = [{"resourceUrl": "", "resourceId": record.xero_id, "tenantId": tenant, "tenantType": "ORGANISATION",
                  "eventCategory": "INVOICE", "eventType": "UPDATE",
                  "eventDateUtc": (timezone.now() + timedelta(seconds=n)).isoformat()[:23]}
                 for n in (1, 2)]
        for event in again:
            body = _json.dumps({"events": [event], "firstEventSequence": 9, "lastEventSequence": 9,
                                "entropy": "X"}).encode()
            for _ in range(2):
                assert client.generic("POST", "/xero/webhooks/", body, content_type="application/json",
                                      HTTP_X_XERO_SIGNATURE=drift.sign(body, KEY)).status_code == 200
        assert worker_cycle()["calls"] >= 1  # looked up again, found unchanged
        webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint.pk)

        events = [Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
                  for headers, body in host.received]
        changed = [e for e in events if e["type"] == "document.changed_in_xero"]
        assert len(changed) == 1
        assert WebhookDelivery.objects.filter(event_type="document.changed_in_xero").count() == 1
        data = changed[0]["data"]
        assert data["organisation"]["external_id"] == "cust-kowhai"
        assert (data["document"]["type"], data["document"]["number"]) == ("sales_invoice", "KC-H1")
        assert (data["in_xero"]["before"]["state"], data["in_xero"]["after"]["state"]) == ("as_sent", "voided")
        assert data["in_xero"]["after"]["state_words"] == "Voided in Xero"
        assert data["in_xero"]["after"]["xero_status"] == "VOIDED"
    finally:
        host.close()

    api = client_for(make_key(organisation=org)[1])
    shown = api.get(f"/api/v1/organisations/{org.slug}/documents/{record.document_id}/").json()["in_xero"]
    assert (shown["state"], shown["state_words"], shown["xero_status"]) == ("voided", "Voided in Xero", "VOIDED")
