"""The client's own requests against Xero's OpenAPI files, and the seam's reading rules.

tests/contract/guard.py validates every request the seam sends in the whole suite (an autouse
fixture fails the test that sent a request the file refuses). Here: the guard bites on what
the file refuses; every endpoint the client calls is exercised against the sandbox with the
guard on; If-Modified-Since goes out as an ISO 8601 UTC date-time; paging trusts
pagination.pageCount; out-of-range numbers in a list answer are refused for that element."""
import logging
from datetime import datetime, timezone as dt_timezone

import pytest
import requests
import responses
from django.conf import settings

from tests import factories, xero_live
from xero_connect.models import Contact, ListName, ListRefresh, TaxRate, XeroConnection
from xero_connect.services import lists
from xero_connect.xero.accounting import AccountingApi, modified_since_value

from . import guard

KOWHAI = "!kWh4R"
TENANT = "7cb59f93-2964-421d-bb5e-a0f7a4572a44"


def prepared(method, url, *, headers=None, json=None):
    base = {"Authorization": "Bearer x", "xero-tenant-id": TENANT, "Accept": "application/json"}
    return requests.Request(method, url, headers={**base, **(headers or {})}, json=json).prepare()


@pytest.mark.parametrize("header, refused", [
    ("Thu, 01 Jan 2026 00:00:00 GMT", True), ("2026-01-01T00:00:00Z", False), ("yesterday", True)])
def test_guard_checks_the_if_modified_since_format(header, refused):
    found = guard.problem(prepared("GET", "https://api.xero.com/api.xro/2.0/Contacts",
                                   headers={"If-Modified-Since": header}))
    assert bool(found) is refused, found


def test_guard_checks_bodies_query_and_required_headers():
    assert guard.problem(prepared("PUT", "https://api.xero.com/api.xro/2.0/ManualJournals",
                                  json={"ManualJournals": [{"JournalLines": []}]}))
    assert guard.problem(prepared("PUT", "https://x.test/xero-sandbox/api.xro/2.0/Invoices",
                                  json={"Invoices": [{"Type": "ACCREC", "LineAmountTypes": "exclusive"}]}))
    assert guard.problem(prepared("GET", "https://api.xero.com/api.xro/2.0/Invoices?page=first"))
    no_tenant = prepared("GET", "https://api.xero.com/api.xro/2.0/Invoices")
    del no_tenant.headers["xero-tenant-id"]
    assert guard.problem(no_tenant)
    assert guard.problem(prepared("GET", "https://api.xero.com/api.xro/2.0/Invoices?page=2")) is None
    assert guard.problem(prepared("DELETE", f"https://api.xero.com/connections/{TENANT}")) is None
    assert guard.problem(prepared("POST", "https://identity.xero.com/connect/token")) is None  # in no file


def test_if_modified_since_is_sent_as_iso_8601_utc_to_the_second():
    moment = datetime(2026, 3, 2, 23, 30, 5, 987000, tzinfo=dt_timezone.utc)
    assert modified_since_value(moment) == "2026-03-02T23:30:05Z"
    from zoneinfo import ZoneInfo
    assert modified_since_value(moment.astimezone(ZoneInfo("Pacific/Auckland"))) == "2026-03-02T23:30:05Z"


def contact(n):
    return {"ContactID": f"00000000-0000-0000-0000-{n:012d}", "Name": f"Contact {n}", "ContactStatus": "ACTIVE"}


@pytest.fixture
def connection(org, admin_user):
    return factories.make_connection(org, actor=admin_user, tenant_id=TENANT)


@responses.activate
def test_paging_trusts_page_count_over_a_short_page(org, connection):
    url = f"{settings.XERO_API_URL.rstrip('/')}/Contacts"
    pages = {1: [contact(1), contact(2)], 2: [contact(3)], 3: [contact(4), contact(5)]}
    for page, items in pages.items():
        responses.get(url, match=[responses.matchers.query_param_matcher(
            {"includeArchived": "true", "page": str(page), "pageSize": "1000"})],
            json={"Contacts": items, "pagination": {"page": page, "pageSize": 1000, "pageCount": 3, "itemCount": 5}})
    refresh = lists.lists_refresh_now(organisation=org, trigger=ListRefresh.Trigger.MANUAL, lists=[ListName.CONTACTS])
    refresh.refresh_from_db()
    assert Contact.objects.filter(organisation=org).count() == 5
    assert len(responses.calls) == 3


@responses.activate
def test_without_page_count_a_short_page_ends_the_read():
    url = f"{settings.XERO_API_URL.rstrip('/')}/Contacts"
    responses.get(url, json={"Contacts": [contact(1)]})
    api = AccountingApi(tenant_id=TENANT, token_provider=lambda stale: "t")
    assert [len(p) for p in api.pages("Contacts", page_size=100)] == [1]
    assert len(responses.calls) == 1


@responses.activate
def test_an_out_of_range_rate_is_refused_for_that_element_with_a_logged_reason(org, connection, caplog):
    rates = [{"Name": "GST", "TaxType": "OUTPUT2", "Status": "ACTIVE", "EffectiveRate": 15.0},
             {"Name": "Broken", "TaxType": "BROKEN", "Status": "ACTIVE", "EffectiveRate": 1e30},
             {"Name": "Negative", "TaxType": "NEG", "Status": "ACTIVE", "EffectiveRate": -5}]
    responses.get(f"{settings.XERO_API_URL.rstrip('/')}/TaxRates", json={"TaxRates": rates})
    with caplog.at_level(logging.WARNING, logger="xero.accounting"):
        refresh = lists.lists_refresh_now(organisation=org, trigger=ListRefresh.Trigger.MANUAL,
                                          lists=[ListName.TAX_RATES])
    refresh.refresh_from_db()
    assert not refresh.results[ListName.TAX_RATES].get("error")
    assert list(TaxRate.objects.filter(organisation=org).values_list("tax_type", flat=True)) == ["OUTPUT2"]
    reasons = [r.getMessage() for r in caplog.records if "element_refused" in r.getMessage()]
    assert len(reasons) == 2 and "id=BROKEN" in reasons[0] and "EffectiveRate=1e+30 outside 0..100" in reasons[0]


# --- every endpoint the client calls, against the sandbox, with the guard on ---------------------------

EXPECTED = {"GET /connections", "DELETE /connections/*", "GET /Organisation", "GET /Accounts", "GET /Contacts",
            "GET /TaxRates", "GET /TrackingCategories", "GET /Currencies", "PUT /Invoices", "POST /Invoices",
            "PUT /CreditNotes", "PUT /Payments", "PUT /ManualJournals", "GET /Invoices", "GET /CreditNotes",
            "GET /Payments", "GET /ManualJournals"}


def _endpoint(entry):
    method, path = entry.split(" ", 1)
    if "/api.xro/2.0/" in path:
        return f"{method} /{path.split('/api.xro/2.0/', 1)[1].split('/')[0]}"
    tail = path.rstrip("/").split("/")
    return f"{method} /connections" if tail[-1] == "connections" else f"{method} /connections/*"


def _documents(org):
    from decimal import Decimal

    from django.utils import timezone

    from xero_connect.models import DocumentType
    from xero_connect.services.documents import LineSpec, document_create
    today = timezone.localdate()

    def line(code, tax, amount="32.50"):
        return [LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal(amount), account_code=code,
                         tax_type=tax)]

    sale = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="G-INV-1", date=today,
                           due_date=today, contact_name="Cuba Street Café", lines=line("200", "OUTPUT2"))
    document_create(organisation=org, doc_type=DocumentType.BILL, number="G-BILL-1", date=today, due_date=today,
                    contact_name="Vector Energy", lines=line("429", "INPUT2"))
    document_create(organisation=org, doc_type=DocumentType.SALES_CREDIT_NOTE, number="G-CN-1", date=today,
                    contact_name="Cuba Street Café", lines=line("200", "OUTPUT2", "5"))
    document_create(organisation=org, doc_type=DocumentType.PAYMENT, number="G-PAY-1", date=today,
                    paid_document=sale, payment_account_code="090", amount=Decimal("10"))
    document_create(organisation=org, doc_type=DocumentType.MANUAL_JOURNAL, number="G-MJ-1", date=today,
                    narration="Stock write-down", line_amount_types="NoTax",
                    lines=[LineSpec(description="x", line_amount=Decimal("80"), account_code="310"),
                           LineSpec(description="x", line_amount=Decimal("-80"), account_code="630")])


def test_every_endpoint_the_client_calls_is_validated_against_the_file(xero, org, admin_user, settings):
    from xero_connect.models import ExportRecord, ExportState
    from xero_connect.services import exports
    from xero_connect.services.connections import connection_disconnect
    from xero_connect.services.xero_access import api_for

    settings.XERO_LIMIT_MINUTE_SECONDS = 1.0
    guard.checked.clear()
    connection = xero_live.connect(org, admin_user, KOWHAI)
    refresh = lists.lists_refresh_now(organisation=org, trigger=ListRefresh.Trigger.MANUAL)
    refresh.refresh_from_db()
    assert all(not r.get("error") for name, r in refresh.results.items() if not name.startswith("_")), refresh.results

    # The product's own export path: one document of every kind, then a re-export (POST).
    _documents(org)
    exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org), actor=admin_user)
    states = dict(ExportRecord.objects.filter(organisation=org).values_list("document__number", "state"))
    assert set(states.values()) == {ExportState.EXPORTED}, states
    exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org, document__number="G-INV-1"),
                            actor=admin_user, update_existing=True)

    # The seam's look-up on every document resource.
    api = api_for(XeroConnection.objects.get(pk=connection.pk))
    assert [i["InvoiceNumber"] for i in api.find("Invoices", where='InvoiceNumber=="G-INV-1"')] == ["G-INV-1"]
    assert len(api.find("CreditNotes", where='CreditNoteNumber=="G-CN-1"')) == 1
    assert len(api.find("Payments", where='Reference=="G-PAY-1"')) == 1
    assert len(api.find("ManualJournals", where='Narration.StartsWith("Stock write-down")')) == 1

    # A second refresh is incremental: If-Modified-Since goes out (and is checked).
    lists.lists_refresh_now(organisation=org, trigger=ListRefresh.Trigger.MANUAL, lists=[ListName.CONTACTS])
    connection_disconnect(organisation=org, actor=admin_user)
    covered = {_endpoint(entry) for entry in guard.checked}
    assert EXPECTED <= covered, EXPECTED - covered
    assert not guard.violations
