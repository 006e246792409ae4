"""Pre-flight: what a document needs from the lists, in a bookkeeper's words."""
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from xero_connect.models import (
    Account,
    Contact,
    Currency,
    DocumentLine,
    DocumentType,
    ExchangeRate,
    ListName,
    ListSyncState,
    SourceDocument,
    TaxRate,
    TrackingCategory,
    TrackingOption,
)
from xero_connect.selectors.preflight import PreflightLists, document_preflight, documents_preflight


def imported(org, *names):
    for name in names or [n for n, _ in ListName.choices]:
        ListSyncState.objects.update_or_create(organisation=org, list_name=name,
                                               defaults={"last_refreshed_at": timezone.now()})


@pytest.fixture
def lists(org):
    Account.objects.create(organisation=org, xero_id="a1", code="200", name="Sales")
    Account.objects.create(organisation=org, xero_id="a2", code="455", name="Old expenses", is_active=False,
                           status="ARCHIVED")
    Account.objects.create(organisation=org, xero_id="a3", code="090", name="Bank", type="BANK")
    TaxRate.objects.create(organisation=org, tax_type="OUTPUT2", name="GST on Income")
    TaxRate.objects.create(organisation=org, tax_type="OLD1", name="Old GST", is_active=False, status="DELETED")
    Contact.objects.create(organisation=org, xero_id="c1", name="Gone Ltd", is_active=False, status="ARCHIVED")
    Contact.objects.create(organisation=org, xero_id="c2", name="Good Customer")
    region = TrackingCategory.objects.create(organisation=org, xero_id="t1", name="Region")
    TrackingOption.objects.create(organisation=org, category=region, xero_id="o1", name="North")
    TrackingOption.objects.create(organisation=org, category=region, xero_id="o2", name="South", is_active=False,
                                  status="ARCHIVED")
    Currency.objects.create(organisation=org, code="NZD")
    Currency.objects.create(organisation=org, code="USD")
    Currency.objects.create(organisation=org, code="GBP", is_active=False)
    ExchangeRate.objects.create(organisation=org, currency_code="USD", rate=Decimal("0.6"))
    imported(org)


def invoice(org, number, *, contact="Good Customer", currency="NZD", lines=(("200", "OUTPUT2", []),)):
    doc = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=number,
                                        date=date(2026, 3, 1), contact_name=contact, currency_code=currency)
    for i, (code, tax, tracking) in enumerate(lines):
        DocumentLine.objects.create(document=doc, position=i, account_code=code, tax_type=tax, tracking=tracking,
                                    quantity=1, unit_amount=10)
    return doc


def test_a_document_that_fits_the_lists_has_no_problems(org, lists):
    doc = invoice(org, "INV-1", lines=[("200", "OUTPUT2", [{"category": "region", "option": "north"}])])
    assert document_preflight(document=doc) == []


def test_an_unknown_contact_is_fine_because_xero_creates_it(org, lists):
    assert document_preflight(document=invoice(org, "INV-2", contact="Brand New Ltd")) == []


def test_each_missing_or_inactive_item_is_named_in_bookkeeper_words(org, lists):
    doc = invoice(org, "INV-3", contact="gone ltd", currency="EUR", lines=[
        ("999", "OUTPUT9", [{"category": "Region", "option": "South"}]),
        ("455", "OLD1", [{"category": "Region", "option": "West"}, {"category": "Project", "option": "X"}]),
    ])
    assert document_preflight(document=doc) == [
        "Contact Gone Ltd is archived in Xero — restore the contact in Xero and refresh lists, or choose another "
        "contact",
        "Currency EUR is not in your currency list: no exchange rate set up for EUR in Xero Connect — add a rate, "
        "then refresh lists",
        "Account code 999 is not in your Xero chart of accounts — refresh lists or fix the code",
        "Account code 455 (Old expenses) is archived in Xero — restore it in Xero and refresh lists, or use another "
        "account",
        "Tax type OUTPUT9 is not in your Xero tax rates — refresh lists or fix the tax type",
        "Tax rate Old GST (OLD1) is deleted in Xero — use another tax rate, or restore it in Xero and refresh lists",
        "Tracking option South in Region is archived in Xero — restore it in Xero and refresh lists, or fix the "
        "document",
        "Tracking option West is not in tracking category Region in Xero — add it in Xero and refresh lists, or fix "
        "the document",
        "Tracking category Project is not in your Xero tracking categories — refresh lists or fix the document",
    ]


def test_a_currency_with_a_rate_but_not_enabled_in_xero(org, lists):
    ExchangeRate.objects.create(organisation=org, currency_code="GBP", rate=Decimal("0.5"))
    assert document_preflight(document=invoice(org, "INV-4", currency="GBP")) == [
        "Currency GBP is not in your currency list: it is not enabled in Xero — enable GBP in Xero, then refresh "
        "lists"]


def test_payment_account_must_take_payments(org, lists):
    inv = invoice(org, "INV-5")
    pay = SourceDocument.objects.create(organisation=org, doc_type=DocumentType.PAYMENT, number="PAY-1",
                                        date=date(2026, 3, 2), paid_document=inv, payment_account_code="200",
                                        currency_code="EUR")
    problems = document_preflight(document=pay)
    assert problems == ["Account code 200 (Sales) cannot receive payments in Xero — use a bank account, or turn on "
                        "“Enable payments to this account” in Xero and refresh lists"]
    pay.payment_account_code = "090"
    pay.save()
    assert document_preflight(document=pay) == []


def test_lists_never_imported_are_not_checked(org):
    Account.objects.create(organisation=org, xero_id="a1", code="200", name="Sales")
    imported(org, ListName.ACCOUNTS)
    doc = invoice(org, "INV-6", currency="JPY", lines=[("201", "NOPE", [{"category": "Dept", "option": "A"}])])
    assert document_preflight(document=doc) == [
        "Account code 201 is not in your Xero chart of accounts — refresh lists or fix the code"]


def test_bulk_preflight_uses_the_same_queries_for_one_or_fifty_documents(org, other_org, lists,
                                                                         django_assert_num_queries):
    other = invoice(other_org, "OTHER-1", lines=[("200", "OUTPUT2", [])])  # lists of other_org never imported
    docs = [invoice(org, f"INV-{i}", contact=f"Customer {i}", lines=[
        ("200", "OUTPUT2", [{"category": "Region", "option": "North"}]), (str(900 + i), "OUTPUT2", [])])
        for i in range(50)]
    with django_assert_num_queries(11):
        one = documents_preflight(documents=docs[:1])
    with django_assert_num_queries(11):
        many = documents_preflight(documents=docs + [other])
    assert one[docs[0].pk] == many[docs[0].pk]
    assert len(many) == 51 and many[other.pk] == []
    assert many[docs[7].pk] == ["Account code 907 is not in your Xero chart of accounts — refresh lists or fix the "
                                "code"]


def test_a_drains_snapshot_of_the_lists_answers_as_a_fresh_read_and_reads_nothing_twice(
        org, lists, django_assert_num_queries):
    from django.db.models import Prefetch

    docs = [
        invoice(org, "S-1", contact="gone ltd", currency="EUR", lines=[
            ("999", "OUTPUT9", [{"category": "Region", "option": "South"}]),
            ("455", "OLD1", [{"category": "Region", "option": "West"}, {"category": "Project", "option": "X"}])]),
        invoice(org, "S-2", currency="GBP", lines=[("200", "OUTPUT2", [{"category": "region", "option": "north"}])]),
        invoice(org, "S-3", contact="Brand New Ltd", currency="USD"),
        SourceDocument.objects.create(organisation=org, doc_type=DocumentType.PAYMENT, number="PAY-1",
                                      date=date(2026, 3, 2), payment_account_code="200", currency_code="EUR"),
    ]
    fresh = documents_preflight(documents=docs)
    assert [len(fresh[d.pk]) for d in docs] == [9, 1, 0, 1]
    snapshot = PreflightLists(organisation_ids=[org.pk], tenant_ids={org.pk: ""}, whole_lists=True)
    # The lines loaded with the documents (as the export claim loads them) are not read again.
    loaded = list(SourceDocument.objects.filter(pk__in=[d.pk for d in docs]).prefetch_related(
        Prefetch("lines", queryset=DocumentLine.objects.order_by("position", "id"))).order_by("pk"))
    assert documents_preflight(documents=loaded, lists=snapshot) == fresh
    # The next batch, naming the same lists and contacts: no query at all.
    with django_assert_num_queries(0):
        assert documents_preflight(documents=loaded, lists=snapshot) == fresh
    # A new contact name costs one query (contacts are read by name, never whole).
    Contact.objects.create(organisation=org, xero_id="c3", name="Closed Ltd", is_active=False, status="ARCHIVED")
    new = SourceDocument.objects.filter(pk=invoice(org, "S-4", contact="Closed Ltd").pk).prefetch_related(
        "lines").get()
    with django_assert_num_queries(1):
        from_snapshot = documents_preflight(documents=[new], lists=snapshot)
    assert from_snapshot == documents_preflight(documents=[new]) == {new.pk: [
        "Contact Closed Ltd is archived in Xero — restore the contact in Xero and refresh lists, or choose another "
        "contact"]}
