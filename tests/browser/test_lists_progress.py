"""The refresh page's progress bar moves while a refresh runs and the result appears when it
is done — in Debian's chromium, against live_server (the worker's steps are played by
updating the ListRefresh row, as lists_refresh_run does after each list)."""

import pytest

from tests import factories
from tests.factories import PASSWORD
from xero_connect.models import ListRefresh, Role

pytestmark = pytest.mark.browser


def _result(added):
    return {"added": len(added), "updated": 0, "archived": 0, "unchanged": 0, "calls": 1, "error": None,
            "changes": {"added": added, "updated": [], "archived": []}}


def test_progress_bar_moves_and_the_result_appears(live_server, page, sign_in, shoot, transactional_db):
    from playwright.sync_api import expect

    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi")
    member = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, member, Role.MEMBER)
    refresh = ListRefresh.objects.create(organisation=org, actor=member, lists=["currencies", "accounts", "contacts"],
                                         steps_total=3, status=ListRefresh.Status.RUNNING)

    sign_in(page, "mark", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/lists/refresh/{refresh.pk}/")
    bar = page.locator("#refresh-progress")
    expect(bar).to_have_attribute("aria-valuenow", "0")

    refresh.steps_done = 2
    refresh.results = {"currencies": _result(["NZD"]), "accounts": _result(["200 Sales"])}
    refresh.save()
    expect(bar).to_have_attribute("aria-valuenow", "66")
    expect(page.locator("#refresh-progress-text")).to_contain_text("2 of 3 lists done · reading Contacts")
    shoot(page, "lists-refresh-running")

    expect(bar).to_have_attribute("aria-valuetext", "2 of 3 lists done")
    expect(bar).to_have_accessible_name("Refresh lists")
    page.evaluate("window.__stillHere = true")
    refresh.steps_done = 3
    refresh.results = {**refresh.results, "contacts": _result(["Alpha Ltd"])}
    refresh.status = ListRefresh.Status.DONE
    refresh.save()
    expect(page.locator("#refresh-status")).to_have_text("Done")
    expect(page.locator("#refresh-results")).to_contain_text("Contacts")
    expect(page.locator(".changes[data-list=contacts]")).to_contain_text("Alpha Ltd")
    assert page.evaluate("window.__stillHere") is True  # brought in place, not reloaded
    expect(page.locator("#live-status")).to_have_text("Finished: Done.")
    shoot(page, "lists-refresh-done")


def test_lists_page_in_a_browser(live_server, page, sign_in, shoot, transactional_db):
    from playwright.sync_api import expect

    from xero_connect.models import Account, ListName, ListSyncState
    from django.utils import timezone

    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi")
    member = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, member, Role.MEMBER)
    Account.objects.create(organisation=org, xero_id="a1", code="200", name="Sales", type="REVENUE")
    Account.objects.create(organisation=org, xero_id="a2", code="400", name="Advertising", type="OVERHEADS")
    Account.objects.create(organisation=org, xero_id="a3", code="455", name="Old Marketing", is_active=False,
                           status="ARCHIVED")
    ListSyncState.objects.create(organisation=org, list_name=ListName.ACCOUNTS, last_refreshed_at=timezone.now())

    sign_in(page, "mark", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/lists/")
    expect(page.locator("#list-table")).to_contain_text("Advertising")
    expect(page.locator("#last-refreshed")).to_contain_text("Accounts last refreshed")
    page.fill("#q", "sales")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#list-table")).not_to_contain_text("Advertising")
    page.select_option("#status", "all")
    page.fill("#q", "")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#list-table")).to_contain_text("Archived")
    shoot(page, "lists-index")
    expect(page.get_by_role("button", name="Refresh lists")).to_be_visible()
