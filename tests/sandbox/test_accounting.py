"""The Accounting API: shapes checked against the official OpenAPI file, Xero's
validation, batches with and without summarizeErrors, paging and If-Modified-Since."""
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings

from xero_sandbox import services

from .conftest import NZ, US

LIST_ENDPOINTS = ["Organisation", "Accounts", "Currencies", "TaxRates", "TrackingCategories", "Contacts", "Invoices",
                  "CreditNotes", "Payments", "ManualJournals"]


def invoice(**over):
    body = {"Type": "ACCREC", "Contact": {"Name": "Ponsonby Espresso Bar"}, "Date": "2026-10-01",
            "DueDate": "2026-10-31", "LineAmountTypes": "Exclusive", "Reference": "SO-1001", "Status": "AUTHORISED",
            "LineItems": [{"Description": "Espresso blend 1 kg", "Quantity": 3, "UnitAmount": 42.5,
                           "AccountCode": "200", "TaxType": "OUTPUT2",
                           "Tracking": [{"Name": "Region", "Option": "Auckland"}]}]}
    body.update(over)
    return body


@pytest.fixture
def nz(connected, tenant_ids):
    return tenant_ids[NZ]


def test_every_list_endpoint_answers_in_the_spec_shape(connected, nz, spec):
    created = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]})
    assert created.status_code == 200, created.text
    invoice_id = created.json()["Invoices"][0]["InvoiceID"]
    paid = connected.api("PUT", "Payments", tenant=nz, body={"Payments": [
        {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": "090"}, "Date": "2026-10-05", "Amount": 50}]})
    assert paid.status_code == 200, paid.text
    credit = connected.api("PUT", "CreditNotes", tenant=nz, body={"CreditNotes": [
        {"Type": "ACCPAYCREDIT", "Contact": {"Name": "Vector Energy"}, "Date": "2026-10-02", "Status": "AUTHORISED",
         "LineItems": [{"Description": "Refund", "Quantity": 1, "UnitAmount": 20, "AccountCode": "445"}]}]})
    assert credit.status_code == 200, credit.text
    journal = connected.api("PUT", "ManualJournals", tenant=nz, body={"ManualJournals": [
        {"Narration": "Accrual", "Date": "2026-10-31", "Status": "POSTED", "JournalLines": [
            {"LineAmount": 100, "AccountCode": "429"}, {"LineAmount": -100, "AccountCode": "620"}]}]})
    assert journal.status_code == 200, journal.text
    for answer in (created, paid, credit, journal):
        spec.request(answer)
        spec.response(answer)

    for endpoint in LIST_ENDPOINTS:
        answer = connected.api("GET", endpoint, tenant=nz)
        assert answer.status_code == 200, (endpoint, answer.text)
        body = answer.json()
        assert body["Status"] == "OK" and re.fullmatch(r"/Date\(\d+\)/", body["DateTimeUTC"])
        assert body["ProviderName"] == settings.PRODUCT_NAME  # the app is named as the product, as the help articles say
        for header in ("X-DayLimit-Remaining", "X-MinLimit-Remaining", "X-AppMinLimit-Remaining"):
            assert answer.headers[header].isdigit()
        spec.request(answer)
        spec.response(answer)

    for endpoint, key in (("Invoices", invoice_id), ("Payments", paid.json()["Payments"][0]["PaymentID"]),
                          ("CreditNotes", credit.json()["CreditNotes"][0]["CreditNoteID"]),
                          ("ManualJournals", journal.json()["ManualJournals"][0]["ManualJournalID"])):
        single = connected.api("GET", f"{endpoint}/{key}", tenant=nz)
        assert single.status_code == 200
        spec.response(single)
    assert spec.checked >= 28

    organisation = connected.api("GET", "Organisation", tenant=nz).json()["Organisations"][0]
    assert (organisation["ShortCode"], organisation["BaseCurrency"]) == (NZ, "NZD")
    assert organisation["Name"] == "Kōwhai Coffee Roasters"


def test_invoice_amounts_dates_and_lookup_by_number(connected, nz):
    answer = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]})
    saved = answer.json()["Invoices"][0]
    assert saved["StatusAttributeString"] == "OK"
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"], saved["AmountDue"]) == (127.5, 19.13, 146.63, 146.63)
    assert saved["Date"] == "/Date(1790812800000+0000)/"
    assert saved["InvoiceNumber"] == "INV-0001"
    assert saved["LineItems"][0]["Tracking"][0]["Option"] == "Auckland"
    found = connected.api("GET", "Invoices", tenant=nz, params={"InvoiceNumbers": "INV-0001,INV-9999"}).json()
    assert [i["InvoiceID"] for i in found["Invoices"]] == [saved["InvoiceID"]]
    by_where = connected.api("GET", "Invoices", tenant=nz,
                             params={"where": 'Reference=="SO-1001" AND Type=="ACCREC"'}).json()
    assert len(by_where["Invoices"]) == 1
    by_number_path = connected.api("GET", "Invoices/INV-0001", tenant=nz).json()
    assert by_number_path["Invoices"][0]["InvoiceID"] == saved["InvoiceID"]
    assert connected.api("GET", "Invoices/INV-0404", tenant=nz).status_code == 404


def test_validation_messages_in_xeros_words(connected, nz):
    services.archive_account(tenant=NZ, code="400")
    cases = [
        (invoice(LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "999"}]),
         "Account code '999' is not a valid code for this document."),
        (invoice(Type="ACCPAY", Contact={"Name": "Vector Energy"},
                 LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "400"}]),
         "Account code '400' has been archived, or has been deleted. Each line item must reference a valid account."),
        (invoice(LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200",
                             "TaxType": "XYZ"}]),
         "The TaxType code 'XYZ' does not exist or cannot be used for this type of transaction."),
        (invoice(LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200",
                             "TaxType": "INPUT2"}]),
         "The TaxType code 'INPUT2' does not exist or cannot be used for this type of transaction."),
        (invoice(Contact={"ContactID": "00000000-0000-0000-0000-000000000001"}),
         "The contact with ContactID '00000000-0000-0000-0000-000000000001' could not be found."),
        (invoice(Contact={}), "A Contact must be specified for this type of transaction"),
        (invoice(CurrencyCode="JPY"), "Organisation is not subscribed to currency JPY"),
        (invoice(Date="2025-03-31"), "The document date cannot be before the period lock date of 31 Mar 2025."),
    ]
    for body, message in cases:
        answer = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [body]})
        assert answer.status_code == 400, (message, answer.text)
        error = answer.json()
        assert (error["ErrorNumber"], error["Type"], error["Message"]) == (
            10, "ValidationException", "A validation exception occurred")
        assert message in [m["Message"] for m in error["Elements"][0]["ValidationErrors"]], error
    assert services.documents_count(tenant=NZ) == 0

    journal = connected.api("PUT", "ManualJournals", tenant=nz, body={"ManualJournals": [
        {"Narration": "", "Date": "2026-10-31", "JournalLines": [
            {"LineAmount": 100, "AccountCode": "429"}, {"LineAmount": -90, "AccountCode": "620"}]}]})
    messages = [m["Message"] for m in journal.json()["Elements"][0]["ValidationErrors"]]
    assert messages == ["The Narration field is mandatory.", "The total debits (100.00) must equal total credits (90.00)."]


def test_duplicate_sales_invoice_numbers_are_refused_but_bills_may_repeat(connected, nz):
    first = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice(InvoiceNumber="SI-1")]})
    assert first.status_code == 200
    again = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice(InvoiceNumber="SI-1")]})
    assert again.status_code == 400
    assert again.json()["Elements"][0]["ValidationErrors"] == [{"Message": "Invoice # must be unique."}]
    bill = invoice(Type="ACCPAY", Contact={"Name": "Vector Energy"}, InvoiceNumber="B-7",
                   LineItems=[{"Description": "Power", "Quantity": 1, "UnitAmount": 80, "AccountCode": "445",
                               "TaxType": "INPUT2"}])
    assert connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [bill]}).status_code == 200
    assert connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [bill]}).status_code == 200
    assert services.documents_count(tenant=NZ, doc_type="ACCPAY") == 2


def test_summarize_errors_false_gives_per_element_results(connected, nz, spec):
    bad = invoice(InvoiceNumber="SI-2", LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1,
                                                    "AccountCode": "999"}])
    answer = connected.api("POST", "Invoices", tenant=nz, params={"summarizeErrors": "false"},
                           body={"Invoices": [invoice(InvoiceNumber="SI-1"), bad]})
    assert answer.status_code == 200
    spec.request(answer)
    spec.response(answer)
    ok, failed = answer.json()["Invoices"]
    assert (ok["StatusAttributeString"], ok["HasErrors"]) == ("OK", False)
    assert (failed["StatusAttributeString"], failed["HasErrors"]) == ("ERROR", True)
    assert failed["ValidationErrors"] == [{"Message": "Account code '999' is not a valid code for this document."}]
    assert services.documents_count(tenant=NZ) == 1

    # Without it, one bad element means nothing is saved.
    summarised = connected.api("POST", "Invoices", tenant=nz,
                               body={"Invoices": [invoice(InvoiceNumber="SI-3"), bad]})
    assert summarised.status_code == 400
    spec.response(summarised)
    assert services.documents_count(tenant=NZ) == 1


def test_contact_by_name_is_created_and_post_with_id_updates(connected, nz):
    created = connected.api("PUT", "Invoices", tenant=nz,
                            body={"Invoices": [invoice(Contact={"Name": "Brand New Café"})]}).json()["Invoices"][0]
    contacts = connected.api("GET", "Contacts", tenant=nz, params={"where": 'Name=="Brand New Café"'}).json()
    assert contacts["Contacts"][0]["ContactID"] == created["Contact"]["ContactID"]
    assert contacts["Contacts"][0]["IsCustomer"] is True

    updated = connected.api("POST", "Invoices", tenant=nz, body={"Invoices": [{
        "InvoiceID": created["InvoiceID"], "Reference": "SO-1001-b",
        "LineItems": [{"Description": "Decaf 1 kg", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}]}]})
    assert updated.status_code == 200, updated.text
    again = updated.json()["Invoices"][0]
    assert again["InvoiceID"] == created["InvoiceID"] and again["InvoiceNumber"] == created["InvoiceNumber"]
    assert (again["Reference"], again["Total"]) == ("SO-1001-b", 115.0)
    assert services.documents_count(tenant=NZ, kind="invoice") == 1


def test_payments_settle_invoices_and_are_checked(connected, nz):
    saved = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]}).json()["Invoices"][0]
    too_much = connected.api("PUT", "Payments", tenant=nz, body={"Payments": [
        {"Invoice": {"InvoiceID": saved["InvoiceID"]}, "Account": {"Code": "090"}, "Date": "2026-10-05",
         "Amount": 1000}]})
    assert too_much.status_code == 400
    assert too_much.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Payment amount exceeds the amount outstanding on this document."
    wrong_account = connected.api("PUT", "Payments", tenant=nz, body={"Payments": [
        {"Invoice": {"InvoiceID": saved["InvoiceID"]}, "Account": {"Code": "200"}, "Amount": 1}]})
    assert wrong_account.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "Account type is invalid for making a payment to/from"
    paid = connected.api("PUT", "Payments", tenant=nz, body={"Payments": [
        {"Invoice": {"InvoiceNumber": saved["InvoiceNumber"]}, "Account": {"Code": "090"}, "Date": "2026-10-05",
         "Amount": saved["Total"], "Reference": "DEP-1"}]})
    assert paid.status_code == 200
    now_paid = connected.api("GET", f"Invoices/{saved['InvoiceID']}", tenant=nz).json()["Invoices"][0]
    assert (now_paid["Status"], now_paid["AmountDue"], now_paid["AmountPaid"]) == ("PAID", 0.0, saved["Total"])
    edit = connected.api("POST", "Invoices", tenant=nz, body={"Invoices": [
        {"InvoiceID": saved["InvoiceID"], "Reference": "changed"}]})
    assert edit.json()["Elements"][0]["ValidationErrors"][0]["Message"] == \
        "This document cannot be edited as it has a payment or credit note allocated to it."
    found = connected.api("GET", "Payments", tenant=nz, params={"where": 'Reference=="DEP-1"'}).json()["Payments"]
    assert found[0]["Invoice"]["InvoiceID"] == saved["InvoiceID"]


def test_credit_notes_found_by_number(connected, nz):
    answer = connected.api("PUT", "CreditNotes", tenant=nz, body={"CreditNotes": [
        {"Type": "ACCRECCREDIT", "Contact": {"Name": "Cuba Street Café"}, "Date": "2026-10-02",
         "CreditNoteNumber": "CN-77", "Status": "AUTHORISED",
         "LineItems": [{"Description": "Returned beans", "Quantity": 1, "UnitAmount": 30, "AccountCode": "200"}]}]})
    assert answer.status_code == 200, answer.text
    found = connected.api("GET", "CreditNotes", tenant=nz, params={"where": 'CreditNoteNumber=="CN-77"'}).json()
    assert [c["CreditNoteNumber"] for c in found["CreditNotes"]] == ["CN-77"]
    assert found["CreditNotes"][0]["RemainingCredit"] == 34.5
    other = connected.api("PUT", "CreditNotes", tenant=nz, body={"CreditNotes": [
        {"Type": "ACCRECCREDIT", "Contact": {"Name": "Cuba Street Café"}, "Date": "2026-10-03",
         "CreditNoteNumber": "CN-78", "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1,
                                                      "AccountCode": "200"}]}]})
    assert other.status_code == 200, other.text
    # The file gives GET /CreditNotes no CreditNoteNumbers parameter: Xero ignores it, so does the sandbox.
    ignored = connected.api("GET", "CreditNotes", tenant=nz, params={"CreditNoteNumbers": "CN-77"}).json()
    assert sorted(c["CreditNoteNumber"] for c in ignored["CreditNotes"]) == ["CN-77", "CN-78"]


def test_contacts_are_paged_and_filtered_by_if_modified_since(connected, nz, spec):
    assert len(connected.api("GET", "Contacts", tenant=nz).json()["Contacts"]) == 30  # ARCHIVED left out
    everything = connected.api("GET", "Contacts", tenant=nz, params={"includeArchived": "true"}).json()["Contacts"]
    assert len(everything) == 31
    page = connected.api("GET", "Contacts", tenant=nz, params={"page": 2, "pageSize": 20, "includeArchived": "true"})
    spec.response(page)
    body = page.json()
    assert body["pagination"] == {"page": 2, "pageSize": 20, "pageCount": 2, "itemCount": 31}
    assert len(body["Contacts"]) == 11
    assert connected.api("GET", "Contacts", tenant=nz, params={"page": 1}).json()["pagination"]["pageSize"] == 100

    since = (datetime.now(timezone.utc) + timedelta(seconds=1)).replace(microsecond=0)
    time.sleep(1.1)
    services.add_contact(tenant=NZ, name="Late Arrival Ltd")
    changed = connected.api("GET", "Contacts", tenant=nz, headers={"If-Modified-Since": since.isoformat()})
    assert [c["Name"] for c in changed.json()["Contacts"]] == ["Late Arrival Ltd"]
    as_utc = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(connected.api("GET", "Contacts", tenant=nz, headers={"If-Modified-Since": as_utc})
               .json()["Contacts"]) == 1
    # An RFC 1123 HTTP date is not the ISO 8601 date-time the file types the header as: refused.
    http_date = since.strftime("%a, %d %b %Y %H:%M:%S GMT")
    refused = connected.api("GET", "Contacts", tenant=nz, headers={"If-Modified-Since": http_date})
    assert refused.status_code == 400 and "ISO 8601" in refused.json()["Message"]


def test_tenant_isolation_and_missing_tenant(connected, tenant_ids):
    connected.api("PUT", "Invoices", tenant=tenant_ids[NZ], body={"Invoices": [invoice()]})
    assert connected.api("GET", "Invoices", tenant=tenant_ids[US]).json()["Invoices"] == []
    assert connected.api("GET", "Invoices", tenant="not-a-tenant").status_code == 403


def test_deep_links_open_the_document_page(connected, nz):
    saved = connected.api("PUT", "Invoices", tenant=nz, body={"Invoices": [invoice()]}).json()["Invoices"][0]
    link = (f"{connected.base}/xero-sandbox/organisationlogin/default.aspx?shortcode={NZ}"
            f"&redirecturl=/AccountsReceivable/View.aspx?InvoiceID={saved['InvoiceID']}")
    page = connected.browser.get(link)
    assert page.status_code == 200
    assert "Invoice INV-0001" in page.text and "Ponsonby Espresso Bar" in page.text and "146.63" in page.text
    contact = connected.browser.get(f"{connected.base}/xero-sandbox/organisationlogin/default.aspx",
                                    params={"shortcode": NZ,
                                            "redirecturl": f"/Contacts/View/{saved['Contact']['ContactID']}"})
    assert "Ponsonby Espresso Bar" in contact.text and "INV-0001" in contact.text
    # Signed out: the sandbox's sign-in page first.
    connected.browser.cookies.clear()
    assert "Log in to Xero" in connected.browser.get(link).text
