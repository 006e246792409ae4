"""The export half of issue 13 against the sandbox (which computes Xero's figures itself, tax
per line): the issue's 7,000 × 0.1648 invoice lands to the cent, Xero's guide example shows
its 0.01 difference on the ledger, and a journal narrated with double quotes whose answer was
lost is found again (no `where` string with a quote) and is in Xero once."""
from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories, xero_live
from xero_connect.models import DocumentType, ExportAttempt, ExportRecord, ExportState, Role, TaxRate
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create

from xero_sandbox import services as sandbox
KOWHAI = "!kWh4R"


@pytest.fixture
def kowhai(xero, settings, transactional_db):
    settings.XERO_LIMIT_MINUTE_SECONDS = 1.0
    settings.XERO_EXPORT_MAX_INLINE_WAIT = 2.0
    settings.XERO_EXPORT_BACKOFF_BASE = 0.2
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai", base_currency="NZD")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    xero_live.connect(org, admin, KOWHAI)
    TaxRate.objects.update_or_create(organisation=org, tax_type="OUTPUT2", defaults={
        "name": "15% GST on Income", "effective_rate": Decimal("15"), "status": "ACTIVE"})
    return org, admin


def sale(org, number, units):
    return document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=number,
                           date=timezone.localdate(), contact_name="Cuba Street Café",
                           lines=[LineSpec(description=f"Line {i}", quantity=Decimal(q), unit_amount=Decimal(u),
                                           account_code="200", tax_type="OUTPUT2") for i, (q, u) in enumerate(units)])


def export(org, admin, doc):
    exports.exports_enqueue(records=ExportRecord.objects.filter(document=doc), actor=admin)
    exports.exports_drain(organisation_id=org.pk, max_seconds=20)
    return ExportRecord.objects.get(document=doc)


def test_the_issues_invoice_of_7000_at_0_1648_lands_in_xero_to_the_cent(kowhai):
    org, admin = kowhai
    record = export(org, admin, sale(org, "KC-7000", [("7000", "0.1648")]))

    assert record.state == ExportState.EXPORTED
    in_xero = sandbox.document_find(tenant=KOWHAI, document_id=record.xero_id)
    assert Decimal(str(in_xero["LineItems"][0]["UnitAmount"])) == Decimal("0.1648")
    assert Decimal(str(in_xero["SubTotal"])) == Decimal("1153.60")
    assert Decimal(str(in_xero["Total"])) == Decimal("1326.64")
    assert record.xero_total == Decimal("1326.64") and record.total_difference is None


def test_xeros_guide_example_is_a_difference_of_0_01_shown_on_the_ledger(kowhai, client):
    org, admin = kowhai
    record = export(org, admin, sale(org, "KC-GUIDE", [("1", "25.06"), ("1", "25.61"), ("1", "25.63")]))

    assert record.state == ExportState.EXPORTED
    assert record.xero_total == Decimal("87.74")  # the sandbox's own arithmetic, tax per line
    assert record.total_difference == Decimal("-0.01")
    assert record.total_note == "Xero's total differs from yours by 0.01 — rounding of tax per line"
    client.force_login(admin)
    html = client.get(f"/o/{org.slug}/exports/").content.decode()
    assert "differs from yours by 0.01 — rounding of tax per line" in html


def test_a_journal_narrated_with_quotes_whose_answer_was_lost_is_in_xero_once(kowhai):
    org, admin = kowhai
    doc = document_create(organisation=org, doc_type=DocumentType.MANUAL_JOURNAL, number="KC-MJ-9",
                          date=timezone.localdate(), narration='Reclass "Promo" costs', line_amount_types="NoTax",
                          lines=[LineSpec(line_amount=Decimal("120"), account_code="310"),
                                 LineSpec(line_amount=Decimal("-120"), account_code="630")])
    sandbox.set_fault(kind="drop", count=1, tenant=KOWHAI, path_contains="ManualJournals", methods="PUT,POST")

    record = export(org, admin, doc)  # the answer is lost; after the backoff it is looked up by date

    assert record.state == ExportState.EXPORTED
    assert list(record.attempts.order_by("started_at", "id").values_list("outcome", flat=True)) == [
        ExportAttempt.Outcome.UNAVAILABLE, ExportAttempt.Outcome.RECOVERED]
    journals = [d for d in sandbox.documents(tenant=KOWHAI, kind="manualjournal")
                if "KC-MJ-9" in (d.get("Narration") or "")]
    assert len(journals) == 1 and journals[0]["ManualJournalID"] == record.xero_id


def test_an_invoice_recovered_by_look_up_keeps_xeros_total_and_is_not_changed_in_xero(kowhai):
    """A taxed invoice whose answer was lost is adopted by look-up: the ledger keeps Xero's
    Total (tax included) exactly as after a normal send, so Xero reading it back unchanged is
    "As sent" — not "Changed in Xero" against our tax-less subtotal (found trying the demo)."""
    from xero_connect.models import XeroDrift
    from xero_connect.services.drift import document_drift_apply

    org, admin = kowhai
    doc = sale(org, "KC-LOST", [("2", "32.50")])
    sandbox.set_fault(kind="drop", count=1, tenant=KOWHAI, path_contains="Invoices", methods="PUT,POST")

    record = export(org, admin, doc)

    assert record.state == ExportState.EXPORTED
    assert ExportAttempt.Outcome.RECOVERED in set(record.attempts.values_list("outcome", flat=True))
    in_xero = sandbox.document_find(tenant=KOWHAI, document_id=record.xero_id)
    assert Decimal(str(in_xero["Total"])) == Decimal("74.75")
    assert record.xero_total == Decimal("74.75")

    document_drift_apply(record, in_xero)
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.AS_SENT
    assert record.drift_total_before is None and record.drift_total_after is None
