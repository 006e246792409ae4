"""Issue #12 item 1, end to end against the sandbox: what we know of Xero belongs to one Xero
organisation. Export to A (Kōwhai), switch to B (Wattle & Gum, confirming the switch), export
and retry: nothing sent to B carries A's ContactIDs or InvoiceIDs; a contact B doesn't know is
created by Name; a payment of an invoice that lives in A fails before any call, saying so; the
documents in A stay "exported in A" with View links into A and a re-export of them is refused
up front; pre-flight says "archived in Xero" only for what B archived."""
import unicodedata
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories, xero_live
from tests.e2e.test_export_sandbox import xero  # noqa: F401  (the sandbox with the queue's waits shortened)
from xero_connect.models import Contact, DocumentType, ExportRecord, ExportState, Role
from xero_connect.selectors.preflight import document_preflight
from xero_connect.services import connections
from xero_connect.services.documents import LineSpec, document_create
from xero_connect.services.lists import lists_refresh_now

sandbox = pytest.importorskip("xero_sandbox.services")
A, B = "!kWh4R", "!wG7oS"  # Kōwhai Coffee Roasters (NZ), Wattle & Gum Outdoor Supplies (AU)


def switch_to(org, admin, tenant):
    """Reconnect to another Xero organisation, confirming the switch as the page asks."""
    session = xero_live.Session()
    authorize_url = connections.oauth_start(organisation=org, actor=admin, session=session, reconnect=True)
    callback = sandbox.consent_redirect(authorize_url, tenants=[tenant])
    pending = connections.oauth_callback(session=session, user=admin, params=dict(parse_qsl(urlsplit(callback).query)))
    tenant_id = str(sandbox.organisation_get(tenant).tenant_id)
    return connections.connection_complete(pending=pending, actor=admin, tenant_id=tenant_id, confirm_switch=True)


def sale(org, number, contact, *, code="200", tax_type="OUTPUT2"):
    return document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=number,
                           date=timezone.localdate(), contact_name=contact,
                           lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("10"),
                                           account_code=code, tax_type=tax_type)])


def payment(org, number, paid):
    return document_create(organisation=org, doc_type=DocumentType.PAYMENT, number=number,
                           date=timezone.localdate(), paid_document=paid, payment_account_code="090",
                           amount=Decimal("5"))


def post(client, org, name="exports_action", **data):
    dates = {"from": (timezone.localdate() - timedelta(days=40)).isoformat(), "to": timezone.localdate().isoformat()}
    return client.post(reverse(name, args=[org.slug]), {**dates, **data})


def sandbox_contact_ids(tenant) -> set[str]:
    from xero_sandbox.models import Contact as SandboxContact

    return {str(c) for c in SandboxContact.objects.filter(organisation=sandbox.organisation_get(tenant))
            .values_list("contact_id", flat=True)}


def test_after_a_switch_nothing_of_a_goes_to_b_and_a_documents_stay_in_a(xero, transactional_db, client):
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai", base_currency="NZD")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    client.force_login(admin)

    # In A: lists read, an invoice and its payment exported, one contact archived there.
    xero_live.connect(org, admin, A)
    lists_refresh_now(organisation=org, actor=admin)
    in_a = sale(org, "KC-1", "Cuba Street Café")
    payment(org, "KC-PAY-1", in_a)
    post(client, org, action="range")
    record_a = ExportRecord.objects.get(document=in_a)
    assert record_a.state == ExportState.EXPORTED
    a_invoice_id = record_a.xero_id
    a_contact_ids = sandbox_contact_ids(A)
    assert sandbox.document_find(tenant=A, number="KC-1")["Contact"]["ContactID"] in a_contact_ids
    from xero_sandbox.models import Contact as SandboxContact
    SandboxContact.objects.filter(organisation=sandbox.organisation_get(A), name="Ponsonby Espresso Bar").update(
        status="ARCHIVED")
    lists_refresh_now(organisation=org, actor=admin)
    assert Contact.objects.get(organisation=org, name="Ponsonby Espresso Bar").is_active is False

    # Switch to B; B knows "Cuba Street Café" under its own ContactID, not "Ponsonby Espresso Bar".
    sandbox.add_contact(tenant=B, name="Cuba Street Café")
    switch_to(org, admin, B)
    lists_refresh_now(organisation=org, actor=admin)
    b_contact_ids = sandbox_contact_ids(B)
    messy = unicodedata.normalize("NFD", "  cuba   STREET café ")  # case, spaces, decomposed accent
    known = sale(org, "KC-2", messy, code="200", tax_type="OUTPUT")
    unknown = sale(org, "KC-3", "Ponsonby Espresso Bar", code="200", tax_type="OUTPUT")
    pays_a = payment(org, "KC-PAY-2", in_a)
    assert document_preflight(document=unknown) == []  # archived in A says nothing about B

    post(client, org, action="range")
    post(client, org, action="retry_failed")

    # Sent to B: B's own ContactID for the known name, a new contact by Name for the unknown one.
    sent_known = sandbox.document_find(tenant=B, number="KC-2")
    sent_unknown = sandbox.document_find(tenant=B, number="KC-3")
    assert sent_known["Contact"]["ContactID"] in b_contact_ids
    assert sent_known["Contact"]["Name"] == "Cuba Street Café"
    assert sent_unknown["Contact"]["Name"] == "Ponsonby Espresso Bar"
    assert sent_unknown["Contact"]["ContactID"] not in a_contact_ids
    for document in sandbox.documents(tenant=B):
        assert (document.get("Contact") or {}).get("ContactID") not in a_contact_ids
        assert document.get("InvoiceID") != a_invoice_id
    assert sandbox.document_find(tenant=B, number="KC-1") is None
    assert sandbox.documents_count(tenant=B, kind="payment") == 0

    # The payment of A's invoice failed before any call, naming where the invoice is.
    pay_record = ExportRecord.objects.get(document=pays_a)
    assert pay_record.state == ExportState.FAILED
    assert "Kōwhai Coffee Roasters" in pay_record.last_error and "KC-1" in pay_record.last_error
    assert not pay_record.attempts.exclude(outcome="preflight_failed").exists()

    # A's documents stay exported in A, with View links into A; a re-export is refused up front.
    response = post(client, org, "exports_reexport", records=[record_a.pk], confirm="yes")
    record_a.refresh_from_db()
    assert record_a.state == ExportState.EXPORTED and record_a.xero_id == a_invoice_id
    assert record_a.tenant_id == str(sandbox.organisation_get(A).tenant_id)
    page = client.get(response["Location"]).content.decode()
    assert "are not re-exported" in page
    row = page[page.index('data-number="KC-1"'):]
    row = row[:row.index("</tr>")]
    assert "exported in Kōwhai Coffee Roasters" in row and "shortcode=%21kWh4R" in row
    assert sandbox.document_find(tenant=B, number="KC-1") is None
    for number in ("KC-2", "KC-3"):
        assert ExportRecord.objects.get(document__number=number).state == ExportState.EXPORTED
