"""List pages, Refresh lists, the refresh page and its progress endpoint: roles, scoping,
what the page shows."""
import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.services.test_lists import account, api, contact, envelope
from xero_connect.models import (
    Account,
    Contact,
    Currency,
    ListName,
    ListRefresh,
    ListSyncState,
    TrackingCategory,
    TrackingOption,
)


def url(name, org, **kwargs):
    return reverse(name, kwargs={"org_slug": org.slug, **kwargs})


@pytest.fixture
def refresh(org):
    return ListRefresh.objects.create(organisation=org, lists=["currencies", "accounts"], steps_total=2,
                                      status=ListRefresh.Status.RUNNING, steps_done=1,
                                      results={"currencies": {"added": 1, "updated": 0, "archived": 0,
                                                              "unchanged": 0, "calls": 1, "error": None,
                                                              "changes": {"added": ["NZD"], "updated": [],
                                                                          "archived": []},
                                                              "skipped": [{"code": "EUR", "description": "Euro",
                                                                           "reason": "no exchange rate set up for "
                                                                                     "EUR in Xero Connect"}]}})


# --- scoping and roles --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lists_index", "lists_refresh_detail", "lists_refresh_progress"])
def test_other_organisations_users_get_404(client, outsider, org, refresh, name):
    client.force_login(outsider)
    kwargs = {"refresh_id": refresh.pk} if name != "lists_index" else {}
    assert client.get(url(name, org, **kwargs)).status_code == 404


def test_refresh_of_another_organisation_is_404_even_under_my_own_slug(client, outsider, other_org, refresh):
    client.force_login(outsider)
    assert client.get(url("lists_refresh_detail", other_org, refresh_id=refresh.pk)).status_code == 404
    assert client.get(url("lists_refresh_progress", other_org, refresh_id=refresh.pk)).status_code == 404


def test_outsider_cannot_start_a_refresh(client, outsider, org):
    client.force_login(outsider)
    assert client.post(url("lists_refresh", org)).status_code == 404
    assert not ListRefresh.objects.filter(organisation=org).exists()


@pytest.mark.parametrize("name", ["lists_index", "lists_refresh_detail", "lists_refresh_progress", "lists_refresh"])
def test_anonymous_is_sent_to_login(client, org, refresh, name):
    kwargs = {"refresh_id": refresh.pk} if name in ("lists_refresh_detail", "lists_refresh_progress") else {}
    response = client.get(url(name, org, **kwargs))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@responses.activate
def test_a_member_can_refresh_lists_and_sees_the_result(member_client, member_user, org, admin_user,
                                                        django_capture_on_commit_callbacks):
    factories.make_connection(org, actor=admin_user)
    responses.get(api("Currencies"), json=envelope("Currencies", [{"Code": "NZD", "Description": "NZ Dollar"},
                                                                  {"Code": "EUR", "Description": "Euro"}]))
    responses.get(api("Accounts"), json=envelope("Accounts", [account("a1", "200", "Sales")]))
    responses.get(api("TaxRates"), status=503, body="offline")
    responses.get(api("Contacts"), json=envelope("Contacts", [contact("c1", "Alpha Ltd")]))
    responses.get(api("TrackingCategories"), json=envelope("TrackingCategories", []))

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(url("lists_refresh", org))
    refresh = ListRefresh.objects.get(organisation=org)
    assert response.status_code == 302
    assert response["Location"] == url("lists_refresh_detail", org, refresh_id=refresh.pk)
    assert refresh.actor == member_user and refresh.status == ListRefresh.Status.PARTIAL

    page = member_client.get(response["Location"]).content.decode()
    assert "Partly failed" in page
    assert "Xero is not answering right now" in page  # the failed list, shown, not only logged
    assert "Alpha Ltd" in page and "200 Sales" in page
    assert "EUR" in page and "no exchange rate set up for EUR in Xero Connect" in page


def test_choosing_only_some_lists(member_client, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        member_client.post(url("lists_refresh", org), {"lists": ["contacts", "accounts", "bogus"]})
    assert ListRefresh.objects.get(organisation=org).lists == ["accounts", "contacts"]


def test_get_on_refresh_changes_nothing(member_client, org):
    response = member_client.get(url("lists_refresh", org))
    assert response.status_code == 302 and response["Location"] == url("lists_index", org)
    assert not ListRefresh.objects.exists()


def test_not_connected_refresh_says_so_with_the_next_step(member_client, org, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(url("lists_refresh", org))
    page = member_client.get(response["Location"]).content.decode()
    assert "Not connected to Xero" in page and "Failed" in page
    # A Member is told whom to ask, not to press a button only an Admin has.
    assert "to connect Xero." in page and "Ask " in page and 'form="' not in page.split("refresh-failure")[1][:600]


# --- progress -----------------------------------------------------------------------------

def test_progress_endpoint_reports_steps_and_running_page_polls_it(member_client, org, refresh):
    data = member_client.get(url("lists_refresh_progress", org, refresh_id=refresh.pk)).json()
    assert data["finished"] is False and data["percent"] == 50
    assert data["steps_done"] == 1 and data["steps_total"] == 2
    assert data["done_lists"] == ["Currencies"] and data["current_list"] == "Accounts"

    page = member_client.get(url("lists_refresh_detail", org, refresh_id=refresh.pk)).content.decode()
    assert 'data-finished="false"' in page and "width: 50%" in page
    assert url("lists_refresh_progress", org, refresh_id=refresh.pk) in page
    assert "maxPolls" in page  # bounded polling

    refresh.status, refresh.steps_done = ListRefresh.Status.DONE, 2
    refresh.save()
    data = member_client.get(url("lists_refresh_progress", org, refresh_id=refresh.pk)).json()
    assert data["finished"] is True and data["percent"] == 100 and data["status_display"] == "Done"


# --- browsing -----------------------------------------------------------------------------

def test_lists_page_browses_searches_filters_and_says_when_refreshed(member_client, org):
    Account.objects.create(organisation=org, xero_id="a1", code="200", name="Sales")
    Account.objects.create(organisation=org, xero_id="a2", code="400", name="Advertising")
    Account.objects.create(organisation=org, xero_id="a3", code="455", name="Old stuff", is_active=False,
                           status="ARCHIVED")
    ListSyncState.objects.create(organisation=org, list_name=ListName.ACCOUNTS, last_refreshed_at=timezone.now())

    page = member_client.get(url("lists_index", org)).content.decode()
    assert "Sales" in page and "Advertising" in page and "Old stuff" not in page
    assert "Accounts last refreshed" in page
    assert "Refresh lists" in page  # members may refresh

    page = member_client.get(url("lists_index", org), {"q": "advert"}).content.decode()
    assert "Advertising" in page and "Sales" not in page

    page = member_client.get(url("lists_index", org), {"status": "inactive"}).content.decode()
    assert "Old stuff" in page and "Archived" in page and "Advertising" not in page


def test_each_list_has_a_tab(member_client, org):
    Contact.objects.create(organisation=org, xero_id="c1", name="Zed Supplies", is_supplier=True)
    region = TrackingCategory.objects.create(organisation=org, xero_id="t1", name="Region")
    TrackingOption.objects.create(organisation=org, category=region, xero_id="o1", name="North")
    Currency.objects.create(organisation=org, code="GBP", is_active=False)

    assert "Zed Supplies" in member_client.get(url("lists_index", org), {"list": "contacts"}).content.decode()
    tracking = member_client.get(url("lists_index", org), {"list": "tracking"}).content.decode()
    assert "Region" in tracking and "North" in tracking
    currencies = member_client.get(url("lists_index", org), {"list": "currencies", "status": "all"}).content.decode()
    assert "GBP" in currencies and "no valid exchange rate" in currencies
    never = member_client.get(url("lists_index", org), {"list": "tax_rates"}).content.decode()
    assert "Tax rates have not been read from Xero yet" in never


def test_pagination(member_client, org):
    Contact.objects.bulk_create([Contact(organisation=org, xero_id=f"c{i}", name=f"Contact {i:03d}")
                                 for i in range(120)])
    first = member_client.get(url("lists_index", org), {"list": "contacts"}).content.decode()
    assert "Contact 000" in first and "Contact 050" not in first and "Page 1 of 3" in first
    third = member_client.get(url("lists_index", org), {"list": "contacts", "page": 3}).content.decode()
    assert "Contact 119" in third and "Contact 000" not in third


def test_another_organisations_items_never_show(member_client, org, other_org):
    Account.objects.create(organisation=other_org, xero_id="x1", code="999", name="Secret other account")
    assert "Secret other account" not in member_client.get(url("lists_index", org)).content.decode()


def test_lists_of_an_earlier_xero_organisation_are_mentioned_not_shown_as_current(member_client, org, admin_user):
    """#12 item 1: after a switch of Xero organisation the old one's lists stay (history for the
    documents exported there); the Lists page says so in one line and lists only the new one's."""
    old = factories.make_connection(org, actor=admin_user, tenant_id="tenant-old", tenant_name="Harbour Cafe Ltd")
    Account.objects.create(organisation=org, tenant_id=old.tenant_id, xero_id="old-1", code="260",
                           name="Old Wholesale")
    Contact.objects.create(organisation=org, tenant_id=old.tenant_id, xero_id="old-c", name="Old Supplier")
    page = member_client.get(url("lists_index", org)).content.decode()
    assert 'id="earlier-lists"' not in page and "Old Wholesale" in page  # still the current one

    old.is_current = False
    old.save(update_fields=["is_current"])
    new = factories.make_connection(org, actor=admin_user, tenant_id="tenant-new", tenant_name="Harbour Cafe NZ")
    Account.objects.create(organisation=org, tenant_id=new.tenant_id, xero_id="new-1", code="200", name="Sales")
    page = member_client.get(url("lists_index", org)).content.decode()
    assert ('<p class="muted" id="earlier-lists">Lists from Harbour Cafe Ltd are kept for the documents exported '
            'there.</p>') in page
    assert "Sales" in page and "Old Wholesale" not in page
    contacts = member_client.get(url("lists_index", org), {"list": ListName.CONTACTS, "status": "all"})
    assert "Old Supplier" not in contacts.content.decode()
