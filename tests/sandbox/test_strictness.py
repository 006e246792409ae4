"""The sandbox is as strict as Xero where integrators found Xero strict (docs/sandbox.md,
"Strictness rules"): each test pins the value Xero keeps or the answer Xero gives, over real
HTTP, on whichever database the suite runs on (SQLite and PostgreSQL in CI)."""
import json

import pytest

from xero_sandbox import contract, services
from xero_sandbox.formats import contact_name_key

from .conftest import NZ, SPEC_PATH


@pytest.fixture
def nz(connected, tenant_ids):
    return tenant_ids[NZ]


def sales_invoice(**over):
    body = {"Type": "ACCREC", "Contact": {"Name": "Ponsonby Espresso Bar"}, "Date": "2026-10-01",
            "DueDate": "2026-10-31", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Green beans", "Quantity": 7000, "UnitAmount": 0.1648,
                           "AccountCode": "200", "TaxType": "OUTPUT2"}]}
    body.update(over)
    return body


def put(connected, nz, resource, element, params=None):
    return connected.api("PUT", resource, tenant=nz, body={resource: [element]}, params=params)


def contacts_count():
    return next(iter(services.counts(tenant=NZ)["tenants"].values()))["contacts"]


def messages(answer):
    body = answer.json()
    return [m["Message"] for el in body.get("Elements", []) for m in el.get("ValidationErrors", [])]


# --- money ------------------------------------------------------------------------------------

def test_unit_amount_is_kept_to_two_decimals_without_unitdp(connected, nz):
    """The issue's example: 7,000 × 0.1648 at 15 %. Without unitdp=4 Xero keeps 0.16."""
    saved = put(connected, nz, "Invoices", sales_invoice()).json()["Invoices"][0]
    line = saved["LineItems"][0]
    assert (line["UnitAmount"], line["LineAmount"], line["TaxAmount"]) == (0.16, 1120.0, 168.0)
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (1120.0, 168.0, 1288.0)


def test_unitdp_4_keeps_four_decimals_and_reads_show_them_only_when_asked(connected, nz):
    answer = put(connected, nz, "Invoices", sales_invoice(InvoiceNumber="INV-4DP"), params={"unitdp": 4})
    saved = answer.json()["Invoices"][0]
    assert saved["LineItems"][0]["UnitAmount"] == 0.1648
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (1153.6, 173.04, 1326.64)
    plain = connected.api("GET", f"Invoices/{saved['InvoiceID']}", tenant=nz).json()["Invoices"][0]
    assert plain["LineItems"][0]["UnitAmount"] == 0.16 and plain["Total"] == 1326.64
    four = connected.api("GET", f"Invoices/{saved['InvoiceID']}", tenant=nz, params={"unitdp": 4}).json()
    assert four["Invoices"][0]["LineItems"][0]["UnitAmount"] == 0.1648


def test_credit_notes_follow_unitdp_too(connected, nz):
    note = {"Type": "ACCRECCREDIT", "Contact": {"Name": "Cuba Street Café"}, "Date": "2026-10-02",
            "Status": "AUTHORISED", "LineItems": [{"Description": "x", "Quantity": 3, "UnitAmount": 1.005,
                                                   "AccountCode": "200", "TaxType": "OUTPUT2"}]}
    two = put(connected, nz, "CreditNotes", note).json()["CreditNotes"][0]
    assert two["LineItems"][0]["UnitAmount"] == 1.01  # half away from zero
    assert (two["SubTotal"], two["Total"]) == (3.03, 3.48)
    four = put(connected, nz, "CreditNotes", note, params={"unitdp": "4"}).json()["CreditNotes"][0]
    assert (four["LineItems"][0]["UnitAmount"], four["SubTotal"], four["TotalTax"]) == (1.005, 3.02, 0.45)


def test_tax_is_rounded_per_line_then_summed(connected, nz):
    """Xero's "Rounding in Xero" example: 25.06, 25.61, 25.63 at 15 % → tax 11.44, not 11.45."""
    lines = [{"Description": f"Product {n}", "Quantity": 1, "UnitAmount": amount, "AccountCode": "200",
              "TaxType": "OUTPUT2"} for n, amount in enumerate((25.06, 25.61, 25.63))]
    saved = put(connected, nz, "Invoices", sales_invoice(LineItems=lines)).json()["Invoices"][0]
    assert (saved["SubTotal"], saved["TotalTax"], saved["Total"]) == (76.3, 11.44, 87.74)


@pytest.mark.parametrize("line_amount_types, expected", [
    ("Exclusive", (100.0, 15.0, 115.0)),
    ("Inclusive", (86.96, 13.04, 100.0)),
    ("NoTax", (100.0, 0.0, 100.0)),
])
def test_totals_per_line_amount_types(connected, nz, line_amount_types, expected):
    line = {"Description": "x", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200"}
    if line_amount_types != "NoTax":
        line["TaxType"] = "OUTPUT2"
    saved = put(connected, nz, "Invoices", sales_invoice(LineAmountTypes=line_amount_types, LineItems=[line]))
    body = saved.json()["Invoices"][0]
    assert (body["SubTotal"], body["TotalTax"], body["Total"]) == expected


def test_manual_journal_must_balance_to_the_cent(connected, nz):
    unbalanced = {"Narration": "Accrual", "Date": "2026-10-31", "Status": "POSTED", "JournalLines": [
        {"LineAmount": 100.00, "AccountCode": "429"}, {"LineAmount": -99.99, "AccountCode": "620"}]}
    answer = put(connected, nz, "ManualJournals", unbalanced)
    assert answer.status_code == 400
    assert messages(answer) == ["The total debits (100.00) must equal total credits (99.99)."]
    balanced = dict(unbalanced, JournalLines=[{"LineAmount": 100.10, "AccountCode": "429"},
                                              {"LineAmount": -100.10, "AccountCode": "620"}])
    assert put(connected, nz, "ManualJournals", balanced).status_code == 200


def test_absurd_numbers_are_refused_not_a_500(connected, nz):
    line = {"Description": "x", "Quantity": "1e30", "UnitAmount": 1, "AccountCode": "200"}
    answer = put(connected, nz, "Invoices", sales_invoice(LineItems=[line]))
    assert answer.status_code == 400 and "Quantity is out of range." in messages(answer)


# --- required, lengths, enums -------------------------------------------------------------------

def test_authorised_invoice_and_bill_need_a_due_date(connected, nz):
    for doc_type, contact in (("ACCREC", "Ponsonby Espresso Bar"), ("ACCPAY", "Vector Energy")):
        element = sales_invoice(Type=doc_type, Contact={"Name": contact})
        del element["DueDate"]
        if doc_type == "ACCPAY":
            element["LineItems"][0].update(AccountCode="429", TaxType="INPUT2")
        answer = put(connected, nz, "Invoices", element)
        assert answer.status_code == 400
        assert messages(answer) == ["The document DueDate field must be specified."]
        assert put(connected, nz, "Invoices", dict(element, Status="DRAFT")).status_code == 200
    assert services.documents_count(tenant=NZ, kind="invoice") == 2  # the two drafts only


def test_reference_is_dropped_on_bills_and_kept_on_sales(connected, nz):
    bill = sales_invoice(Type="ACCPAY", Contact={"Name": "Vector Energy"}, Reference="PO-77",
                         LineItems=[{"Description": "Power", "Quantity": 1, "UnitAmount": 80, "AccountCode": "445"}])
    saved = put(connected, nz, "Invoices", bill).json()["Invoices"][0]
    assert saved["Reference"] == ""
    sale = put(connected, nz, "Invoices", sales_invoice(Reference="SO-9")).json()["Invoices"][0]
    assert sale["Reference"] == "SO-9"
    supplier_credit = {"Type": "ACCPAYCREDIT", "Contact": {"Name": "Vector Energy"}, "Date": "2026-10-02",
                       "Reference": "RMA-1", "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 5,
                                                            "AccountCode": "445"}]}
    assert put(connected, nz, "CreditNotes", supplier_credit).json()["CreditNotes"][0]["Reference"] == ""


def test_lengths_from_the_openapi_file(connected, nz):
    long_name = "N" * 263  # the length XeroAPI/xero-python#70 saw
    answer = put(connected, nz, "Invoices", sales_invoice(Contact={"Name": long_name}))
    assert answer.status_code == 400
    assert "The Contact.Name must not be more than 255 characters long." in messages(answer)
    answer = put(connected, nz, "Contacts", {"Name": "Short", "ContactNumber": "9" * 51,
                                              "EmailAddress": "a" * 250 + "@x.example"})
    assert set(messages(answer)) == {"The ContactNumber must not be more than 50 characters long.",
                                     "The EmailAddress must not be more than 255 characters long."}
    answer = put(connected, nz, "Invoices", sales_invoice(InvoiceNumber="I" * 256))
    assert messages(answer) == ["The InvoiceNumber must not be more than 255 characters long."]
    assert contacts_count() == 31  # nothing created by the refused elements


def test_enums_from_the_openapi_file(connected, nz):
    answer = put(connected, nz, "Invoices", sales_invoice(LineAmountTypes="exclusive", CurrencyCode="XYZ"))
    assert set(messages(answer)) >= {"'exclusive' is not a valid value for LineAmountTypes.",
                                     "'XYZ' is not a valid value for CurrencyCode."}
    answer = put(connected, nz, "ManualJournals", {"Date": "2026-10-31", "JournalLines": [
        {"LineAmount": 1, "AccountCode": "429"}, {"LineAmount": -1, "AccountCode": "620"}]})
    assert messages(answer) == ["The Narration field is mandatory."]


def test_rules_json_matches_the_vendored_openapi_file():
    """openapi_rules.json is what `manage.py sandbox_openapi_rules` extracts from the file."""
    from xero_sandbox.management.commands.sandbox_openapi_rules import load_spec
    built = contract.build_rules(load_spec(SPEC_PATH))
    assert json.loads(json.dumps(built)) == contract.rules()
    assert contract.rules()["schemas"]["Contact"]["properties"]["Name"] == {"maxLength": 255}
    assert "InvoiceNumbers" in contract.list_parameters("Invoices")
    assert "CreditNoteNumbers" not in contract.list_parameters("CreditNotes")


# --- contacts: one name, matched the same way on every database ----------------------------------

def test_a_name_differing_in_case_and_spaces_reuses_the_contact(connected, nz):
    before = contacts_count()
    answer = put(connected, nz, "Invoices", sales_invoice(Contact={"Name": "  CUBA   STREET CAFÉ "}))
    saved = answer.json()["Invoices"][0]
    assert saved["Contact"]["Name"] == "Cuba Street Café"
    assert contacts_count() == before


def test_contact_names_are_unique_among_active_contacts(connected, nz):
    answer = put(connected, nz, "Contacts", {"Name": "cuba street  café"})
    assert answer.status_code == 400
    assert messages(answer) == ["The contact name cuba street café is already assigned to another contact. "
                                "The contact name must be unique across all active contacts."]


def test_name_key_is_made_in_python():
    assert contact_name_key("  CUBA \t STREET  CAFÉ ") == contact_name_key("Cuba Street Café") == "cuba street café"
    assert contact_name_key("Cafe\u0301") == contact_name_key("Café")  # decomposed é = composed é


# --- reading: where, list parameters, If-Modified-Since ------------------------------------------

@pytest.mark.parametrize("where", [
    'Narration=="Reclass \\"Promo\\" costs"',
    'Narration=="Reclass ""Promo"" costs"',
    'Name=="Bat "QUOTE" Man"',
])
def test_where_strings_cannot_hold_a_double_quote(connected, nz, where):
    answer = connected.api("GET", "ManualJournals", tenant=nz, params={"where": where})
    assert answer.status_code == 400
    assert (answer.json()["ErrorNumber"], answer.json()["Type"]) == (16, "QueryParseException")


def test_look_ups_by_the_files_id_and_number_parameters(connected, nz):
    first = put(connected, nz, "Invoices", sales_invoice(InvoiceNumber="INV-A")).json()["Invoices"][0]
    put(connected, nz, "Invoices", sales_invoice(InvoiceNumber="INV-B", Status="DRAFT"))
    by = lambda **p: sorted(i["InvoiceNumber"] for i in connected.api(  # noqa: E731
        "GET", "Invoices", tenant=nz, params=p).json()["Invoices"])
    assert by(InvoiceNumbers="INV-A,INV-Z") == ["INV-A"]
    assert by(IDs=first["InvoiceID"]) == ["INV-A"]
    assert by(Statuses="DRAFT") == ["INV-B"]
    assert by(ContactIDs=first["Contact"]["ContactID"]) == ["INV-A", "INV-B"]
    contact = connected.api("GET", "Contacts", tenant=nz, params={"IDs": first["Contact"]["ContactID"]}).json()
    assert [c["Name"] for c in contact["Contacts"]] == ["Ponsonby Espresso Bar"]


def test_paging_gives_page_count(connected, nz):
    for n in range(5):
        put(connected, nz, "Invoices", sales_invoice(InvoiceNumber=f"INV-P{n}"))
    body = connected.api("GET", "Invoices", tenant=nz, params={"page": 2, "pageSize": 2}).json()
    assert body["pagination"] == {"page": 2, "pageSize": 2, "pageCount": 3, "itemCount": 5}
    assert len(body["Invoices"]) == 2


@pytest.mark.parametrize("value, status", [
    ("2026-01-01T00:00:00Z", 200), ("2026-01-01T00:00:00", 200), ("2020-02-06T12:17:43.202-08:00", 200),
    ("Thu, 01 Jan 2026 00:00:00 GMT", 400), ("/Date(1767225600000)/", 400), ("yesterday", 400),
])
def test_if_modified_since_is_an_iso_8601_date_time(connected, nz, value, status):
    answer = connected.api("GET", "Invoices", tenant=nz, headers={"If-Modified-Since": value})
    assert answer.status_code == status, answer.text


def test_summarize_errors_only_where_the_file_lists_it(connected, nz):
    """POST /Payments has no summarizeErrors in the file: one bad payment fails the whole call."""
    saved = put(connected, nz, "Invoices", sales_invoice()).json()["Invoices"][0]
    good = {"Invoice": {"InvoiceID": saved["InvoiceID"]}, "Account": {"Code": "090"}, "Date": "2026-10-05",
            "Amount": 10}
    bad = dict(good, Amount=10_000_000)
    batch = {"Payments": [good, bad]}
    posted = connected.api("POST", "Payments", tenant=nz, body=batch, params={"summarizeErrors": "false"})
    assert posted.status_code == 400 and services.documents_count(tenant=NZ, kind="payment") == 0
    put_ = connected.api("PUT", "Payments", tenant=nz, body=batch, params={"summarizeErrors": "false"})
    assert put_.status_code == 200 and services.documents_count(tenant=NZ, kind="payment") == 1


def test_a_line_amount_must_match_quantity_times_the_kept_unit_amount(connected, nz):
    """A client that computed 7,000 × 0.1648 = 1,153.60 but did not say unitdp=4 is told so."""
    line = {"Description": "Green beans", "Quantity": 7000, "UnitAmount": 0.1648, "LineAmount": 1153.60,
            "AccountCode": "200", "TaxType": "OUTPUT2"}
    answer = put(connected, nz, "Invoices", sales_invoice(LineItems=[line]))
    assert messages(answer) == ["The line total 1153.60 does not match the expected line total 1120.00"]
    assert put(connected, nz, "Invoices", sales_invoice(LineItems=[line]), params={"unitdp": 4}).status_code == 200


def test_account_codes_and_names_are_unique_ignoring_case_the_same_on_every_database(connected, nz):
    """PUT /Accounts: Xero's "Please enter a unique Code/Name." — compared case-folded, so a
    non-ASCII name clashes on SQLite exactly as on PostgreSQL."""
    first = put(connected, nz, "Accounts", {"Code": "K-ŌW1", "Name": "Kōwhai Sales", "Type": "REVENUE"})
    assert first.status_code == 200, first.text
    again = put(connected, nz, "Accounts", {"Code": "k-ōw1", "Name": "KŌWHAI  SALES", "Type": "REVENUE"})
    assert again.status_code == 400
    assert messages(again) == ["Please enter a unique Code.", "Please enter a unique Name."]
