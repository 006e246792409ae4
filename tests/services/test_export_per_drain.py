"""What an export drain reads once per drain rather than once per batch — the lists the
pre-flight compares with and whether any webhook endpoint listens — and how fresh it stays: a
change made while a drain runs is seen by the next drain at the latest, and a document is never
failed on lists read before a refresh that cured it."""
from django.utils import timezone

from tests.services.test_exports import connection, drain, fast_limits, make_invoice, xero  # noqa: F401 (fixtures)
from tests.fakes import records
from xero_connect.models import (Account, ExportAttempt, ExportState, ListName, ListSyncState, WebhookDelivery,
                                 WebhookEndpoint, WebhookEvent)
from xero_connect.services import exports


def _chart(org, connection, *codes):
    for code in codes:
        Account.objects.create(organisation=org, tenant_id=connection.tenant_id, xero_id=f"a-{code}", code=code,
                               name=f"Account {code}", type="REVENUE")
    ListSyncState.objects.update_or_create(organisation=org, list_name=ListName.ACCOUNTS, defaults={
        "last_refreshed_at": timezone.now(), "tenant_id": connection.tenant_id})


def _during_first_send(xero, change, *, send=1):
    """Run `change` while Xero handles the `send`-th write of the drain (1: the first batch's)."""
    def scripted(request):
        change()
        return None  # Xero answers as usual

    xero.script.extend([lambda request: None] * (send - 1) + [scripted])


def test_an_account_added_while_a_drain_runs_does_not_fail_its_later_batches(org, admin_user, connection, xero):
    _chart(org, connection, "200")
    for i in range(50):
        make_invoice(org, f"A-{i:02d}")                # first batch: a known account
    for i in range(10):
        make_invoice(org, f"B-{i:02d}", code="4711")   # second batch: an account added in Xero meanwhile
    exports.exports_enqueue(records=records(org), actor=admin_user)
    _during_first_send(xero, lambda: _chart(org, connection, "4711"))  # Refresh lists during the first batch
    result = drain(org)
    assert result.exported == 60 and result.failed == 0 and len(xero.calls) == 2
    assert not ExportAttempt.objects.filter(outcome=ExportAttempt.Outcome.PREFLIGHT_FAILED).exists()


def test_an_account_archived_while_a_drain_runs_is_caught_by_the_next_drain(org, admin_user, connection, xero):
    _chart(org, connection, "200", "4711")
    for i in range(50):
        make_invoice(org, f"A-{i:02d}")
    make_invoice(org, "B-00", code="4711")
    exports.exports_enqueue(records=records(org), actor=admin_user)

    def archive():
        Account.objects.filter(code="4711").update(is_active=False, status="ARCHIVED")
    _during_first_send(xero, archive)
    # The drain read the chart before the archive: B-00 goes to Xero, which validates it.
    assert drain(org).exported == 51
    # The next drain reads the chart again and stops a new document on the archived account.
    make_invoice(org, "C-00", code="4711")
    exports.exports_enqueue(records=records(org).filter(state=ExportState.NOT_EXPORTED), actor=admin_user)
    calls = len(xero.calls)
    assert drain(org).failed == 1 and len(xero.calls) == calls
    record = records(org).get(document__number="C-00")
    assert record.state == ExportState.FAILED and "4711 (Account 4711) is archived in Xero" in record.last_error


def test_a_webhook_endpoint_added_while_a_drain_runs_gets_the_events_of_the_next_drain(org, admin_user, connection,
                                                                                       xero):
    for i in range(60):
        make_invoice(org, f"A-{i:02d}")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    endpoint = []
    _during_first_send(xero, lambda: endpoint.append(WebhookEndpoint.objects.create(
        organisation=org, url="http://127.0.0.1:9/hook", secret_encrypted="x")), send=2)
    assert drain(org).exported == 60
    # Nobody listened when the drain asked (after its first batch): the events of its second
    # batch stay unsent (read once per drain).
    assert not WebhookDelivery.objects.exists()
    make_invoice(org, "B-00")
    exports.exports_enqueue(records=records(org).filter(state=ExportState.NOT_EXPORTED), actor=admin_user)
    assert drain(org).exported == 1
    delivery = WebhookDelivery.objects.get(endpoint=endpoint[0])
    assert delivery.event_type == WebhookEvent.DOCUMENT_EXPORTED
    assert delivery.payload["data"]["document"]["number"] == "B-00"


def test_a_webhook_endpoint_disabled_while_a_drain_runs_gets_nothing_more(org, admin_user, connection, xero):
    endpoint = WebhookEndpoint.objects.create(organisation=org, url="http://127.0.0.1:9/hook", secret_encrypted="x")
    for i in range(60):
        make_invoice(org, f"A-{i:02d}")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    _during_first_send(xero, lambda: WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False))
    assert drain(org).exported == 60
    # The first batch's outcome was recorded after its send (the endpoint already off): nothing.
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()
