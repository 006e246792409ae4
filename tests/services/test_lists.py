"""Lists refresh at the HTTP seam: upserts, archive marking, If-Modified-Since, paging,
currency skip reasons, partial failures and connection problems."""
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.core.management import call_command

from tests import factories
from xero_connect.models import (
    Account,
    ConnectionStatus,
    Contact,
    Currency,
    ExchangeRate,
    ListName,
    ListRefresh,
    ListSyncState,
    TaxRate,
    TrackingCategory,
    TrackingOption,
)
from xero_connect.services import lists as services


def api(resource: str) -> str:
    return f"{settings.XERO_API_URL.rstrip('/')}/{resource}"


def ms(moment: datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


T1 = datetime(2026, 3, 1, 10, 0, tzinfo=dt_timezone.utc)
T2 = datetime(2026, 3, 2, 11, 30, tzinfo=dt_timezone.utc)
T3 = datetime(2026, 3, 3, 12, 45, tzinfo=dt_timezone.utc)


def account(xero_id, code, name, *, status="ACTIVE", updated=T1, **extra):
    return {"AccountID": xero_id, "Code": code, "Name": name, "Type": extra.pop("Type", "REVENUE"),
            "Class": extra.pop("Class", "REVENUE"), "TaxType": extra.pop("TaxType", "OUTPUT2"), "Status": status,
            "EnablePaymentsToAccount": extra.pop("EnablePaymentsToAccount", False),
            "UpdatedDateUTC": ms(updated), **extra}


def contact(xero_id, name, *, status="ACTIVE", updated=T1, supplier=False, customer=True):
    return {"ContactID": xero_id, "Name": name, "ContactStatus": status, "IsSupplier": supplier,
            "IsCustomer": customer, "EmailAddress": f"{xero_id}@example.com", "UpdatedDateUTC": ms(updated)}


def envelope(resource, items, **extra):
    return {"Id": "x", "Status": "OK", "ProviderName": "test", resource: items, **extra}


@pytest.fixture
def connection(org, admin_user):
    return factories.make_connection(org, actor=admin_user, tenant_id="tenant-a")


def run(org, lists, actor=None):
    refresh = services.lists_refresh_now(organisation=org, actor=actor, trigger=ListRefresh.Trigger.MANUAL,
                                         lists=lists)
    refresh.refresh_from_db()
    return refresh


# --- accounts -----------------------------------------------------------------------------

@responses.activate
def test_first_account_import_is_a_full_read_and_keeps_archived_accounts_inactive(org, connection):
    responses.get(api("Accounts"), json=envelope("Accounts", [
        account("a1", "200", "Sales", updated=T1),
        account("a2", "400", "Advertising", Type="EXPENSE", Class="EXPENSE", TaxType="INPUT2", updated=T2),
        account("a3", "090", "Old bank", status="ARCHIVED", Type="BANK", Class="ASSET", updated=T1,
                EnablePaymentsToAccount=True, CurrencyCode="NZD"),
    ]))
    refresh = run(org, [ListName.ACCOUNTS])

    assert refresh.status == ListRefresh.Status.DONE
    assert "If-Modified-Since" not in responses.calls[0].request.headers
    result = refresh.results["accounts"]
    assert (result["added"], result["updated"], result["archived"], result["calls"]) == (3, 0, 0, 1)
    assert sorted(result["changes"]["added"]) == ["090 Old bank", "200 Sales", "400 Advertising"]
    sales = Account.objects.get(organisation=org, code="200")
    assert (sales.name, sales.type, sales.account_class, sales.tax_type, sales.is_active) == (
        "Sales", "REVENUE", "REVENUE", "OUTPUT2", True)
    old = Account.objects.get(organisation=org, code="090")
    assert (old.is_active, old.status, old.enable_payments, old.currency_code) == (False, "ARCHIVED", True, "NZD")
    state = ListSyncState.objects.get(organisation=org, list_name=ListName.ACCOUNTS)
    assert state.modified_since == T2 and state.tenant_id == "tenant-a" and state.last_refreshed_at


@responses.activate
def test_second_account_read_is_conditional_and_archives_from_status_not_absence(org, connection):
    responses.get(api("Accounts"), json=envelope("Accounts", [
        account("a1", "200", "Sales", updated=T1), account("a2", "400", "Advertising", updated=T2)]))
    run(org, [ListName.ACCOUNTS])
    responses.replace(responses.GET, api("Accounts"), json=envelope("Accounts", [
        account("a2", "400", "Advertising", status="ARCHIVED", updated=T3),
        account("a4", "310", "Cost of goods", updated=T3)]))

    refresh = run(org, [ListName.ACCOUNTS])

    assert responses.calls[1].request.headers["If-Modified-Since"] == "2026-03-02T11:30:00Z"
    result = refresh.results["accounts"]
    assert (result["added"], result["updated"], result["archived"], result["unchanged"]) == (1, 0, 1, 0)
    assert result["changes"]["archived"] == ["400 Advertising"] and result["full_read"] is False
    # a1 was not in the incremental answer: it is untouched, not archived.
    assert Account.objects.get(organisation=org, xero_id="a1").is_active is True
    assert Account.objects.get(organisation=org, xero_id="a2").is_active is False
    assert ListSyncState.objects.get(organisation=org, list_name=ListName.ACCOUNTS).modified_since == T3


@responses.activate
def test_not_modified_answer_changes_nothing_and_costs_one_call(org, connection):
    responses.get(api("Accounts"), json=envelope("Accounts", [account("a1", "200", "Sales", updated=T1)]))
    run(org, [ListName.ACCOUNTS])
    responses.replace(responses.GET, api("Accounts"), status=304)

    refresh = run(org, [ListName.ACCOUNTS])

    assert refresh.status == ListRefresh.Status.DONE
    result = refresh.results["accounts"]
    assert (result["added"], result["updated"], result["archived"], result["calls"]) == (0, 0, 0, 1)
    assert Account.objects.get(organisation=org, xero_id="a1").is_active is True
    assert ListSyncState.objects.get(organisation=org, list_name=ListName.ACCOUNTS).modified_since == T1


@responses.activate
def test_a_new_tenant_gets_its_own_lists_and_the_old_ones_stay_as_they_were(org, connection, admin_user):
    """Lists belong to the Xero organisation: after a switch, the new one's list is read in full
    and starts fresh; the old one's rows are kept untouched (not marked inactive: nothing was
    archived there) and no longer count."""
    from xero_connect.selectors.lists import list_items

    responses.get(api("Accounts"), json=envelope("Accounts", [
        account("a1", "200", "Sales"), account("a2", "400", "Advertising")]))
    run(org, [ListName.ACCOUNTS])
    from xero_connect import connection_states
    connection_states.disconnect(connection, actor=admin_user, reason="test")
    factories.make_connection(org, actor=admin_user, tenant_id="tenant-b")
    responses.replace(responses.GET, api("Accounts"), json=envelope("Accounts", [account("b1", "200", "Sales B")]))

    refresh = run(org, [ListName.ACCOUNTS])

    assert "If-Modified-Since" not in responses.calls[1].request.headers
    assert refresh.results["accounts"]["added"] == 1 and refresh.results["accounts"]["archived"] == 0
    assert set(Account.objects.filter(organisation=org, tenant_id="tenant-b").values_list("xero_id", flat=True)) == {"b1"}
    old = Account.objects.filter(organisation=org, tenant_id=connection.tenant_id)
    assert set(old.values_list("xero_id", flat=True)) == {"a1", "a2"} and all(a.is_active for a in old)
    shown = list_items(organisation=org, list_name=ListName.ACCOUNTS, status="all")
    assert [a.xero_id for a in shown] == ["b1"]


# --- contacts -----------------------------------------------------------------------------

@responses.activate
def test_contacts_are_paged_a_thousand_at_a_time_including_archived(org, connection):
    page1 = [contact(f"c{i}", f"Customer {i:04d}") for i in range(1000)]
    page2 = [contact("s1", "Supplier One", supplier=True, customer=False),
             contact("s2", "Gone Ltd", status="ARCHIVED")]
    responses.get(api("Contacts"), match=[responses.matchers.query_param_matcher(
        {"includeArchived": "true", "page": "1", "pageSize": "1000"})], json=envelope("Contacts", page1))
    responses.get(api("Contacts"), match=[responses.matchers.query_param_matcher(
        {"includeArchived": "true", "page": "2", "pageSize": "1000"})], json=envelope("Contacts", page2))

    refresh = run(org, [ListName.CONTACTS])

    result = refresh.results["contacts"]
    assert result["calls"] == 2 and result["added"] == 1002
    assert Contact.objects.filter(organisation=org, is_active=True).count() == 1001
    supplier = Contact.objects.get(organisation=org, xero_id="s1")
    assert supplier.is_supplier and not supplier.is_customer
    assert Contact.objects.get(organisation=org, xero_id="s2").status == "ARCHIVED"


@responses.activate
def test_incremental_contacts_pick_up_an_added_and_an_archived_contact(org, connection):
    responses.get(api("Contacts"), json=envelope("Contacts", [contact("c1", "Alpha", updated=T1),
                                                              contact("c2", "Beta", updated=T2)]))
    run(org, [ListName.CONTACTS])
    responses.replace(responses.GET, api("Contacts"), json=envelope("Contacts", [
        contact("c2", "Beta", status="ARCHIVED", updated=T3), contact("c3", "Gamma", updated=T3)]))

    refresh = run(org, [ListName.CONTACTS])

    assert responses.calls[1].request.headers["If-Modified-Since"] == "2026-03-02T11:30:00Z"
    result = refresh.results["contacts"]
    assert result["changes"] == {"added": ["Gamma"], "updated": [], "archived": ["Beta"]}
    assert Contact.objects.get(organisation=org, xero_id="c1").is_active is True


@responses.activate
def test_empty_incremental_contacts_answer_is_one_call(org, connection):
    responses.get(api("Contacts"), json=envelope("Contacts", [contact("c1", "Alpha", updated=T1)]))
    run(org, [ListName.CONTACTS])
    responses.replace(responses.GET, api("Contacts"), json=envelope("Contacts", []))

    refresh = run(org, [ListName.CONTACTS])

    assert refresh.results["contacts"]["calls"] == 1
    assert responses.calls[1].request.headers["If-Modified-Since"] == "2026-03-01T10:00:00Z"
    assert Contact.objects.get(organisation=org, xero_id="c1").is_active is True


# --- tax rates and tracking ---------------------------------------------------------------

@responses.activate
def test_tax_rates_upsert_by_tax_type_and_deleted_ones_become_inactive(org, connection):
    responses.get(api("TaxRates"), json=envelope("TaxRates", [
        {"Name": "GST on Income", "TaxType": "OUTPUT2", "Status": "ACTIVE", "EffectiveRate": 15},
        {"Name": "Old rate", "TaxType": "OLD1", "Status": "ACTIVE", "EffectiveRate": "12.5"}]))
    run(org, [ListName.TAX_RATES])
    responses.replace(responses.GET, api("TaxRates"), json=envelope("TaxRates", [
        {"Name": "GST on Income", "TaxType": "OUTPUT2", "Status": "ACTIVE", "EffectiveRate": 15},
        {"Name": "Old rate", "TaxType": "OLD1", "Status": "DELETED", "EffectiveRate": "12.5"},
        {"Name": "Zero rated", "TaxType": "ZERORATED", "Status": "ACTIVE", "EffectiveRate": 0}]))

    refresh = run(org, [ListName.TAX_RATES])

    result = refresh.results["tax_rates"]
    assert (result["added"], result["archived"], result["unchanged"]) == (1, 1, 1)
    assert result["changes"]["added"] == ["Zero rated (ZERORATED)"]
    assert TaxRate.objects.get(organisation=org, tax_type="OUTPUT2").effective_rate == Decimal("15")
    assert TaxRate.objects.get(organisation=org, tax_type="OLD1").is_active is False


@responses.activate
def test_tracking_categories_and_options(org, connection):
    responses.get(api("TrackingCategories"), json=envelope("TrackingCategories", [
        {"TrackingCategoryID": "t1", "Name": "Region", "Status": "ACTIVE", "Options": [
            {"TrackingOptionID": "o1", "Name": "North", "Status": "ACTIVE"},
            {"TrackingOptionID": "o2", "Name": "South", "Status": "ACTIVE"}]}]))
    run(org, [ListName.TRACKING])
    assert responses.calls[0].request.params["includeArchived"] == "true"
    responses.replace(responses.GET, api("TrackingCategories"), json=envelope("TrackingCategories", [
        {"TrackingCategoryID": "t1", "Name": "Region", "Status": "ACTIVE", "Options": [
            {"TrackingOptionID": "o1", "Name": "North", "Status": "ARCHIVED"},
            {"TrackingOptionID": "o3", "Name": "East", "Status": "ACTIVE"}]}]))

    refresh = run(org, [ListName.TRACKING])

    changes = refresh.results["tracking"]["changes"]
    assert changes["added"] == ["Region: East"]
    assert sorted(changes["archived"]) == ["Region: North", "Region: South"]
    assert TrackingCategory.objects.get(organisation=org).is_active
    assert set(TrackingOption.objects.filter(organisation=org, is_active=True).values_list("name", flat=True)) == {
        "East"}


# --- currencies ---------------------------------------------------------------------------

@responses.activate
def test_currencies_need_a_valid_local_rate_and_skips_are_explained(org, connection):
    ExchangeRate.objects.create(organisation=org, currency_code="USD", rate=Decimal("0.6"))
    ExchangeRate.objects.create(organisation=org, currency_code="GBP", rate=Decimal("0"))
    Currency.objects.create(organisation=org, tenant_id=connection.tenant_id, code="AUD",
                            description="Australian Dollar")
    responses.get(api("Currencies"), json=envelope("Currencies", [
        {"Code": "NZD", "Description": "New Zealand Dollar"}, {"Code": "USD", "Description": "US Dollar"},
        {"Code": "EUR", "Description": "Euro"}, {"Code": "GBP", "Description": "Pound Sterling"}]))

    refresh = run(org, [ListName.CURRENCIES])

    result = refresh.results["currencies"]
    assert sorted(result["changes"]["added"]) == ["NZD", "USD"] and result["in_list"] == ["NZD", "USD"]
    assert result["changes"]["archived"] == ["AUD"]  # no longer in Xero
    reasons = {s["code"]: s["reason"] for s in result["skipped"]}
    assert reasons == {"EUR": "no exchange rate set up for EUR in Xero Connect",
                       "GBP": "the exchange rate for GBP in Xero Connect is not above zero"}
    assert set(Currency.objects.filter(organisation=org, is_active=True).values_list("code", flat=True)) == {
        "NZD", "USD"}
    assert not Currency.objects.filter(organisation=org, code="EUR").exists()

    ExchangeRate.objects.filter(organisation=org, currency_code="USD").delete()
    refresh = run(org, [ListName.CURRENCIES])
    assert refresh.results["currencies"]["changes"]["archived"] == ["USD"]
    assert Currency.objects.get(organisation=org, code="USD").is_active is False


# --- runs, failures, enqueue --------------------------------------------------------------

@responses.activate
def test_a_failing_list_is_shown_and_the_others_still_save(org, connection):
    responses.get(api("Currencies"), json=envelope("Currencies", [{"Code": "NZD", "Description": "NZ Dollar"}]))
    responses.get(api("Accounts"), json=envelope("Accounts", [account("a1", "200", "Sales")]))
    responses.get(api("TaxRates"), status=503, body="The Xero API is currently offline for maintenance")
    responses.get(api("Contacts"), json=envelope("Contacts", [contact("c1", "Alpha")]))
    responses.get(api("TrackingCategories"), json=envelope("TrackingCategories", []))

    refresh = run(org, None)

    assert refresh.status == ListRefresh.Status.PARTIAL
    assert refresh.steps_done == refresh.steps_total == 5
    assert refresh.results["tax_rates"]["error"].startswith("Xero is not answering right now")
    assert refresh.results["contacts"]["error"] is None
    assert Account.objects.filter(organisation=org).count() == 1
    assert Contact.objects.filter(organisation=org).count() == 1
    assert not ListSyncState.objects.filter(organisation=org, list_name=ListName.TAX_RATES,
                                            last_refreshed_at__isnull=False).exists()


@responses.activate
def test_app_removed_in_xero_stops_the_refresh_and_moves_the_connection(org, connection):
    responses.get(api("Currencies"), json=envelope("Currencies", [{"Code": "NZD"}]))
    responses.get(api("Accounts"), status=403, json={"Title": "Forbidden", "Status": 403,
                                                     "Detail": "AuthenticationUnsuccessful"})
    responses.get(settings.XERO_CONNECTIONS_URL, json=[])

    refresh = run(org, None)

    assert refresh.status == ListRefresh.Status.PARTIAL
    assert refresh.results["_failure"]["title"] == "The app was disconnected in Xero"
    assert refresh.results["contacts"]["error_title"] == "Not refreshed"
    assert not any("Contacts" in c.request.url for c in responses.calls)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.REMOVED_IN_XERO


@responses.activate
def test_without_a_connection_the_refresh_fails_with_the_next_step(org):
    refresh = run(org, None)
    assert refresh.status == ListRefresh.Status.FAILED
    failure = refresh.results["_failure"]
    assert failure["title"] == "Not connected to Xero"
    assert "Connect to Xero" in failure["next_step"]
    assert len(responses.calls) == 0


@responses.activate
def test_enqueue_runs_the_task_after_commit(org, connection, admin_user, django_capture_on_commit_callbacks):
    responses.get(api("Currencies"), json=envelope("Currencies", [{"Code": "NZD"}]))
    responses.get(api("Accounts"), json=envelope("Accounts", [account("a1", "200", "Sales")]))
    with django_capture_on_commit_callbacks(execute=True):
        refresh = services.lists_import_on_connect(organisation=org, actor=admin_user)
    refresh.refresh_from_db()
    assert refresh.trigger == ListRefresh.Trigger.CONNECT and refresh.lists == ["currencies", "accounts"]
    assert refresh.status == ListRefresh.Status.DONE and refresh.percent == 100
    assert Account.objects.filter(organisation=org, code="200").exists()


def test_a_queued_refresh_answers_a_second_request(org, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = services.lists_refresh_enqueue(organisation=org, actor=admin_user)
        second = services.lists_refresh_enqueue(organisation=org, actor=admin_user, lists=["contacts"])
    assert first.pk == second.pk and len(callbacks) == 1


def test_unknown_list_names_are_refused(org):
    with pytest.raises(ValueError):
        services.lists_refresh_enqueue(organisation=org, lists=["invoices"])


def test_a_finished_refresh_is_not_run_twice(org):
    refresh = ListRefresh.objects.create(organisation=org, lists=["accounts"], status=ListRefresh.Status.DONE)
    assert services.lists_refresh_run(refresh_id=refresh.pk).status == ListRefresh.Status.DONE


@responses.activate
def test_refresh_lists_command_prints_a_line_per_organisation(org, other_org, connection, capsys):
    responses.get(api("Accounts"), json=envelope("Accounts", [account("a1", "200", "Sales")]))
    call_command("refresh_lists", "--all", "--lists", "accounts")
    out = capsys.readouterr().out
    assert "acme: Done — accounts +1 ~0 -0 =0 (1 calls)" in out
    assert "other: Failed" in out and "Not connected to Xero" in out
