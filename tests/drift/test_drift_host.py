"""Drift told to the host (#16b): the `document.changed_in_xero` webhook, sent once per change
whatever Xero repeats, signed and verified as the host verifies it; and the API's documents
carrying their state in Xero with a filter like Export Data's."""
import json
from decimal import Decimal

import pytest
from standardwebhooks.webhooks import Webhook

from tests import factories
from tests.api.conftest import client_for, make_key
from tests.drift.test_webhooks_in import INVOICE_ID, exported, webhook_settings, xero_invoice  # noqa: F401
from tests.services.test_webhooks_out import Listener
from xero_connect.models import ExportRecord, Role, WebhookDelivery, XeroDrift
from xero_connect.services import drift, webhooks_out

CHANGED = "document.changed_in_xero"


@pytest.fixture
def host():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def hooked_host(exported, host):
    """The exported invoice's organisation, known to the host as cust-42, with an endpoint
    listening to every event."""
    org, record = exported
    org.external_id = "cust-42"
    org.save()
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    endpoint, secret = webhooks_out.endpoint_create(organisation=org, actor=admin, url=host.url)
    return org, record, endpoint, secret, admin


def changed_events(host, secret) -> list[dict]:
    """Every `document.changed_in_xero` the host got, each verified with standardwebhooks."""
    events = [Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
              for headers, body in host.received]
    return [e for e in events if e["type"] == CHANGED]


def test_an_amount_changed_in_xero_reaches_the_host_once_with_before_and_after(hooked_host, host):
    org, record, endpoint, secret, _ = hooked_host
    assert drift.document_drift_apply(record, xero_invoice(updated_ms=1764454201000)) is True  # first look
    assert WebhookDelivery.objects.count() == 0  # as sent: no news for the host

    drift.document_drift_apply(record, xero_invoice(total="92.00", updated_ms=1764454300000))
    drift.document_drift_apply(record, xero_invoice(total="92.00", updated_ms=1764454300000))  # Xero repeats
    drift.document_drift_apply(record, xero_invoice(total="115.00", updated_ms=1764454250000))  # older, late
    assert webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint.pk) == 1

    [event] = changed_events(host, secret)
    data = event["data"]
    assert data["organisation"]["external_id"] == "cust-42"
    assert data["document"] == {"id": record.document_id, "type": "sales_invoice", "number": "INV-1",
                                "xero_id": INVOICE_ID}
    before, after = data["in_xero"]["before"], data["in_xero"]["after"]
    assert (before["state"], before["total"]) == ("as_sent", "115.00")
    assert (after["state"], after["state_words"], after["total"]) == ("changed", "Changed in Xero", "92.00")
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.CHANGED and record.drift_total_after == Decimal("92.00")


def test_a_payment_in_xero_is_news_and_a_further_payment_too(hooked_host, host):
    org, record, endpoint, secret, _ = hooked_host
    drift.document_drift_apply(record, xero_invoice(paid="15.00", updated_ms=1764454300000))
    drift.document_drift_apply(record, xero_invoice(paid="115.00", status="PAID", updated_ms=1764454400000))
    webhooks_out.webhook_endpoint_drain(endpoint_id=endpoint.pk)
    first, second = changed_events(host, secret)
    assert first["data"]["in_xero"]["before"]["state"] == "not_checked"
    assert (first["data"]["in_xero"]["after"]["amount_paid"], first["data"]["in_xero"]["after"]["amount_due"]) \
        == ("15.00", "100.00")
    assert second["data"]["in_xero"]["before"]["amount_paid"] == "15.00"
    assert (second["data"]["in_xero"]["after"]["xero_status"], second["data"]["in_xero"]["after"]["amount_due"]) \
        == ("PAID", "0.00")


def test_nobody_listening_records_nothing_and_the_endpoint_can_choose_its_events(exported, host):
    org, record = exported
    admin = factories.make_user("alice")
    factories.add_member(org, admin, Role.ADMIN)
    webhooks_out.endpoint_create(organisation=org, actor=admin, url=host.url, events=["document.exported"])
    drift.document_drift_apply(record, xero_invoice(status="VOIDED"))
    assert WebhookDelivery.objects.count() == 0
    with pytest.raises(ValueError):
        webhooks_out.endpoint_create(organisation=org, actor=admin, url=host.url, events=["document.drifted"])
    webhooks_out.endpoint_create(organisation=org, actor=admin, url=host.url, events=[CHANGED])
    drift.document_drift_apply(record, xero_invoice(status="DELETED", updated_ms=1764454300000))
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == [CHANGED]


# --- the API ----------------------------------------------------------------------------------

def api_of(org):
    return client_for(make_key(organisation=org)[1])


def test_the_api_shows_the_state_in_xero_with_totals_and_who_accepted_it(hooked_host):
    org, record, _, _, admin = hooked_host
    api = api_of(org)
    url = f"/api/v1/organisations/{org.slug}/documents/{record.document_id}/"
    assert api.get(url).json()["in_xero"]["state"] == "not_checked"

    drift.document_drift_apply(record, xero_invoice(total="92.00", paid="10.00"))
    shown = api.get(url).json()["in_xero"]
    assert (shown["state"], shown["state_words"]) == ("changed", "Changed in Xero")
    assert (shown["total_before"], shown["total_after"], shown["amount_paid"], shown["amount_due"]) \
        == ("115.00", "92.00", "10.00", "82.00")
    assert shown["detail"] == "Total 115.00 when sent, 92.00 in Xero now"
    assert shown["last_seen_at"] and shown["updated_in_xero_at"] and shown["accepted_at"] is None

    drift.drift_accept(record=ExportRecord.objects.get(pk=record.pk), actor=admin)
    shown = api.get(url).json()["in_xero"]
    assert shown["state"] == "as_sent" and shown["accepted_by"] == "Alice Admin" and shown["accepted_at"]
    assert (shown["accepted_status"], shown["accepted_total"]) == ("AUTHORISED", "92.00")
    assert "accepted by Alice Admin" in shown["accepted_note"]


def test_the_list_filters_like_export_data_and_links_a_replacement_both_ways(hooked_host):
    org, record, _, _, admin = hooked_host
    api = api_of(org)
    url = f"/api/v1/organisations/{org.slug}/documents/"
    drift.document_drift_apply(record, xero_invoice(status="VOIDED"))
    new = drift.drift_reexport_as_new(record=ExportRecord.objects.get(pk=record.pk), suffix="-R1", actor=admin)

    changed = api.get(url + "?drift=changed").json()["results"]
    assert [(d["number"], d["in_xero"]["state_words"]) for d in changed] == [("INV-1", "Voided in Xero")]
    assert changed[0]["replaced_by"] == {"id": new.document_id, "type": "sales_invoice", "number": "INV-1-R1"}
    assert [d["number"] for d in api.get(url + "?in_xero=voided").json()["results"]] == ["INV-1"]
    assert api.get(url + "?in_xero=paid").json()["results"] == []
    assert api.get(url + "?in_xero=lost").status_code == 400
    assert api.get(url + "?drift=yes").status_code == 400
    both = {d["number"]: d for d in api.get(url).json()["results"]}
    assert both["INV-1-R1"]["in_xero"] is None  # not in Xero yet
    assert both["INV-1-R1"]["replaces"] == {"id": record.document_id, "type": "sales_invoice", "number": "INV-1"}



def voided_and_replaced(org, admin, number, xero_id):
    from django.utils import timezone

    from xero_connect.models import DocumentType, ExportState
    from xero_connect.services.documents import LineSpec, document_create

    doc = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=number,
                          date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Cuba Street Café",
                          lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("100"),
                                          account_code="200", tax_type="OUTPUT2")])
    ExportRecord.objects.filter(document=doc).update(state=ExportState.EXPORTED, xero_id=xero_id,
                                                     xero_total=Decimal("115.00"), exported_at=timezone.now())
    record = ExportRecord.objects.select_related("document").get(document=doc)
    drift.document_drift_apply(record, {**xero_invoice(status="VOIDED"), "InvoiceID": xero_id})
    drift.drift_reexport_as_new(record=record, suffix="-R1", actor=admin)


def test_the_document_list_reads_drift_and_links_with_the_documents(hooked_host):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    org, record, _, _, admin = hooked_host
    api = api_of(org)
    url = f"/api/v1/organisations/{org.slug}/documents/"
    voided_and_replaced(org, admin, "INV-2", "x-2")
    api.get(url)  # the key's first use is written down once
    with CaptureQueriesContext(connection) as few:
        assert len(api.get(url).json()["results"]) == 3
    for n in range(3, 7):
        voided_and_replaced(org, admin, f"INV-{n}", f"x-{n}")
    with CaptureQueriesContext(connection) as more:
        body = api.get(url).json()["results"]
    assert len(body) == 11 and sum(1 for d in body if d["replaced_by"]) == 5
    assert len(more) == len(few)
