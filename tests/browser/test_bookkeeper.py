"""A bookkeeper works through the portal's "needs attention" queue and runs a bulk action."""
from playwright.sync_api import expect

from tests import factories
from tests.factories import PASSWORD
from tests.xero_live import connect
from xero_connect.models import Role
from xero_connect.services.diagnosis import connection_health_check

NZ, AU, UK = "!kWh4R", "!wG7oS", "!tL2bK"


def test_needs_attention_and_a_bulk_health_check(live_server, xero, page, sign_in, shoot, transactional_db):
    bea = factories.make_user("bea", first_name="Bea", last_name="Bookkeeper")
    hamish = factories.make_user("hamish", first_name="Hamish", last_name="Harbour")
    healthy = factories.make_organisation("Kowhai Coffee", slug="kowhai")
    removed = factories.make_organisation("Brolly & Co", slug="brolly")
    theirs = factories.make_organisation("Harbour Bakery", slug="harbour")
    for org, role in ((healthy, Role.ADMIN), (removed, Role.ADMIN), (theirs, Role.MEMBER)):
        factories.add_member(org, bea, role)
    factories.add_member(theirs, hamish, Role.ADMIN)
    connect(healthy, bea, NZ)
    connect(removed, bea, AU)
    xero.disconnect_app(tenant=AU)  # someone removed the app in Xero's Connected Apps
    connection_health_check(organisation=removed)
    # Harbour Bakery is not connected; only Hamish may connect it.

    sign_in(page, "bea", PASSWORD)
    page.goto(f"{live_server.url}/portal/")
    attention = page.locator("#needs-attention")
    expect(attention.locator('tr[data-org="brolly"]')).to_contain_text("Removed in Xero")
    expect(attention.locator('tr[data-org="brolly"] .next-step button')).to_be_visible()
    expect(attention.locator('tr[data-org="harbour"] .next-step')).to_contain_text("Hamish Harbour")
    expect(attention.locator('tr[data-org="harbour"] .next-step button')).to_have_count(0)
    expect(attention.locator('tr[data-org="kowhai"]')).to_have_count(0)
    shoot(page, "portal-needs-attention")

    # Bulk: a health check of every organisation.
    page.check("#select-page")
    page.select_option("#bulk-kind", "health_check")
    page.click("#bulk-go")
    expect(page.locator("#job-status")).to_have_text("Done", timeout=30_000)
    expect(page.locator("#job-bar")).to_have_attribute("aria-valuenow", "100")
    results = page.locator("#job-results")
    expect(results.locator("tr", has_text="Kowhai Coffee")).to_contain_text("It is working")
    expect(results.locator("tr", has_text="Brolly & Co")).to_contain_text("Needs attention")
    expect(results.locator("tr", has_text="Brolly & Co")).to_contain_text("Reconnect")
    expect(results.locator("tr", has_text="Harbour Bakery")).to_contain_text("Ask Hamish Harbour")
    shoot(page, "portal-bulk-health-check")
