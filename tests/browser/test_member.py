"""A member sees the connection status and the ledger, and the admins' names where admin-only
buttons would be."""
from playwright.sync_api import expect

from decimal import Decimal

from django.utils import timezone

from tests import factories
from tests.factories import PASSWORD
from xero_connect.models import ExportRecord, ExportState, Role
from xero_connect.services.documents import LineSpec, document_create


def test_member_sees_status_and_whom_to_ask(live_server, page, sign_in, shoot, transactional_db):
    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    second = factories.make_user("zoe", first_name="Zoe", last_name="Zeal")
    factories.add_member(org, second, Role.ADMIN)
    member = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, member, Role.MEMBER)
    connection = factories.make_connection(org, actor=admin, tenant_name="Kiwi Kitchenware (Xero)",
                                           short_code="!kWh4R")
    for number in ("INV-001", "INV-002"):
        document_create(organisation=org, doc_type="sales_invoice", number=number, date=timezone.localdate(),
                        contact_name="Cuba Street Café",
                        lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("30"),
                                        account_code="200", tax_type="OUTPUT2")])
    ExportRecord.objects.filter(document__number="INV-001").update(
        state=ExportState.EXPORTED, xero_id="x-1", exported_at=timezone.now(), connection=connection,
        tenant_id=connection.tenant_id)

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
    expect(page.locator('tr[data-number="INV-001"] .view-cell a')).to_have_text("Xero")
    expect(page.locator('tr[data-number="INV-002"] .view-cell button')).to_have_text("Export")
    expect(page.get_by_role("button", name="Re-export selected…")).to_have_count(0)
    expect(page.locator("#reexport-ask")).to_contain_text("Alice Admin")
    expect(page.locator("#reexport-ask")).to_contain_text("Zoe Zeal")
    shoot(page, "member-export-data")
