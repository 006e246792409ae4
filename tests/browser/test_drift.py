"""Drift in a browser (#16): a Xero user voids an exported invoice on the sandbox's own page,
Xero's signed webhook reaches the product, the ledger flags "Voided in Xero", the Admin sends it
again as a new document with the suffix they confirm — and Xero then holds two documents (the
voided one and the new one) while the ledger tells the truth about both. The worker's steps
(one webhook cycle, one export drain) are played by the test between the clicks."""
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.factories import PASSWORD
from tests.browser.xero_pages import XERO_PASSWORD, XERO_USER
from tests.xero_live import connect
from xero_connect.models import DocumentType, ExportRecord, ExportState, Role, TaxRate, XeroDrift
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create
from xero_connect.tasks.drift import webhook_events_process

NZ = "!kWh4R"
KEY = "browser-test-webhook-key"


@pytest.fixture
def not_in_the_server_thread(monkeypatch):
    """Work queued by the live server's requests waits for the test to run it (django-q2's
    synchronous mode would run it in the server's thread, on the test's shared connection)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)


def test_void_in_xero_flag_reexport_as_new_two_documents_in_xero(live_server, xero, page, sign_in, shoot, settings,
                                                                  transactional_db, not_in_the_server_thread):
    settings.XERO_WEBHOOK_KEY = KEY
    settings.XERO_WEBHOOK_WORKER_ON_RECEIPT = False
    settings.XERO_LIMIT_MINUTE_SECONDS = 1.0
    settings.XERO_EXPORT_MAX_INLINE_WAIT = 2.0
    org = factories.make_organisation("Kowhai Coffee", slug="kowhai")
    ann = factories.make_user("ann", first_name="Ann", last_name="Admin")
    factories.add_member(org, ann, Role.ADMIN)
    connect(org, ann, NZ)
    TaxRate.objects.update_or_create(organisation=org, tax_type="OUTPUT2", defaults={
        "name": "15% GST on Income", "effective_rate": Decimal("15"), "status": "ACTIVE"})
    doc = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="KC-900",
                          date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Cuba Street Café",
                          lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("45.00"),
                                          account_code="200", tax_type="OUTPUT2")])
    exports.exports_enqueue(records=ExportRecord.objects.filter(document=doc), actor=ann)
    exports.exports_drain(organisation_id=org.pk, max_seconds=20)
    record = ExportRecord.objects.get(document=doc)
    assert record.state == ExportState.EXPORTED
    xero.webhooks_flush()

    # In Xero: the bookkeeper voids the invoice on its page.
    tenant_id = xero.organisation_get(NZ).tenant_id
    page.goto(f"{live_server.url}/xero-sandbox/orgs/{tenant_id}/documents/{record.xero_id}/")
    if page.locator("#email").count():
        page.fill("#email", XERO_USER)
        page.fill("#password", XERO_PASSWORD)
        page.click("button[type=submit]")
    page.get_by_role("button", name="Void").click()
    expect(page.locator(".pill.VOIDED")).to_be_visible()
    shoot(page, "drift-sandbox-voided")
    assert xero.webhooks_flush() == [200]  # Xero's signed webhook reaches /xero/webhooks/
    webhook_events_process()  # one worker cycle

    # In the product: the ledger flags it; the Admin sends it again as a new document.
    sign_in(page, "ann", PASSWORD)
    page.goto(f"{live_server.url}/o/kowhai/exports/")
    page.select_option("#drift", "changed")
    page.get_by_role("button", name="Show").click()
    row = page.locator('tr[data-number="KC-900"]')
    expect(row.locator(".drift-cell")).to_contain_text("Voided in Xero")
    shoot(page, "drift-ledger-flag")
    row.get_by_role("link", name="Voided in Xero").click()
    expect(page.locator("#record-drift")).to_contain_text("Voided in Xero")
    expect(page.get_by_label("New number: KC-900 followed by")).to_have_value("-R1")
    page.get_by_role("button", name="Re-export as a new document").click()
    expect(page.get_by_text("Queued as a new document numbered “KC-900-R1”")).to_be_visible()
    exports.exports_drain(organisation_id=org.pk, max_seconds=20)  # the worker's export run
    page.reload()
    expect(page.get_by_role("link", name="Sales invoice KC-900-R1")).to_be_visible()
    shoot(page, "drift-reexported")

    # Two documents in Xero, a true ledger.
    in_xero = {d["InvoiceNumber"]: d["Status"] for d in xero.documents(tenant=NZ, kind="invoice")
               if d["InvoiceNumber"].startswith("KC-900")}
    assert in_xero == {"KC-900": "VOIDED", "KC-900-R1": "AUTHORISED"}
    record.refresh_from_db()
    assert record.xero_drift == XeroDrift.VOIDED and record.replaced_by.state == ExportState.EXPORTED
    assert record.replaced_by.xero_id != record.xero_id
