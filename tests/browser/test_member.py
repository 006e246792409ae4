"""A member sees the connection status and the ledger, and the admins' names where admin-only
buttons would be."""
from playwright.sync_api import expect

from tests import factories
from tests.factories import PASSWORD
from xero_connect.models import Role


def test_member_sees_status_and_whom_to_ask(live_server, page, sign_in, shoot, transactional_db):
    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    second = factories.make_user("zoe", first_name="Zoe", last_name="Zeal")
    factories.add_member(org, second, Role.ADMIN)
    member = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, member, Role.MEMBER)
    factories.make_connection(org, actor=admin, tenant_name="Kiwi Kitchenware (Xero)")

    sign_in(page, "mark", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/")
    expect(page.locator("#xero-status")).to_contain_text("Connected")
    expect(page.locator(".xero-card")).to_contain_text("Kiwi Kitchenware (Xero)")
    ask = page.locator(".xero-card .ask-admins")
    expect(ask).to_contain_text("Alice Admin")
    expect(ask).to_contain_text("Zoe Zeal")
    expect(page.get_by_role("button", name="Disconnect")).to_have_count(0)
    expect(page.get_by_role("button", name="Reconnect")).to_have_count(0)
    shoot(page, "member-organisation-home")

    page.goto(f"{live_server.url}/o/kiwi/exports/")
    expect(page.locator("body")).not_to_contain_text("Not found")
    shoot(page, "member-export-data")
