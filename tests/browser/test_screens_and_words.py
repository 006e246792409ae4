"""The words and screens a person meets, in chromium: role-correct next steps (an Admin is told
to press the button, a Member whom to ask), one name per state on every page, the status card
saying what it knows and since when (and noticing a removal in Xero when opened), the layout at
320 CSS px, the remembered date range, and an axe-core audit of every page (0 serious or
critical WCAG 2.1 A/AA violations). Screenshots go to test-artifacts/."""
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories, xero_live
from tests.browser.xero_pages import sign_in_to_xero_and_consent
from tests.factories import PASSWORD
from xero_connect import messages as words
from xero_connect.models import (
    BulkJob, ConnectionStatus, ExportRecord, ExportState, ListRefresh, Role, XeroConnection,
)
from xero_connect.services.documents import LineSpec, document_create

NZ, AU = "!kWh4R", "!wG7oS"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_axe = Axe()


def audit(page, name: str, found: dict) -> None:
    """Run axe-core (WCAG 2.1 A/AA rules) on the page; keep serious/critical violations by page."""
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                      "resultTypes": ["violations"]})
    bad = [f"{v['id']} ({v['impact']}): {len(v['nodes'])}× e.g. {v['nodes'][0]['target']}"
           for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        found[name] = bad


def invoice(org, number, *, days_ago=0):
    return document_create(
        organisation=org, doc_type="sales_invoice", number=number,
        date=timezone.localdate() - timedelta(days=days_ago), contact_name="Cuba Street Café",
        lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("30.00"),
                        account_code="200", tax_type="OUTPUT2")])


def kiwi_people():
    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    mark = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, mark, Role.MEMBER)
    return org, alice, mark


def visible_sentences(page) -> list[str]:
    text = page.locator("main").inner_text()
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", text) if s.strip()]


# --- words that fit the reader ------------------------------------------------------------------

def test_admin_is_told_to_press_reconnect_and_a_member_whom_to_ask(live_server, page, sign_in, shoot,
                                                                      transactional_db):
    org, alice, mark = kiwi_people()
    connection = factories.make_connection(org, actor=alice, tenant_name="Kiwi Kitchenware (Xero)")
    XeroConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.REMOVED_IN_XERO)
    doc = invoice(org, "INV-W1")
    ExportRecord.objects.filter(document=doc).update(
        state=ExportState.WAITING_FOR_CONNECTION,
        last_error="The app was disconnected in Xero. Xero refused access to this organisation: the app was "
                   "removed from Xero's Connected Apps. An Admin should press Reconnect and select the "
                   "organisation again. Waiting exports will then go out by themselves.")
    invoice(org, "INV-N1")

    # Alice is the only Admin: she is never told to ask anyone, and gets the button.
    sign_in(page, "alice", PASSWORD)
    for path in ("/o/kiwi/", "/o/kiwi/xero/", "/o/kiwi/exports/"):
        page.goto(f"{live_server.url}{path}")
        asks = [s for s in visible_sentences(page) if re.search(r"\bask\b", s, re.I)]
        assert not [s for s in asks if "Alice" in s], (path, asks)
    page.goto(f"{live_server.url}/o/kiwi/exports/")
    banner = page.locator("#waiting-banner")
    expect(banner.locator("#waiting-next-step")).to_contain_text("Press Reconnect")
    expect(banner.get_by_role("button", name="Reconnect")).to_be_visible()
    # Waiting is not failing: a short neutral reason, no Export button on the row.
    row = page.locator('tr[data-number="INV-W1"]')
    expect(row.locator(".waiting-reason")).to_have_text("Goes out once Xero is reconnected.")
    expect(row.locator(".error")).to_have_count(0)
    expect(row.get_by_role("button", name="Export")).to_have_count(0)
    expect(page.locator('tr[data-number="INV-N1"]').get_by_role("button", name="Export")).to_be_visible()
    expect(page.locator("#bulk-actions-below").get_by_role("button", name="Export selected", exact=True)).to_be_visible()
    shoot(page, "words-admin-export-data-waiting")
    page.goto(f"{live_server.url}/o/kiwi/")
    expect(page.locator("#xero-next-step")).to_contain_text("Press Reconnect")
    expect(page.locator(".xero-card .ask-admins")).to_have_count(0)
    expect(page.locator(".page-head")).to_contain_text("you are an Admin here")

    # Mark is a Member: told whom to ask, by name, and given no button he cannot use.
    page.context.clear_cookies()
    sign_in(page, "mark", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/exports/")
    expect(page.locator("#waiting-next-step")).to_have_text("Ask Alice Admin (an Admin) to press Reconnect.")
    expect(page.locator("#waiting-banner").get_by_role("button", name="Reconnect")).to_have_count(0)
    shoot(page, "words-member-export-data-waiting")
    page.goto(f"{live_server.url}/o/kiwi/")
    expect(page.locator("#xero-next-step")).to_have_text("Ask Alice Admin (an Admin) to press Reconnect.")
    expect(page.locator(".page-head")).to_contain_text("you are a Member here")
    for path in ("/o/kiwi/", "/o/kiwi/xero/", "/o/kiwi/exports/"):
        page.goto(f"{live_server.url}{path}")
        for sentence in visible_sentences(page):
            if re.search(r"\bask\b", sentence, re.I) and "Alice" not in sentence:
                pytest.fail(f"{path}: an 'ask' sentence that names nobody: {sentence!r}")


def test_one_name_per_state_on_every_page(live_server, page, sign_in, transactional_db):
    """The same state has the same name in the status pill, the Lists page, Export Data, the
    portal, the connection page and the Refresh lists failure page."""
    org, alice, mark = kiwi_people()
    other = factories.make_organisation("Kiwi Two", slug="kiwi-two")
    factories.add_member(other, alice, Role.ADMIN)
    connection = factories.make_connection(org, actor=alice, tenant_name="Kiwi Kitchenware (Xero)")
    sign_in(page, "alice", PASSWORD)
    for status in (ConnectionStatus.REMOVED_IN_XERO, ConnectionStatus.NEEDS_RECONNECT, ConnectionStatus.CONNECTED):
        XeroConnection.objects.filter(pk=connection.pk).update(status=status, last_health_check_at=timezone.now())
        name = words.STATE_NAMES[status]
        others = [n for code, n in words.STATE_NAMES.items() if code != status]
        for path, pill in (("/o/kiwi/", "#xero-status"), ("/o/kiwi/xero/", "#xero-status"),
                           ("/o/kiwi/exports/", "#connection-status"), ("/o/kiwi/lists/", "#refresh-card .status"),
                           ("/portal/", '#portal-table tr[data-org="kiwi"] .status')):
            page.goto(f"{live_server.url}{path}")
            expect(page.locator(pill)).to_have_text(name)
        page.goto(f"{live_server.url}/o/kiwi/")
        card = page.locator(".xero-card").inner_text()
        assert not [n for n in others if re.search(rf"\b{re.escape(n)}\b(?! Apps)", card)], (status, card)
    # The Refresh lists failure page names the state as the pill does.
    XeroConnection.objects.filter(pk=connection.pk).update(status=ConnectionStatus.REMOVED_IN_XERO)
    from xero_connect.services import lists as lists_service
    refresh = ListRefresh.objects.create(organisation=org, actor=alice, trigger=ListRefresh.Trigger.MANUAL,
                                         lists=["accounts"])
    lists_service.lists_refresh_run(refresh_id=refresh.pk)
    page.goto(f"{live_server.url}/o/kiwi/lists/refresh/{refresh.pk}/")
    expect(page.locator("#refresh-failure strong")).to_have_text("Removed in Xero.")
    expect(page.locator("#refresh-next-step")).to_contain_text("Press Reconnect")
    # The portal is called the same in the navigation and on the page.
    page.goto(f"{live_server.url}/portal/")
    expect(page.locator("h1")).to_have_text(words.PORTAL_NAME)
    expect(page.locator(".topnav a").first).to_have_text(words.PORTAL_NAME)
    # Imports after (re)connecting are called the same in the history and on their page.
    imports = ListRefresh.objects.create(organisation=org, trigger=ListRefresh.Trigger.CONNECT, lists=["currencies"],
                                         status=ListRefresh.Status.DONE, finished_at=timezone.now())
    page.goto(f"{live_server.url}/o/kiwi/lists/")
    expect(page.locator("#latest-refresh a")).to_contain_text("Imports after connecting")
    page.goto(f"{live_server.url}/o/kiwi/lists/refresh/{imports.pk}/")
    expect(page.locator("h1")).to_have_text("Imports after connecting")
    # One row's Export opens a job named after the button pressed (the item waits: no Xero here).
    invoice(org, "INV-1")
    page.goto(f"{live_server.url}/o/kiwi/exports/")
    page.locator('tr[data-number="INV-1"]').get_by_role("button", name="Export").click()
    expect(page.locator("#job-name")).to_have_text("Export")
    assert BulkJob.objects.filter(organisation=org).count() == 1


# --- true at a glance ----------------------------------------------------------------------------

def test_status_card_says_when_it_last_checked_and_sees_a_removal_when_opened(
        live_server, xero, page, sign_in, shoot, transactional_db):
    org = factories.make_organisation("Kōwhai Coffee Roasters", slug="kowhai")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    xero_live.connect(org, alice, NZ)
    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kowhai/")
    expect(page.locator("#xero-status")).to_have_text("Connected")
    expect(page.locator("#xero-checked")).to_have_text(re.compile(r"^Working when last checked at \d\d:\d\d\.$"))
    shoot(page, "glance-1-working")

    # Someone presses Disconnect next to the product in Xero's Connected Apps.
    assert xero.disconnect_app(tenant=NZ) == 1
    # The card's look is cached for XERO_GLANCE_SECONDS; make the last one older than that.
    XeroConnection.objects.filter(organisation=org).update(last_health_check_at=timezone.now() - timedelta(minutes=5))
    cache.clear()
    page.goto(f"{live_server.url}/o/kowhai/")
    expect(page.locator("#xero-status")).to_have_text("Removed in Xero")
    expect(page.locator("#xero-checked")).to_contain_text("Removed in Xero when last checked at")
    expect(page.locator("#xero-next-step")).to_contain_text("Press Reconnect")
    expect(page.locator(".xero-card").get_by_role("button", name="Reconnect")).to_have_class(re.compile("primary"))
    shoot(page, "glance-2-removed-seen-on-opening")
    assert XeroConnection.objects.get(organisation=org, is_current=True).status == ConnectionStatus.REMOVED_IN_XERO


# --- finished screens ----------------------------------------------------------------------------

def test_export_data_remembers_the_chosen_date_range(live_server, page, sign_in, transactional_db):
    org, alice, _ = kiwi_people()
    invoice(org, "OLD-1", days_ago=200)
    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/exports/")
    start, end = timezone.localdate() - timedelta(days=240), timezone.localdate() - timedelta(days=150)
    page.fill("#from", start.isoformat())
    page.fill("#to", end.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(page.locator('tr[data-number="OLD-1"]')).to_be_visible()
    page.get_by_role("link", name="Integrations").click()
    page.get_by_role("link", name="Export Data").first.click()
    expect(page.locator("#from")).to_have_value(start.isoformat())
    expect(page.locator("#to")).to_have_value(end.isoformat())
    expect(page.locator('tr[data-number="OLD-1"]')).to_be_visible()


def test_choose_and_confirm_pages_preselect_our_name_and_warn_on_currency(live_server, xero, page, sign_in,
                                                                           shoot, transactional_db):
    org = factories.make_organisation("Kōwhai Coffee Roasters", slug="kowhai", base_currency="NZD")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    nz, au = xero.organisation_get(NZ), xero.organisation_get(AU)
    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kowhai/")
    page.get_by_role("button", name="Connect to Xero").click()
    sign_in_to_xero_and_consent(page, [nz.name, au.name])
    expect(page.get_by_label(nz.name)).to_be_checked()  # exactly our name: selected for us
    expect(page.get_by_label(au.name)).not_to_be_checked()
    next_box = page.get_by_role("button", name="Next").bounding_box()
    cancel_box = page.get_by_role("button", name="Cancel").bounding_box()
    assert abs(next_box["y"] - cancel_box["y"]) < 4  # Cancel sits beside Next, not on its own line
    shoot(page, "screens-choose-organisation")
    page.get_by_label(au.name).check()
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#currency-warning")).to_be_visible()
    finish = page.get_by_role("button", name="Finish")
    expect(finish).not_to_have_class(re.compile(r"\bprimary\b"))
    expect(page.locator(".form-actions").get_by_role("link", name="Choose another organisation")).to_have_class(
        re.compile("primary"))
    shoot(page, "screens-confirm-currency-mismatch")


def test_abandoned_sign_ins_are_folded_and_platform_staff_land_on_the_admin(live_server, page, sign_in,
                                                                            transactional_db):
    org, alice, _ = kiwi_people()
    from xero_connect import connection_states
    from xero_connect.models import ConnectionEvent
    for _ in range(4):
        connection_states.record_check(organisation=org, actor=alice, kind=ConnectionEvent.Kind.OAUTH,
                                       reason="Connect started: signing in to Xero", outcome="started")
    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/")
    events = page.locator("ul.events li")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("and 3 earlier sign-ins not finished")

    factories.make_user("ops", first_name="Olive", last_name="Operations", is_staff=True, is_superuser=True)
    page.context.clear_cookies()
    sign_in(page, "ops", PASSWORD)
    assert page.url.startswith(f"{live_server.url}/admin/")


# --- reflow at 320 CSS px ------------------------------------------------------------------------

def test_pages_reflow_at_320_css_pixels(live_server, browser, sign_in, transactional_db):
    org, alice, _ = kiwi_people()
    for i in range(3):
        other = factories.make_organisation(f"Organisation with a rather long name {i}", slug=f"long-{i}")
        factories.add_member(other, alice, Role.ADMIN if i % 2 else Role.MEMBER)
    factories.make_connection(org, actor=alice, tenant_name="Kiwi Kitchenware Limited (Xero organisation)")
    for n in range(3):
        invoice(org, f"INV-{n:04d}")
    context = browser.new_context(viewport={"width": 320, "height": 720})
    page = context.new_page()
    try:
        sign_in(page, "alice", PASSWORD)
        from tests.conftest import ARTIFACTS
        ARTIFACTS.mkdir(exist_ok=True)
        for path, name in (("/o/kiwi/", "reflow-320-organisation-home"), ("/portal/", "reflow-320-portal"),
                           ("/o/kiwi/exports/", "reflow-320-export-data"), ("/o/kiwi/xero/", "reflow-320-connection"),
                           ("/o/kiwi/lists/", "reflow-320-lists")):
            page.goto(f"{live_server.url}{path}")
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{path} is {width} px wide at 320"
    finally:
        context.close()


# --- accessibility: axe-core over every page ------------------------------------------------------

def test_every_page_has_no_serious_or_critical_wcag21_aa_violation(live_server, xero, page, sign_in, shoot,
                                                                    transactional_db):
    org = factories.make_organisation("Kōwhai Coffee Roasters", slug="kowhai", base_currency="NZD")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    mark = factories.make_user("mark", first_name="Mark", last_name="Member")
    factories.add_member(org, mark, Role.MEMBER)
    other = factories.make_organisation("Harbour Bakery Ltd", slug="harbour-bakery")
    factories.add_member(other, alice, Role.MEMBER)
    factories.add_member(other, mark, Role.ADMIN)
    nz, au = xero.organisation_get(NZ), xero.organisation_get(AU)
    docs = [invoice(org, f"INV-{n:03d}", days_ago=n) for n in range(6)]
    document_create(organisation=org, doc_type="sales_invoice", number="CAT-1", date=timezone.localdate(),
                    contact_name="Cuba Street Café", lines=[LineSpec(description="Beans", quantity=Decimal(1),
                                                                     unit_amount=Decimal(5), category="WHOLESALE")])
    ExportRecord.objects.filter(document=docs[0]).update(state=ExportState.FAILED,
                                                         last_error="Xero said: Account code '999' is not valid.")
    found: dict[str, list[str]] = {}
    base = live_server.url

    # Signed out: sign-in, its error state, 404.
    page.goto(f"{base}/login/")
    audit(page, "sign-in", found)
    page.fill("#id_username", "alice")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator("#sign-in-error")).to_be_visible()
    expect(page.locator("#id_password")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_password")).to_have_attribute("aria-describedby", "sign-in-error")
    audit(page, "sign-in with an error", found)

    sign_in(page, "alice", PASSWORD)
    # Connect through the sandbox: choose and confirm pages on the way.
    page.goto(f"{base}/o/kowhai/")
    audit(page, "organisation home, not connected", found)
    page.goto(f"{base}/o/kowhai/xero/connect/")
    audit(page, "connect explained", found)
    page.get_by_role("button", name="Connect to Xero").click()
    sign_in_to_xero_and_consent(page, [nz.name, au.name])
    audit(page, "select the Xero organisation", found)
    page.get_by_role("button", name="Next").click()
    audit(page, "confirm", found)
    page.get_by_role("button", name="Finish").click()
    expect(page.locator("#xero-status")).to_have_text("Connected")
    audit(page, "connection page", found)

    for path, name in (
            ("/o/kowhai/", "organisation home"),
            ("/o/kowhai/xero/reconnect/", "reconnect explained"),
            ("/o/kowhai/xero/disconnect/", "disconnect confirm"),
            ("/o/kowhai/xero/diagnose/", "diagnose"),
            ("/o/kowhai/lists/", "lists: accounts"),
            ("/o/kowhai/lists/?list=contacts", "lists: contacts"),
            ("/o/kowhai/lists/?list=tax_rates", "lists: tax rates"),
            ("/o/kowhai/lists/?list=tracking", "lists: tracking"),
            ("/o/kowhai/lists/?list=currencies", "lists: currencies"),
            ("/o/kowhai/exports/", "export data"),
            ("/o/kowhai/exports/import/", "import documents"),
            ("/o/kowhai/mapping/", "account mapping"),
            (f"/o/kowhai/exports/items/{docs[0].export_record.pk}/", "export item"),
            ("/portal/", "portal"),
            ("/o/nowhere/", "404"),
            ("/xero/callback/?state=forged&code=x", "sign-in problem"),
    ):
        page.goto(f"{base}{path}")
        audit(page, name, found)
    page.goto(f"{base}/o/kowhai/xero/diagnose/")
    page.get_by_role("button", name="Run the checks").click()
    audit(page, "diagnosis result", found)
    page.goto(f"{base}/o/kowhai/lists/")
    page.get_by_role("button", name="Refresh lists").click()
    audit(page, "refresh lists", found)
    page.goto(f"{base}/o/kowhai/exports/")
    page.locator('tr[data-number="INV-001"]').get_by_role("button", name="Export").click()
    audit(page, "export data with a job", found)
    page.goto(f"{base}/o/kowhai/exports/import/")
    page.set_input_files("#file", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                          "buffer": b"type,number,date\nsales_invoice,X-1,not-a-date\n"}])
    page.get_by_role("button", name="Import").click()
    expect(page.locator("#import-errors")).to_be_visible()
    expect(page.locator("#file")).to_have_attribute("aria-describedby", "import-errors")
    audit(page, "import with errors", found)
    page.goto(f"{base}/o/kowhai/exports/?state=failed")
    page.locator('input[name="records"]').first.check()
    page.locator("#bulk-actions").get_by_role("button", name="Re-export selected…").click()
    audit(page, "re-export confirm", found)
    page.goto(f"{base}/portal/")
    page.locator(".org-check").first.check()
    page.select_option("#bulk-kind", "health_check")
    page.get_by_role("button", name="Start", exact=True).click()
    audit(page, "portal job", found)

    page.context.clear_cookies()
    sign_in(page, "mark", PASSWORD)
    for path, name in (("/o/kowhai/", "organisation home (Member)"), ("/o/kowhai/exports/", "export data (Member)"),
                       ("/o/kowhai/mapping/", "account mapping (Member)"),
                       ("/o/kowhai/xero/reconnect/", "403")):
        page.goto(f"{base}{path}")
        audit(page, name, found)
    assert not found, "\n".join(f"{page_name}: {v}" for page_name, vs in found.items() for v in vs)


# --- progress that assistive tech can follow ------------------------------------------------------

def test_a_finishing_job_updates_in_place_named_and_keeps_focus(live_server, page, sign_in, shoot, transactional_db):
    org, alice, _ = kiwi_people()
    docs = [invoice(org, f"INV-J{n}") for n in range(3)]
    job = BulkJob.objects.create(organisation=org, actor=alice, kind=BulkJob.Kind.EXPORT_SELECTED, total=3)
    ExportRecord.objects.filter(document__in=docs).update(state=ExportState.QUEUED, job=job)
    sign_in(page, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/kiwi/exports/?job={job.pk}")
    bar = page.locator("#job-bar")
    expect(bar).to_have_attribute("aria-valuetext", "0 of 3 done")
    expect(bar).to_have_accessible_name("Export selected")
    expect(page.locator("#job-counts")).to_have_attribute("aria-live", "polite")
    page.evaluate("window.__stillHere = true")
    box = page.locator('input[name="records"]').nth(1)
    box.focus()
    value = box.get_attribute("value")

    ExportRecord.objects.filter(document=docs[0]).update(state=ExportState.EXPORTED)
    expect(bar).to_have_attribute("aria-valuetext", "1 of 3 done")
    expect(page.locator('#job-counts [data-k="done"]')).to_have_text("1")
    ExportRecord.objects.filter(document__in=docs[1:]).update(state=ExportState.FAILED, last_error="Xero said: no.")
    expect(page.locator("#job-status")).to_have_text("Finished")
    expect(bar).to_have_attribute("aria-valuetext", "3 of 3 done")
    # The ledger below is brought up to date in place: no reload, focus where it was.
    expect(page.locator('tr[data-number="INV-J2"] .failure-reason')).to_have_text("Xero said: no.")
    assert page.evaluate("window.__stillHere") is True
    assert page.evaluate("document.activeElement.name + ':' + document.activeElement.value") == f"records:{value}"
    shoot(page, "progress-job-finished-in-place")
