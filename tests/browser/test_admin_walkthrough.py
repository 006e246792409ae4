"""The whole story an Admin lives, in Debian's chromium against the sandbox and a real
django-q2 worker: connect → pick one of two Xero organisations → finish → currencies and
accounts imported → export a date range → View in Xero → the app is removed on Xero's Connected
Apps page → Diagnose says so with the fix → more exports wait → Reconnect → they leave by
themselves, each exactly once in Xero."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.browser.xero_pages import sign_in_to_xero_and_consent
from tests.factories import PASSWORD
from tests.workers import wait_for
from xero_connect.models import DocumentType, ExchangeRate, ExportRecord, ExportState, Role
from xero_connect.services.demo_documents import demo_seed_documents
from xero_connect.services.documents import LineSpec, document_create

pytestmark = pytest.mark.slow
NZ, AU = "!kWh4R", "!wG7oS"


def choose_and_finish(page, tenant_name):
    page.get_by_label(tenant_name).check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#confirm-tenant")).to_have_text(tenant_name)
    page.get_by_role("button", name="Finish").click()


def reload_until(page, locator, text, timeout=60):
    wait_for(lambda: (page.reload() or True) and text in (locator.text_content() or ""), timeout=timeout,
             interval=1.0, what=f"'{text}' on {page.url}")


def test_admin_connects_exports_loses_the_connection_and_gets_everything_out_once(
        live_server, xero, worker, page, sign_in, shoot, transactional_db):
    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi", base_currency="NZD")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    ExchangeRate.objects.create(organisation=org, currency_code="AUD", rate=Decimal("0.918"))
    ExchangeRate.objects.create(organisation=org, currency_code="USD", rate=Decimal("0.595"))
    demo_seed_documents(organisation=org, count=24, months=1)
    worker()
    nz, au = xero.organisation_get(NZ), xero.organisation_get(AU)

    # Connect, picking one of two Xero organisations.
    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/")
    page.get_by_role("button", name="Connect to Xero").click()
    sign_in_to_xero_and_consent(page, [nz.name, au.name])
    shoot(page, "walkthrough-1-choose-organisation")
    choose_and_finish(page, nz.name)
    expect(page.locator("#xero-status")).to_contain_text("Connected")
    expect(page.locator(".xero-card")).to_contain_text(nz.name)
    shoot(page, "walkthrough-2-connected")

    # Currencies and account codes arrive by themselves (the worker runs the imports).
    page.goto(f"{live_server.url}/o/kiwi/lists/?list=currencies")
    reload_until(page, page.locator("main"), "AUD")
    page.goto(f"{live_server.url}/o/kiwi/lists/?list=accounts")
    reload_until(page, page.locator("main"), "Sales")
    shoot(page, "walkthrough-3-lists-imported")

    # Export the range; every row ends with a View link into Xero.
    page.goto(f"{live_server.url}/o/kiwi/exports/")
    page.locator("#bulk-actions").get_by_role("button", name="Export everything not yet exported in this range").click()
    expect(page.locator("#job-status")).to_have_text("Finished", timeout=90_000)
    shoot(page, "walkthrough-4-exported")
    exported = ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED)
    assert exported.count() >= 20  # a few demo bills use an account archived in Xero and fail, with reasons
    page.reload()
    first = exported.select_related("document").filter(doc_type=DocumentType.SALES_INVOICE).first()
    view = page.locator(f'tr[data-number="{first.document.number}"] .view-cell a')
    with page.context.expect_page() as opened:
        view.click()
    xero_page = opened.value
    xero_page.wait_for_load_state()
    expect(xero_page.locator("body")).to_contain_text(first.document.number)
    shoot(xero_page, "walkthrough-5-view-in-xero")
    xero_page.close()

    # Someone removes the app in Xero's Connected Apps.
    page.goto(f"{live_server.url}/xero-sandbox/orgs/{nz.tenant_id}/")
    page.get_by_role("button", name="Disconnect").click()

    page.goto(f"{live_server.url}/o/kiwi/")
    page.get_by_role("button", name="Diagnose").click()
    expect(page.locator("main")).to_contain_text("The app was disconnected in Xero")
    expect(page.locator("main")).to_contain_text("Reconnect")
    shoot(page, "walkthrough-6-diagnosed-removed")

    # New documents are exported while the connection is broken: they wait.
    today = timezone.localdate()
    late = [document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"LATE-{i}",
                            date=today - timedelta(days=i), due_date=today, contact_name="Te Aro Kitchen",
                            lines=[LineSpec(description="Beans", quantity=Decimal(3), unit_amount=Decimal("25"),
                                            account_code="200", tax_type="OUTPUT2")]) for i in range(3)]
    page.goto(f"{live_server.url}/o/kiwi/exports/")
    page.locator("#bulk-actions").get_by_role("button", name="Export everything not yet exported in this range").click()
    expect(page.locator("#waiting-banner")).to_contain_text("waiting for the Xero connection", timeout=30_000)
    shoot(page, "walkthrough-7-waiting")

    # Reconnect; nobody presses anything afterwards.
    page.goto(f"{live_server.url}/o/kiwi/")
    page.get_by_role("button", name="Reconnect").click()
    if page.get_by_role("button", name="Reconnect").count():  # the page that explains a reconnect
        page.get_by_role("button", name="Reconnect").click()
    sign_in_to_xero_and_consent(page, [nz.name])
    if page.get_by_role("button", name="Next").count():
        choose_and_finish(page, nz.name)
    else:
        page.get_by_role("button", name="Finish").click()
    expect(page.locator("#xero-status")).to_contain_text("Connected")

    page.goto(f"{live_server.url}/o/kiwi/exports/")
    for doc in late:
        reload_until(page, page.locator(f'tr[data-number="{doc.number}"]'), "Xero", timeout=90)
    shoot(page, "walkthrough-8-left-after-reconnect")

    numbers = [d["InvoiceNumber"] for d in xero.documents(tenant=NZ, kind="invoice")]
    assert len(numbers) == len(set(numbers))  # nothing twice
    assert {d.number for d in late} <= set(numbers)  # nothing lost
    assert xero.documents_count(tenant=AU) == 0  # nothing went to the organisation not picked
