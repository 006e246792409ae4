"""The Export Data page and its doors: what people see and may do, scoped to their
organisation, in a constant number of queries."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests import factories
from xero_connect.models import BulkJob, DocumentType, ExportRecord, ExportState
from xero_connect.services.documents import LineSpec, document_create


def invoice(org, number, *, when=None, doc_type=DocumentType.SALES_INVOICE, contact="Ponsonby Espresso Bar"):
    return document_create(organisation=org, doc_type=doc_type, number=number, date=when or timezone.localdate(),
                           contact_name=contact, lines=[LineSpec(description="Beans", quantity=Decimal(1),
                                                                 unit_amount=Decimal(10), account_code="200")])


def page_url(org, **params):
    from urllib.parse import urlencode

    return reverse("exports_page", args=[org.slug]) + ("?" + urlencode(params) if params else "")


def test_the_page_shows_sections_counts_view_links_and_failure_reasons(admin_client, org, admin_user):
    connection = factories.make_connection(org, actor=admin_user, short_code="!kWh4R")
    a = invoice(org, "INV-1")
    invoice(org, "INV-2")
    bill = invoice(org, "BILL-9", doc_type=DocumentType.BILL, contact="Vector Energy")
    ExportRecord.objects.filter(document=a).update(state=ExportState.EXPORTED, xero_id="abc-123",
                                                   connection=connection)
    ExportRecord.objects.filter(document=bill).update(
        state=ExportState.FAILED, last_error="Account code '455' has been archived, or accounts payable.")

    html = admin_client.get(page_url(org)).content.decode()

    assert "Sales invoices" in html and "Bills" in html
    assert "Exported: 1" in html and "Not exported: 1" in html and "Failed: 1" in html
    assert "redirecturl=/AccountsReceivable/View.aspx%3FInvoiceID%3Dabc-123" in html and "shortcode=%21kWh4R" in html
    assert "Account code &#x27;455&#x27; has been archived" in html
    assert 'name="export_one"' in html


def test_filter_by_state_and_search_by_number_or_contact(admin_client, org):
    invoice(org, "INV-1", contact="Cuba Street Café")
    invoice(org, "INV-2", contact="Harbourside Deli")
    html = admin_client.get(page_url(org, q="cuba")).content.decode()
    assert 'data-number="INV-1"' in html and 'data-number="INV-2"' not in html
    html = admin_client.get(page_url(org, q="INV-2")).content.decode()
    assert 'data-number="INV-2"' in html and 'data-number="INV-1"' not in html
    html = admin_client.get(page_url(org, state="exported")).content.decode()
    assert 'data-number="INV-1"' not in html


def test_default_range_is_this_month_and_last(admin_client, org):
    today = timezone.localdate()
    invoice(org, "RECENT", when=today)
    invoice(org, "OLD", when=today - timedelta(days=100))
    html = admin_client.get(page_url(org)).content.decode()
    assert 'data-number="RECENT"' in html and 'data-number="OLD"' not in html


@pytest.mark.parametrize("rows", [3, 120])
def test_a_page_costs_the_same_number_of_queries_however_many_rows(admin_client, org, admin_user, rows,
                                                                    django_assert_max_num_queries):
    connection = factories.make_connection(org, actor=admin_user, short_code="!x")
    for doc_type in (DocumentType.SALES_INVOICE, DocumentType.BILL, DocumentType.MANUAL_JOURNAL):
        for i in range(rows):
            invoice(org, f"{doc_type[:3]}-{i}", doc_type=doc_type)
    ExportRecord.objects.filter(organisation=org, doc_type=DocumentType.BILL).update(
        state=ExportState.EXPORTED, xero_id="x", connection=connection)
    admin_client.get(page_url(org))  # warm: sessions, ledger already in step
    with CaptureQueriesContext(db) as ctx:
        response = admin_client.get(page_url(org))
    assert response.status_code == 200
    # session, user, membership, ledger check, counts, one per shown section, connection, job, admins
    assert len(ctx.captured_queries) <= 14, [q["sql"][:120] for q in ctx.captured_queries]
    with django_assert_max_num_queries(14):
        admin_client.get(page_url(org, page_bill=2))


def test_export_one_runs_a_job_and_the_progress_endpoint_reports_it(admin_client, org, admin_user,
                                                                    django_capture_on_commit_callbacks):
    doc = invoice(org, "INV-1")
    with django_capture_on_commit_callbacks(execute=True):  # not connected: it waits
        response = admin_client.post(reverse("exports_action", args=[org.slug]),
                                     {"export_one": doc.export_record.pk})
    assert response.status_code == 302 and "job=" in response["Location"]
    job = BulkJob.objects.get(organisation=org)
    progress = admin_client.get(reverse("exports_job_progress", args=[org.slug, job.pk])).json()
    assert progress["total"] == 1 and progress["waiting"] == 1 and progress["finished"] is True
    html = admin_client.get(response["Location"]).content.decode()
    assert "1 item waiting for the Xero connection" in html
    assert "Alice Admin" in html  # who to ask, by name


def test_export_range_and_retry_failed_buttons(member_client, org, django_capture_on_commit_callbacks):
    invoice(org, "INV-1")
    failed = invoice(org, "INV-2")
    ExportRecord.objects.filter(document=failed).update(state=ExportState.FAILED, last_error="x")
    url = reverse("exports_action", args=[org.slug])
    with django_capture_on_commit_callbacks(execute=False):
        member_client.post(url, {"action": "range"})
    assert ExportRecord.objects.get(document__number="INV-1").state == ExportState.QUEUED
    assert ExportRecord.objects.get(document=failed).state == ExportState.FAILED  # retry is its own button
    with django_capture_on_commit_callbacks(execute=False):
        member_client.post(url, {"action": "retry_failed"})
    assert ExportRecord.objects.get(document=failed).state == ExportState.QUEUED
    assert BulkJob.objects.filter(kind=BulkJob.Kind.RETRY_FAILED).exists()


def test_reexport_asks_first_and_says_what_happens_per_type(admin_client, org, django_capture_on_commit_callbacks):
    inv = invoice(org, "INV-1")
    pay = document_create(organisation=org, doc_type=DocumentType.PAYMENT, number="PAY-1",
                          date=timezone.localdate(), paid_document=inv, payment_account_code="090",
                          amount=Decimal(5))
    ExportRecord.objects.filter(organisation=org).update(state=ExportState.EXPORTED, xero_id="x")
    ids = list(ExportRecord.objects.filter(organisation=org).values_list("pk", flat=True))
    url = reverse("exports_reexport", args=[org.slug])
    html = admin_client.post(url, {"records": ids, "scope": "selected"}).content.decode()
    assert "Re-export 2 items already in Xero?" in html
    assert "updates the existing invoice in Xero" in html
    assert "Xero does not allow payments to be edited" in html and "Skipped" in html
    assert ExportRecord.objects.filter(state=ExportState.QUEUED).count() == 0  # nothing yet
    with django_capture_on_commit_callbacks(execute=False):
        admin_client.post(url, {"records": ids, "scope": "selected", "confirm": "yes"})
    assert ExportRecord.objects.get(document=inv).state == ExportState.QUEUED
    assert ExportRecord.objects.get(document=inv).update_existing is True
    assert ExportRecord.objects.get(document=pay).state == ExportState.EXPORTED
    job = BulkJob.objects.get(kind=BulkJob.Kind.REEXPORT)
    assert job.total == 1 and job.skipped == 1


def test_member_cannot_reexport_or_import_and_is_told_which_admins_to_ask(member_client, org, admin_user):
    r = member_client.post(reverse("exports_reexport", args=[org.slug]), {"scope": "range"})
    assert r.status_code == 403 and "Alice Admin" in r.content.decode()
    r = member_client.get(reverse("documents_import", args=[org.slug]))
    assert r.status_code == 403 and "Alice Admin" in r.content.decode()
    html = member_client.get(page_url(org)).content.decode()
    assert "Export selected" in html and "Re-export selected" not in html
    assert "Only an Admin can re-export documents already in Xero. Ask Alice Admin." in html


def test_other_organisations_pages_and_items_are_not_found(client, org, other_org, outsider):
    doc = invoice(org, "INV-1")
    job = BulkJob.objects.create(organisation=org, kind=BulkJob.Kind.EXPORT_RANGE)
    client.force_login(outsider)
    assert client.get(page_url(org)).status_code == 404
    assert client.get(reverse("exports_job_progress", args=[org.slug, job.pk])).status_code == 404
    assert client.get(reverse("exports_record", args=[org.slug, doc.export_record.pk])).status_code == 404
    assert client.post(reverse("exports_action", args=[org.slug]), {"export_one": doc.export_record.pk}).status_code == 404
    # Their own organisation's URL naming our record or job: still 404.
    assert client.get(reverse("exports_record", args=[other_org.slug, doc.export_record.pk])).status_code == 404
    assert client.get(reverse("exports_job_progress", args=[other_org.slug, job.pk])).status_code == 404
    r = client.post(reverse("exports_action", args=[other_org.slug]), {"export_one": doc.export_record.pk})
    assert r.status_code == 404
    assert ExportRecord.objects.get(document=doc).state == ExportState.NOT_EXPORTED


def test_export_buttons_need_post(admin_client, org):
    assert admin_client.get(reverse("exports_action", args=[org.slug])).status_code == 405


def test_the_record_page_shows_xeros_messages_verbatim(admin_client, org):
    from xero_connect.models import ExportAttempt

    doc = invoice(org, "BILL-1", doc_type=DocumentType.BILL)
    record = doc.export_record
    ExportAttempt.objects.create(record=record, outcome=ExportAttempt.Outcome.VALIDATION_FAILED,
                                 messages=["Account code '455' has been archived, or accounts payable."])
    html = admin_client.get(reverse("exports_record", args=[org.slug, record.pk])).content.decode()
    assert "Refused by Xero" in html and "Account code &#x27;455&#x27; has been archived" in html


def test_csv_upload_all_or_nothing_with_row_errors(admin_client, org):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("documents_import", args=[org.slug])
    bad = ("type,number,date,contact,description,quantity,unit_amount,account_code\n"
           "sales_invoice,INV-1,2026-11-02,Cuba Street Café,Beans,1,10,200\n"
           "sales_invoice,INV-2,2026-13-02,Cuba Street Café,Beans,1,ten,200\n")
    html = admin_client.post(url, {"file": SimpleUploadedFile("d.csv", bad.encode())}).content.decode()
    assert "Nothing was imported" in html
    assert "Row 3: unit_amount “ten” is not a number." in html
    assert "Row 3: date “2026-13-02” is not a date" in html
    assert ExportRecord.objects.filter(organisation=org).count() == 0
    good = bad.replace("ten", "10").replace("2026-13-02", "2026-11-03")
    r = admin_client.post(url, {"file": SimpleUploadedFile("d.csv", good.encode())})
    assert r.status_code == 302
    assert ExportRecord.objects.filter(organisation=org, state=ExportState.NOT_EXPORTED).count() == 2


def test_the_amount_says_when_it_is_before_tax_so_it_is_not_mistaken_for_xeros_total(admin_client, org):
    """A document's own amount is the sum of its lines as entered: for amounts that exclude tax
    the page must not call it "Total" (Xero's Total includes tax; found trying the demo)."""
    exclusive = invoice(org, "INV-EX")
    inclusive = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="INV-IN",
                                date=timezone.localdate(), contact_name="Ponsonby Espresso Bar",
                                line_amount_types="Inclusive",
                                lines=[LineSpec(quantity=Decimal(1), unit_amount=Decimal("115"), account_code="200")])

    html = admin_client.get(page_url(org)).content.decode()
    row = html[html.index('data-number="INV-EX"'):]
    assert "excl. tax" in row[:row.index("</tr>")]
    row = html[html.index('data-number="INV-IN"'):]
    assert "excl. tax" not in row[:row.index("</tr>")]
    assert '<th class="num">Total</th>' not in html

    record = ExportRecord.objects.get(document=exclusive)
    detail = admin_client.get(reverse("exports_record", args=[org.slug, record.pk])).content.decode()
    assert "excl. tax" in detail[detail.index('id="record-amount"'):][:200]
    assert inclusive.total == Decimal("115.00")
