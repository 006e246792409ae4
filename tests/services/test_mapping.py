"""Account mapping (#15): suggestions by type, filtered choices, items waiting as "Needs mapping"
until mapped, the chart changing under a mapping, and a switch of Xero organisation."""
from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.fakes import FakeXero, records
from xero_connect.models import (
    Account,
    CategoryMapping,
    DocumentType,
    ExportState,
    HostCategory,
    ListName,
    ListSyncState,
    TaxRate,
    TrackingCategory,
    TrackingOption,
)
from xero_connect.selectors import mapping as selectors
from xero_connect.services import exports, mapping
from xero_connect.services.documents import LineSpec, document_create, documents_import_csv

Kind = HostCategory.Kind


@pytest.fixture
def xero():
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeXero(rsps)


def chart(org, tenant_id, *, prefix=""):
    """A small chart of accounts for `tenant_id`, as a refresh would have left it."""
    rows = [("200", "Sales", "REVENUE", "REVENUE", "OUTPUT2", False, "ACTIVE"),
            ("260", "Other Revenue", "OTHERINCOME", "REVENUE", "OUTPUT2", False, "ACTIVE"),
            ("205", "Coffee Sales", "SALES", "REVENUE", "OUTPUT2", False, "ARCHIVED"),
            ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "INPUT2", False, "ACTIVE"),
            ("425", "Freight & Courier", "OVERHEADS", "EXPENSE", "INPUT2", False, "ACTIVE"),
            ("090", "Business Bank Account", "BANK", "ASSET", "", False, "ACTIVE"),
            ("610", "Accounts Receivable", "CURRENT", "ASSET", "", False, "ACTIVE"),
            ("880", "Owner Drawings", "CURRENT", "ASSET", "", True, "ACTIVE")]
    for code, name, type_, cls, tax, pay, status in rows:
        Account.objects.create(organisation=org, tenant_id=tenant_id, xero_id=f"{prefix}{tenant_id}-{code}",
                               code=code, name=name, type=type_, account_class=cls, tax_type=tax,
                               enable_payments=pay, status=status, is_active=status == "ACTIVE")
    TaxRate.objects.create(organisation=org, tenant_id=tenant_id, tax_type="OUTPUT2", name="GST on Income",
                           can_apply_to_revenue=True, can_apply_to_expenses=False)
    TaxRate.objects.create(organisation=org, tenant_id=tenant_id, tax_type="INPUT2", name="GST on Expenses",
                           can_apply_to_revenue=False, can_apply_to_expenses=True)
    region = TrackingCategory.objects.create(organisation=org, tenant_id=tenant_id, xero_id=f"{tenant_id}-r",
                                             name="Region")
    TrackingOption.objects.create(organisation=org, tenant_id=tenant_id, category=region, xero_id=f"{tenant_id}-n",
                                  name="North")
    for name in (ListName.ACCOUNTS, ListName.TAX_RATES, ListName.TRACKING):
        ListSyncState.objects.update_or_create(organisation=org, list_name=name, defaults={
            "tenant_id": tenant_id, "last_refreshed_at": "2026-01-01T00:00:00Z"})


@pytest.fixture
def connection(org, admin_user):
    connection = factories.make_connection(org, actor=admin_user)
    chart(org, connection.tenant_id)
    return connection


def sale(org, number, *, category="COFFEE-WHOLESALE", tax_code="", dimension=""):
    return document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=number, date=date.today(),
                           due_date=date.today(), contact_name="Ridgeway",
                           lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("10.50"),
                                           category=category, tax_code=tax_code, dimension=dimension)])


def category(org, kind, code):
    return HostCategory.objects.get(organisation=org, kind=kind, code=code)


def test_suggestions_go_by_name_then_by_type(org, connection):
    for kind, code in [(Kind.SALES, "COFFEE-WHOLESALE"), (Kind.SALES, "MISC"), (Kind.PURCHASE, "FREIGHT-IN"),
                       (Kind.PURCHASE, "BEANS"), (Kind.PAYMENT_METHOD, "EFTPOS"), (Kind.TAX_CODE, "GST-INCOME"),
                       (Kind.DIMENSION, "NORTH")]:
        HostCategory.objects.create(organisation=org, kind=kind, code=code, name=code)
    assert mapping.mapping_suggest(organisation=org) == 7
    got = {(m.category.code): m for m in CategoryMapping.objects.filter(organisation=org)}
    assert got["MISC"].account.code == "200"           # "Sales" for a sales category
    assert got["COFFEE-WHOLESALE"].account.code == "200"  # "Coffee Sales" is archived: never suggested
    assert got["FREIGHT-IN"].account.code == "425"      # by name: Freight & Courier
    assert got["BEANS"].account.code == "310"           # by type: Cost of Goods Sold
    assert got["EFTPOS"].account.code == "090"          # the bank account
    assert got["GST-INCOME"].tax_rate.tax_type == "OUTPUT2"
    assert got["NORTH"].tracking_option.name == "North"
    assert got["MISC"].tax_rate.tax_type == "OUTPUT2"  # the account's own tax type, valid for revenue
    assert all(m.is_suggestion for m in got.values())


def test_filtered_choices_never_offer_an_archived_account_or_one_of_the_wrong_class(org, connection):
    t = connection.tenant_id
    sales = {a.code for a in selectors.account_choices(organisation=org, tenant_id=t, kind=Kind.SALES)}
    purchases = {a.code for a in selectors.account_choices(organisation=org, tenant_id=t, kind=Kind.PURCHASE)}
    paid_into = {a.code for a in selectors.account_choices(organisation=org, tenant_id=t, kind=Kind.PAYMENT_METHOD)}
    assert sales == {"200", "260"}
    assert purchases == {"310", "425"}
    assert paid_into == {"090", "880"}  # BANK, or payments enabled
    def taxes(kind):
        return [r.tax_type for r in selectors.tax_rate_choices(organisation=org, tenant_id=t, kind=kind)]

    assert taxes(Kind.SALES) == ["OUTPUT2"] and taxes(Kind.PURCHASE) == ["INPUT2"]
    cat = HostCategory.objects.create(organisation=org, kind=Kind.SALES, code="X")
    for code in ("205", "310", "090"):
        with pytest.raises(mapping.MappingRefused):
            mapping.mapping_save(organisation=org, actor=None, category=cat,
                                 account=Account.objects.get(organisation=org, code=code))
    with pytest.raises(mapping.MappingRefused):
        mapping.mapping_save(organisation=org, actor=None, category=cat,
                             account=Account.objects.get(organisation=org, code="200"),
                             tax_rate=TaxRate.objects.get(organisation=org, tax_type="INPUT2"))


def test_an_unmapped_category_waits_as_needs_mapping_and_goes_out_by_itself_once_mapped(
        org, admin_user, connection, xero, django_capture_on_commit_callbacks):
    sale(org, "INV-1", dimension="NORTH")
    sale(org, "INV-2", category="FREIGHT-OUT")
    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    waiting = records(org).filter(state=ExportState.NEEDS_MAPPING)
    assert waiting.count() == 2 and xero.calls == []
    assert "sales category COFFEE-WHOLESALE" in waiting.get(document__number="INV-1").last_error
    assert "FREIGHT-OUT" in waiting.get(document__number="INV-2").last_error

    with django_capture_on_commit_callbacks(execute=True):
        mapping.mapping_save(organisation=org, actor=admin_user, category=category(org, Kind.SALES, "COFFEE-WHOLESALE"),
                             account=Account.objects.get(organisation=org, code="200"))
        mapping.mapping_save(organisation=org, actor=admin_user, category=category(org, Kind.DIMENSION, "NORTH"),
                             tracking_option=TrackingOption.objects.get(organisation=org))
    assert records(org).get(document__number="INV-1").state == ExportState.EXPORTED
    assert records(org).get(document__number="INV-2").state == ExportState.NEEDS_MAPPING
    [sent] = xero.created()
    line = sent["LineItems"][0]
    assert line["AccountCode"] == "200" and line["Tracking"] == [{"Name": "Region", "Option": "North"}]

    with django_capture_on_commit_callbacks(execute=True):
        mapping.mapping_save(organisation=org, actor=admin_user, category=category(org, Kind.SALES, "FREIGHT-OUT"),
                             account=Account.objects.get(organisation=org, code="260"))
    assert records(org).filter(state=ExportState.EXPORTED).count() == 2
    assert sorted(el["InvoiceNumber"] for el in xero.created()) == ["INV-1", "INV-2"]  # each once


def test_a_suggestion_is_never_used_until_confirmed_in_one_click(org, admin_user, connection, xero,
                                                                   django_capture_on_commit_callbacks):
    sale(org, "INV-1")
    mapping.mapping_suggest(organisation=org)
    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    assert records(org).get().state == ExportState.NEEDS_MAPPING
    assert "suggested but not confirmed" in records(org).get().last_error
    with django_capture_on_commit_callbacks(execute=True):
        assert mapping.mapping_accept_suggestions(organisation=org, actor=admin_user) == 1
    assert records(org).get().state == ExportState.EXPORTED
    assert xero.created()[0]["LineItems"][0]["AccountCode"] == "200"


def test_archived_account_flags_the_mapping_once_items_wait_then_remapped_go_out_once(
        org, admin_user, connection, xero, django_capture_on_commit_callbacks):
    admin_user.email = "alice@example.com"
    admin_user.save()
    sale(org, "INV-1")
    cat = category(org, Kind.SALES, "COFFEE-WHOLESALE")
    mapping.mapping_save(organisation=org, actor=admin_user, category=cat,
                         account=Account.objects.get(organisation=org, code="260"))
    # A refresh finds 260 archived in Xero.
    Account.objects.filter(organisation=org, code="260").update(is_active=False, status="ARCHIVED")
    assert mapping.mappings_check_chart(organisation=org) == 1
    assert mapping.mappings_check_chart(organisation=org) == 0  # flagged once, emailed once
    assert len(mail.outbox) == 1 and "COFFEE-WHOLESALE" in mail.outbox[0].body
    assert selectors.flagged_count(organisation=org) == 1
    [row] = selectors.mapping_rows(organisation=org)
    assert row.state == "flagged" and "archived" in row.mapping.problem

    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    assert records(org).get().state == ExportState.NEEDS_MAPPING and xero.calls == []

    with django_capture_on_commit_callbacks(execute=True):
        mapping.mapping_save(organisation=org, actor=admin_user, category=cat,
                             account=Account.objects.get(organisation=org, code="200"))
    assert records(org).get().state == ExportState.EXPORTED
    assert len(xero.created()) == 1 and xero.created()[0]["LineItems"][0]["AccountCode"] == "200"
    assert selectors.flagged_count(organisation=org) == 0


def test_a_renumbered_account_keeps_working_it_is_sent_by_its_current_code(org, admin_user, connection, xero,
                                                                            django_capture_on_commit_callbacks):
    sale(org, "INV-1")
    account = Account.objects.get(organisation=org, code="260")
    mapping.mapping_save(organisation=org, actor=admin_user, category=category(org, Kind.SALES, "COFFEE-WHOLESALE"),
                         account=account)
    Account.objects.filter(pk=account.pk).update(code="265")  # renumbered in Xero; same AccountID
    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    assert xero.created()[0]["LineItems"][0]["AccountCode"] == "265"


def test_a_switch_of_xero_organisation_starts_over_and_never_sends_the_old_accounts(
        org, admin_user, connection, xero, django_capture_on_commit_callbacks):
    sale(org, "INV-1")
    cat = category(org, Kind.SALES, "COFFEE-WHOLESALE")
    mapping.mapping_save(organisation=org, actor=admin_user, category=cat,
                         account=Account.objects.get(organisation=org, tenant_id=connection.tenant_id, code="260"))
    connection.is_current = False
    connection.save(update_fields=["is_current"])
    new = factories.make_connection(org, actor=admin_user)
    assert selectors.current_mappings(organisation=org) == {}  # starts over
    chart(org, new.tenant_id, prefix="new-")
    assert mapping.mapping_suggest(organisation=org) == 1
    suggestion = CategoryMapping.objects.get(tenant_id=new.tenant_id)
    assert suggestion.is_suggestion and suggestion.account.tenant_id == new.tenant_id

    with django_capture_on_commit_callbacks(execute=True):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    assert records(org).get().state == ExportState.NEEDS_MAPPING and xero.calls == []
    old = Account.objects.get(organisation=org, tenant_id=connection.tenant_id, code="260")
    with pytest.raises(mapping.MappingRefused):  # the old tenant's account cannot be chosen
        mapping.mapping_save(organisation=org, actor=admin_user, category=cat, account=old)
    with django_capture_on_commit_callbacks(execute=True):
        mapping.mapping_accept_suggestions(organisation=org, actor=admin_user)
    assert records(org).get().state == ExportState.EXPORTED
    assert xero.created()[0]["LineItems"][0]["AccountCode"] == "200"
    assert CategoryMapping.objects.get(tenant_id=connection.tenant_id).account == old  # history kept


def test_resolution_is_a_constant_number_of_queries_per_batch(org, admin_user, connection):
    def docs(n, start):
        for i in range(n):
            sale(org, f"INV-{start + i}", category=f"CAT-{i % 7}", tax_code="GST-INCOME", dimension="NORTH")
        from xero_connect.models import SourceDocument

        return list(SourceDocument.objects.filter(organisation=org, number__startswith="INV-"))

    few = docs(3, 0)
    many = docs(40, 100)
    mapping.mapping_suggest(organisation=org)
    mapping.mapping_accept_suggestions(organisation=org, actor=admin_user)
    with CaptureQueriesContext(db) as small:
        selectors.documents_resolve(documents=few)
    with CaptureQueriesContext(db) as large:
        out = selectors.documents_resolve(documents=many)
    assert len(small) == len(large) <= 4
    assert all(not r.needs_mapping for r in out.values())


def test_csv_rows_may_carry_host_categories_and_xero_codes_keep_working(org, admin_user, connection):
    text = ("type,number,date,due_date,contact,description,quantity,unit_amount,account_code,category,tax_code,"
            "dimension,paid_number,payment_method,amount\n"
            "sales_invoice,INV-1,2026-03-01,2026-03-31,Ridgeway,Beans,1,10,,COFFEE-WHOLESALE,GST-INCOME,NORTH,,,\n"
            "sales_invoice,INV-2,2026-03-01,2026-03-31,Ridgeway,Beans,1,10,200,,,,,,\n"
            "payment,PAY-1,2026-03-02,,,,,,,,,,INV-1,EFTPOS,10\n")
    result = documents_import_csv(organisation=org, actor=admin_user, text=text)
    assert result.ok, result.errors
    kinds = set(HostCategory.objects.filter(organisation=org).values_list("kind", "code"))
    assert kinds == {(Kind.SALES, "COFFEE-WHOLESALE"), (Kind.TAX_CODE, "GST-INCOME"), (Kind.DIMENSION, "NORTH"),
                     (Kind.PAYMENT_METHOD, "EFTPOS")}
    assert CategoryMapping.objects.filter(organisation=org, is_suggestion=True).count() == 4
    counts = {(r.category.code): r.documents for r in selectors.mapping_rows(organisation=org)}
    assert counts == {"COFFEE-WHOLESALE": 1, "GST-INCOME": 1, "NORTH": 1, "EFTPOS": 1}

    bad = documents_import_csv(organisation=org, actor=admin_user, text=(
        "type,number,date,contact,description,unit_amount,account_code,category\n"
        "sales_invoice,INV-9,2026-03-01,R,B,1,200,COFFEE\n"))
    assert not bad.ok and "not both" in str(bad.errors[0])


def test_the_portal_needs_attention_queue_lists_an_organisation_with_a_flagged_mapping(org, admin_user, connection):
    from xero_connect.selectors import portal

    sale(org, "INV-1")
    cat = category(org, Kind.SALES, "COFFEE-WHOLESALE")
    mapping.mapping_save(organisation=org, actor=admin_user, category=cat,
                         account=Account.objects.get(organisation=org, code="260"))
    assert not portal.portal_organisations(user=admin_user).filter(portal.needs_attention_q()).exists()
    Account.objects.filter(organisation=org, code="260").update(is_active=False, status="DELETED")
    mapping.mappings_check_chart(organisation=org, notify=False)
    [row] = portal.build_rows(portal.portal_organisations(user=admin_user).filter(portal.needs_attention_q()))
    assert row.needs_attention and row.next_step["kind"] == "mapping" and row.flagged_mappings == 1
