"""Lists end to end against the sandbox (live_server): connect → currencies and account codes
imported with skipped currencies explained; changes in the sandbox's Xero → Refresh lists →
exactly those changes; nothing changed → only one call per list, conditional where Xero allows;
a sandbox fault in one list → the others saved and the failure shown; the app removed in
Xero → the refresh stops and says so.

The connection is made with the product's own OAuth pipeline (services.connections) and the
sandbox playing the Xero user's consent (consent_redirect) — no browser needed here."""
from decimal import Decimal

import pytest
from django.urls import reverse

from tests import factories, xero_live
from xero_connect.models import (
    Account,
    ConnectionStatus,
    Contact,
    Currency,
    ExchangeRate,
    ListRefresh,
    Role,
    TaxRate,
    TrackingOption,
    XeroConnection,
)

from xero_sandbox import services as sandbox

KOWHAI = "!kWh4R"  # Kōwhai Coffee Roasters: NZD base; NZD, AUD, USD, GBP, FJD enabled in Xero


@pytest.fixture
def kiwi(transactional_db):
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai", base_currency="NZD")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    member = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, member, Role.MEMBER)
    ExchangeRate.objects.create(organisation=org, currency_code="AUD", rate=Decimal("0.92"))
    ExchangeRate.objects.create(organisation=org, currency_code="USD", rate=Decimal("0.60"))
    ExchangeRate.objects.create(organisation=org, currency_code="GBP", rate=None)  # set up, but no rate yet
    return org, admin, member


def connect(org, admin, tenant=KOWHAI) -> XeroConnection:
    return xero_live.connect(org, admin, tenant)


def api_calls(tenant=KOWHAI) -> int:
    tenant_id = str(sandbox.organisation_get(tenant).tenant_id)
    return sandbox.counts(tenant=tenant)["tenants"][tenant_id]["api_calls"]


def refresh_via_page(client, org) -> tuple[ListRefresh, str]:
    response = client.post(reverse("lists_refresh", kwargs={"org_slug": org.slug}))
    assert response.status_code == 302
    refresh = ListRefresh.objects.filter(organisation=org).order_by("-pk").first()
    refresh.refresh_from_db()
    page = client.get(response["Location"]).content.decode()
    return refresh, page


def changes(refresh):
    return {name: refresh.results[name]["changes"] for name in refresh.lists if not refresh.results[name]["error"]}


NO_CHANGES = {"added": [], "updated": [], "archived": []}


def test_connect_imports_then_refresh_reports_exactly_the_changes(xero, kiwi, client):
    org, admin, member = kiwi

    # --- connect: currencies and account codes arrive by themselves -------------------------
    connect(org, admin)
    on_connect = ListRefresh.objects.get(organisation=org, trigger=ListRefresh.Trigger.CONNECT)
    assert on_connect.status == ListRefresh.Status.DONE, on_connect.results
    assert on_connect.lists == ["currencies", "accounts"]
    assert set(Currency.objects.filter(organisation=org, is_active=True).values_list("code", flat=True)) == {
        "NZD", "AUD", "USD"}
    skipped = {s["code"]: s["reason"] for s in on_connect.results["currencies"]["skipped"]}
    assert skipped == {"GBP": "the exchange rate for GBP in Xero Connect is not above zero",
                       "FJD": "no exchange rate set up for FJD in Xero Connect"}
    in_xero = sandbox.lists_summary(sandbox.organisation_get(KOWHAI))
    assert Account.objects.filter(organisation=org).count() == in_xero["accounts"]
    assert Account.objects.get(organisation=org, code="455").is_active is False  # archived in Xero
    assert Account.objects.get(organisation=org, code="200").name == "Sales"

    client.force_login(member)
    page = client.get(reverse("lists_refresh_detail", kwargs={"org_slug": org.slug, "refresh_id": on_connect.pk}))
    html = page.content.decode()
    assert "Imports after connecting" in html and "In your currency list:</strong> AUD, NZD, USD" in html
    assert "no exchange rate set up for FJD in Xero Connect" in html
    assert "the exchange rate for GBP in Xero Connect is not above zero" in html

    # --- first Refresh lists (a member may): the rest of the lists --------------------------
    first, _ = refresh_via_page(client, org)
    assert first.status == ListRefresh.Status.DONE, first.results
    assert first.results["accounts"]["full_read"] is False  # the connect import left a mark
    assert Contact.objects.filter(organisation=org).count() == in_xero["contacts"]
    assert TaxRate.objects.filter(organisation=org, tax_type="OUTPUT2", is_active=True).exists()
    assert TrackingOption.objects.filter(organisation=org, category__name="Region").count() == 4

    # --- change things in Xero, refresh: exactly those changes ------------------------------
    xero.add_contact(tenant=KOWHAI, name="Tūī Tea Rooms", is_customer=True)
    xero.archive_account(tenant=KOWHAI, code="400")
    # The sandbox has no add_tax_rate helper: create the row the way its seed does.
    from xero_sandbox.models import TaxRate as SandboxTaxRate
    SandboxTaxRate.objects.create(organisation=sandbox.organisation_get(KOWHAI), name="9% Reduced GST",
                                  tax_type="TAX009", rate=Decimal("9"), status="ACTIVE")

    second, html = refresh_via_page(client, org)
    assert second.status == ListRefresh.Status.DONE, second.results
    assert changes(second) == {
        "currencies": NO_CHANGES,
        "accounts": {"added": [], "updated": [], "archived": ["400 Advertising"]},
        "tax_rates": {"added": ["9% Reduced GST (TAX009)"], "updated": [], "archived": []},
        "contacts": {"added": ["Tūī Tea Rooms"], "updated": [], "archived": []},
        "tracking": NO_CHANGES,
    }
    assert "Tūī Tea Rooms" in html and "400 Advertising" in html and "9% Reduced GST (TAX009)" in html
    assert Account.objects.get(organisation=org, code="400").is_active is False
    assert Account.objects.filter(organisation=org).count() == in_xero["accounts"]  # archived, never deleted

    # --- nothing changed: one call per list, Accounts and Contacts conditional --------------
    before = api_calls()
    third, _ = refresh_via_page(client, org)
    assert api_calls() - before == 5
    assert {name: r["calls"] for name, r in third.results.items()} == {
        "currencies": 1, "accounts": 1, "tax_rates": 1, "contacts": 1, "tracking": 1}
    assert third.results["accounts"]["full_read"] is False and third.results["contacts"]["full_read"] is False
    assert all(c == NO_CHANGES for c in changes(third).values())

    # --- the list page shows the archived account under Inactive ----------------------------
    inactive = client.get(reverse("lists_index", kwargs={"org_slug": org.slug}),
                          {"status": "inactive"}).content.decode()
    assert "Advertising" in inactive and "Old Marketing Costs" in inactive


def test_a_fault_in_one_list_saves_the_others_and_shows_the_failure(xero, kiwi, client):
    org, admin, member = kiwi
    connect(org, admin)
    xero.add_contact(tenant=KOWHAI, name="Pīwakawaka Printing", is_supplier=True, is_customer=False)
    xero.archive_account(tenant=KOWHAI, code="408")
    xero.set_fault(kind="maintenance", tenant=KOWHAI, path_contains="TaxRates", count=1)

    client.force_login(member)
    refresh, html = refresh_via_page(client, org)

    assert refresh.status == ListRefresh.Status.PARTIAL
    assert refresh.results["tax_rates"]["error_title"] == "Xero is not answering right now"
    assert not TaxRate.objects.filter(organisation=org).exists()
    assert Contact.objects.get(organisation=org, name="Pīwakawaka Printing").is_supplier
    assert Account.objects.get(organisation=org, code="408").is_active is False
    assert "Partly failed" in html and "Xero is not answering right now" in html
    assert "Pīwakawaka Printing" in html

    # The fault was for one call: the next refresh reads tax rates.
    again, _ = refresh_via_page(client, org)
    assert again.status == ListRefresh.Status.DONE
    assert TaxRate.objects.filter(organisation=org, is_active=True).count() == 7


def test_app_removed_in_xero_stops_the_refresh_with_the_next_step(xero, kiwi, client):
    org, admin, member = kiwi
    connection = connect(org, admin)
    xero.disconnect_app(tenant=KOWHAI)

    client.force_login(member)
    refresh, html = refresh_via_page(client, org)

    assert refresh.status == ListRefresh.Status.FAILED
    assert refresh.results["_failure"]["title"] == "The app was disconnected in Xero"
    assert "An Admin should press Reconnect" in html
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.REMOVED_IN_XERO

    # Now not connected at all: the refresh says so without calling Xero.
    before = api_calls()
    refresh, html = refresh_via_page(client, org)
    assert refresh.status == ListRefresh.Status.FAILED and "Removed in Xero" in html  # the state's one name
    assert api_calls() == before
