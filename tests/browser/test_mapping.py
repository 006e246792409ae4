"""The Account mapping page in a browser (#15): a newcomer sees "Needs mapping", maps with a
suggestion in one click, and the items go out by themselves; the page passes axe (WCAG 2.1 AA)."""
from datetime import date
from decimal import Decimal

import responses
from playwright.sync_api import expect

from tests import factories
from tests.browser.test_screens_and_words import audit
from tests.factories import PASSWORD
from tests.fakes import FakeXero
from tests.services.test_mapping import chart
from xero_connect.models import ExportRecord, ExportState, Role
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create


def test_admin_maps_with_a_suggestion_and_waiting_items_go_out(live_server, page, sign_in, shoot, transactional_db):
    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    connection = factories.make_connection(org, actor=alice)
    chart(org, connection.tenant_id)
    for n in (1, 2):
        document_create(organisation=org, doc_type="sales_invoice", number=f"INV-{n}", date=date.today(),
                        due_date=date.today(), contact_name="Cuba Street Café",
                        lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal(5),
                                        category="WHOLESALE")])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(live_server.url)
        xero = FakeXero(rsps)
        exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org), actor=alice)
        exports.exports_drain(organisation_id=org.pk, max_seconds=5)
        assert set(ExportRecord.objects.values_list("state", flat=True)) == {ExportState.NEEDS_MAPPING}

        from xero_connect.services import mapping
        mapping.mapping_suggest(organisation=org)
        sign_in(page, "alice", PASSWORD)
        page.goto(f"{live_server.url}/o/kiwi/exports/")
        expect(page.locator("main")).to_contain_text("Needs mapping")
        page.goto(f"{live_server.url}/o/kiwi/mapping/")
        row = page.locator("#mapping-table tbody tr").first
        expect(row).to_contain_text("WHOLESALE")
        expect(row).to_contain_text("Suggested")
        expect(page.get_by_label("Xero account for WHOLESALE")).to_have_value(
            str(mapping.CategoryMapping.objects.get().account_id))
        shoot(page, "mapping-suggested")
        found = {}
        audit(page, "account mapping", found)
        assert not found, found
        page.get_by_role("button", name="Use all suggestions").click()
        expect(page.locator("#mapping-table tbody tr").first).to_contain_text("Mapped")
        shoot(page, "mapping-confirmed")
        # The release queued them; the worker (run here) sends them.
        exports.exports_drain(organisation_id=org.pk, max_seconds=5)
    assert set(ExportRecord.objects.values_list("state", flat=True)) == {ExportState.EXPORTED}
    assert sorted(el["InvoiceNumber"] for el in xero.created()) == ["INV-1", "INV-2"]
    assert all(el["LineItems"][0]["AccountCode"] == "200" for el in xero.created())
