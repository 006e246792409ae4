"""Where Xero is strict, the export path is too (issue 13, export half), at the HTTP seam:
unitdp=4 on every write with unit amounts, look-ups that never put a double quote in `where`
and are bounded, in-doubt batches resent under their original key, outages waited out, the
DueDate rule and the bill's reference."""
import json
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from tests.services.test_exports import (  # noqa: F401  (fixtures: the same fake Xero and limits)
    connection,
    drain,
    fast_limits,
    make_invoice,
    records,
    xero,
)
from xero_connect.models import DocumentType, ExportAttempt, ExportState, TaxRate
from xero_connect.selectors import exports as export_selectors
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create, documents_import_csv


def due_now(org):
    records(org).update(next_attempt_at=timezone.now())


def test_writes_with_unit_amounts_carry_unitdp_4_and_the_unit_goes_out_to_four_decimals(org, admin_user,
                                                                                         connection, xero):
    document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-7000", date=date.today(),
                    contact_name="Ridgeway", lines=[LineSpec(description="Sachets", quantity=Decimal(7000),
                                                             unit_amount=Decimal("0.1648"), account_code="200",
                                                             tax_type="OUTPUT2")])
    document_create(organisation=org, doc_type=DocumentType.SALES_CREDIT_NOTE, number="CN-1", date=date.today(),
                    contact_name="Ridgeway", lines=[LineSpec(quantity=Decimal(1), unit_amount=Decimal("0.0125"),
                                                             account_code="200")])
    document_create(organisation=org, doc_type=DocumentType.MANUAL_JOURNAL, number="MJ-1", date=date.today(),
                    narration="Accrual", line_amount_types="NoTax",
                    lines=[LineSpec(line_amount=Decimal("10"), account_code="400"),
                           LineSpec(line_amount=Decimal("-10"), account_code="800")])
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)

    by_resource = {urlparse(u).path.rsplit("/", 1)[-1]: parse_qs(urlparse(u).query) for u in xero.write_urls}
    assert by_resource["Invoices"]["unitdp"] == ["4"]
    assert by_resource["CreditNotes"]["unitdp"] == ["4"]
    assert "unitdp" not in by_resource["ManualJournals"]  # no unit amounts there (and not in the OpenAPI file)
    assert xero.created("Invoices")[0]["LineItems"][0]["UnitAmount"] == 0.1648
    assert xero.created("CreditNotes")[0]["LineItems"][0]["UnitAmount"] == 0.0125


def test_xeros_totals_are_compared_and_a_difference_is_stored_shown_and_counted(org, admin_user, connection, xero,
                                                                                admin_client):
    TaxRate.objects.create(organisation=org, tax_type="OUTPUT2", name="GST on Income", effective_rate=Decimal("15"),
                           status="ACTIVE")
    document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-GUIDE", date=date.today(),
                    contact_name="Ridgeway", lines=[
                        LineSpec(description=name, quantity=Decimal(1), unit_amount=Decimal(unit), account_code="200",
                                 tax_type="OUTPUT2")
                        for name, unit in (("Product A", "25.06"), ("Product B", "25.61"), ("Product C", "25.63"))])
    document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-EVEN", date=date.today(),
                    contact_name="Ridgeway", lines=[LineSpec(quantity=Decimal(2), unit_amount=Decimal("10.00"),
                                                             account_code="200", tax_type="OUTPUT2")])
    # Xero's answer carries its own figures: tax per line, rounded per line (Xero's guide).
    xero.script.append(lambda request: _answer_with_totals(xero, request, {
        "INV-GUIDE": ("76.30", "11.44", "87.74"), "INV-EVEN": ("20.00", "3.00", "23.00")}))
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)

    guide = records(org).get(document__number="INV-GUIDE")
    assert guide.state == ExportState.EXPORTED
    assert guide.xero_total == Decimal("87.74")
    assert guide.total_difference == Decimal("-0.01")
    assert guide.total_note == "Xero's total differs from yours by 0.01 — rounding of tax per line"
    assert guide.total_note in guide.attempts.get().messages
    even = records(org).get(document__number="INV-EVEN")
    assert even.xero_total == Decimal("23.00") and even.total_difference is None and even.total_note == ""

    page = export_selectors.export_page(organisation=org, date_from=date.today() - timedelta(days=1),
                                        date_to=date.today())
    assert page["totals"]["totals_differ"] == 1
    html = admin_client.get(reverse("exports_page", args=[org.slug])).content.decode()
    assert "1 exported item with a total in Xero that differs" in html
    assert "Xero&#x27;s total differs from yours by 0.01 — rounding of tax per line" in html


def _answer_with_totals(xero, request, figures):
    body = json.loads(request.body)
    out = []
    for el in body["Invoices"]:
        sub, tax, total = figures[el["InvoiceNumber"]]
        saved = {**el, "InvoiceID": f"id-{el['InvoiceNumber']}", "SubTotal": float(sub), "TotalTax": float(tax),
                 "Total": float(total)}
        xero.store.setdefault("Invoices", []).append(saved)
        out.append({**saved, "StatusAttributeString": "OK"})
    return 200, {}, json.dumps({"Invoices": out})


def test_an_outage_is_waited_out_as_waiting_for_xero_and_the_item_goes_out_when_xero_answers(
        org, admin_user, connection, xero, admin_client):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    maintenance = (503, {}, "The Xero API is currently offline for maintenance")
    with override_settings(XERO_EXPORT_MAX_ATTEMPTS=2, XERO_EXPORT_BACKOFF_MAX=300.0):
        for _ in range(6):  # three times the attempts that fail an item refused by Xero
            xero.script.append(lambda request: maintenance)
            due_now(org)
            drain(org)
        record = records(org).get()
        assert record.state == ExportState.QUEUED  # never Failed for an outage
        assert record.attempts_count == 6  # every try is counted
        since = record.xero_unavailable_since
        assert since is not None
        # Re-checked with backoff, capped at 5 minutes (XERO_EXPORT_BACKOFF_MAX, jitter ≤ 20 %).
        wait = (record.next_attempt_at - timezone.now()).total_seconds()
        assert 200 < wait <= 300 * 1.2 + 1
        html = admin_client.get(reverse("exports_page", args=[org.slug])).content.decode()
        assert "Waiting for Xero" in html and "1 item waiting for Xero" in html

        due_now(org)
        drain(org)  # Xero answers again
    record.refresh_from_db()
    assert record.state == ExportState.EXPORTED and record.xero_unavailable_since is None
    assert len(xero.created()) == 1


def test_a_500_for_one_document_is_counted_and_ends_failed_saying_so(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    with override_settings(XERO_EXPORT_MAX_ATTEMPTS=2):
        for _ in range(2):
            xero.script.append(lambda request: (500, {}, "oops"))
            due_now(org)
            drain(org)  # a 500 on a write may have committed: looked up first, then sent
    record = records(org).get()
    assert record.state == ExportState.FAILED
    assert "Gave up after 2 attempts" in record.last_error and "Press Retry" in record.last_error
    assert "we retry by itself" not in record.last_error


def test_in_doubt_items_are_looked_up_by_invoicenumbers_never_by_a_where_string(org, admin_user, connection, xero):
    for number in ('INV-"A"', "INV-B"):
        make_invoice(org, number)
    exports.exports_enqueue(records=records(org), actor=admin_user)

    xero.commit_then_drop()
    drain(org)
    due_now(org)
    drain(org)

    assert xero.finds and all("where" not in q for q in xero.finds)
    assert xero.finds[0]["InvoiceNumbers"] == ['INV-"A",INV-B'] and xero.finds[0]["unitdp"] == ["4"]
    assert records(org).filter(state=ExportState.EXPORTED).count() == 2
    assert len(xero.created()) == 2


def test_a_journal_narrated_with_quotes_is_found_by_date_without_a_quote_in_where(org, admin_user, connection, xero):
    document_create(organisation=org, doc_type=DocumentType.MANUAL_JOURNAL, number="MJ-7", date=date.today(),
                    narration='Reclass "Promo" costs', line_amount_types="NoTax",
                    lines=[LineSpec(line_amount=Decimal("120"), account_code="400"),
                           LineSpec(line_amount=Decimal("-120"), account_code="800")])
    exports.exports_enqueue(records=records(org), actor=admin_user)

    xero.commit_then_drop("ManualJournals")
    drain(org)
    due_now(org)
    drain(org)

    record = records(org).get()
    assert record.state == ExportState.EXPORTED
    assert record.attempts.first().outcome == ExportAttempt.Outcome.RECOVERED
    wheres = [q["where"][0] for q in xero.finds]
    t = date.today()
    assert wheres == [f"Date==DateTime({t.year},{t.month},{t.day})"]
    assert len(xero.created("ManualJournals")) == 1


def test_a_look_up_that_keeps_failing_ends_the_item_with_a_clear_reason_and_an_outage_does_not(
        org, admin_user, connection, xero, monkeypatch):
    make_invoice(org, "INV-1")
    make_invoice(org, "INV-2")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    records(org).update(in_doubt=True)
    from xero_connect.xero import accounting

    answers = []

    def failing_find(self, resource, **kwargs):
        raise answers.pop(0)

    monkeypatch.setattr(accounting.AccountingApi, "find", failing_find)
    from xero_connect.xero import errors

    with override_settings(XERO_EXPORT_MAX_ATTEMPTS=3):
        # An outage first: waited out, however often.
        for _ in range(5):
            answers.append(errors.XeroUnavailable("Xero answered 503", status=503))
            due_now(org)
            drain(org)
        assert set(records(org).values_list("state", flat=True)) == {ExportState.QUEUED}
        assert all(r.xero_unavailable_since for r in records(org))
        assert set(records(org).values_list("lookups_failed", flat=True)) == {0}  # an outage is not counted
        # Then Xero refuses the look-up itself, three times: the items end, nothing was sent blind.
        for _ in range(3):
            answers.append(errors.ValidationFailed(messages=["QueryParseException"], status=400))
            due_now(org)
            drain(org)
    assert not [c for c in xero.calls if c[0] in ("PUT", "POST")]
    for record in records(org):
        assert record.state == ExportState.FAILED
        assert record.last_error.startswith(f"Could not check in Xero whether {record.document} arrived")
        assert "Look for it in Xero before pressing Retry" in record.last_error


def test_an_in_doubt_batch_is_resent_whole_under_its_original_key_when_xero_has_not_shown_it_yet(
        org, admin_user, connection, xero):
    """A worker's call outlived the claim lease: Xero committed the batch, but the look-up of
    the worker that recovered it does not see it yet. Resent as the same request, Xero answers
    with the first result — nothing twice, whatever else is in the queue."""
    for i in range(3):
        make_invoice(org, f"INV-{i}")
    exports.exports_enqueue(records=records(org), actor=admin_user)

    xero.commit_then_drop()
    drain(org)
    original_key = xero.calls[0][2]
    late = make_invoice(org, "INV-LATE")  # queued meanwhile: claimed together with the in-doubt three
    exports.exports_enqueue(records=records(org).filter(document=late), actor=admin_user)
    due_now(org)
    xero.blind_lookups = 1

    drain(org)

    puts = [c for c in xero.calls if c[0] == "PUT"]
    assert puts[-2][2] == original_key and puts[-2][3] == 3  # the same request again
    assert puts[-1][2] != original_key and puts[-1][3] == 1
    assert sorted(el["InvoiceNumber"] for el in xero.created()) == ["INV-0", "INV-1", "INV-2", "INV-LATE"]
    assert records(org).filter(state=ExportState.EXPORTED).count() == 4
    assert len({r.xero_id for r in records(org)}) == 4


def test_due_date_is_derived_by_the_stated_rule_or_asked_for(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)
    assert xero.created()[0]["DueDate"] == date.today().isoformat()  # XERO_EXPORT_DUE_DAYS=0: due on receipt

    make_invoice(org, "INV-2")
    with override_settings(XERO_EXPORT_DUE_DAYS=14):
        exports.exports_enqueue(records=records(org).filter(document__number="INV-2"), actor=admin_user)
        drain(org)
    assert xero.created()[1]["DueDate"] == (date.today() + timedelta(days=14)).isoformat()

    make_invoice(org, "INV-3")
    calls = len(xero.calls)
    with override_settings(XERO_EXPORT_DUE_DAYS=None):
        exports.exports_enqueue(records=records(org).filter(document__number="INV-3"), actor=admin_user)
        drain(org)
    record = records(org).get(document__number="INV-3")
    assert record.state == ExportState.FAILED and len(xero.calls) == calls
    assert "Due date missing — Xero requires one on an approved invoice or bill" in record.last_error


def test_a_bills_reference_goes_where_xero_keeps_it_and_the_ledger_says_so(org, admin_user, connection, xero):
    doc = document_create(organisation=org, doc_type=DocumentType.BILL, number="B-1001", reference="SUP-889",
                          date=date.today(), due_date=date.today() + timedelta(days=20), contact_name="Vector",
                          lines=[LineSpec(quantity=Decimal(1), unit_amount=Decimal("240"), account_code="429")])
    document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-1", reference="PO 7",
                    date=date.today(), contact_name="Ridgeway",
                    lines=[LineSpec(quantity=Decimal(1), unit_amount=Decimal("5"), account_code="200")])
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)

    bill = next(el for el in xero.created() if el["Type"] == "ACCPAY")
    sale = next(el for el in xero.created() if el["Type"] == "ACCREC")
    assert bill["InvoiceNumber"] == "B-1001 / SUP-889" and "Reference" not in bill
    assert sale["InvoiceNumber"] == "INV-1" and sale["Reference"] == "PO 7"
    assert ("Xero keeps no Reference on bills: the reference SUP-889 was sent as part of the number, "
            "“B-1001 / SUP-889”.") in doc.export_record.attempts.get().messages


def test_precision_xero_would_round_and_unbalanced_journals_are_refused_before_sending(org, admin_user, connection,
                                                                                        xero):
    document_create(organisation=org, doc_type=DocumentType.MANUAL_JOURNAL, number="MJ-1", date=date.today(),
                    narration="Accrual", line_amount_types="NoTax",
                    lines=[LineSpec(line_amount=Decimal("80.01"), account_code="400"),
                           LineSpec(line_amount=Decimal("-80.00"), account_code="800")])
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)
    record = records(org).get()
    assert record.state == ExportState.FAILED and not xero.calls
    assert record.last_error == ("The journal does not balance: debits 80.01, credits 80.00 (off by 0.01) — Xero "
                                 "accepts a manual journal only when they are equal")

    text = ("type,number,date,contact,description,quantity,unit_amount,account_code\n"
            "sales_invoice,INV-9,2026-11-02,Ridgeway,Sachets,7000,0.16485,200\n")
    result = documents_import_csv(organisation=org, actor=admin_user, text=text)
    assert not result.ok
    assert "Unit amount 0.16485 has more than 4 decimals" in str(result.errors[0])
