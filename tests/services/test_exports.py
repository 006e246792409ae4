"""The export queue at the HTTP seam (responses): batching, per-element outcomes, idempotency
keys, 429s, interrupted writes, waiting for the connection."""
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from tests import factories
from tests.fakes import FakeXero, records
from xero_connect.models import (
    BulkJob,
    DocumentType,
    ExportAttempt,
    ExportRecord,
    ExportState,
    RateBudget,
)
from xero_connect.services import exports, ratelimits
from xero_connect.services.documents import LineSpec, document_create

FAST = dict(
    XERO_LIMIT_MINUTE_SECONDS=0.3,  # 60 calls per 0.3 s: 5 ms apart
    XERO_EXPORT_MAX_INLINE_WAIT=0.5,  # a call slot is 5 ms away at most: wait for it, whatever the machine speed
    XERO_EXPORT_BACKOFF_BASE=30.0,
    XERO_EXPORT_CLAIM_LEASE=60.0,
)


@pytest.fixture(autouse=True)
def fast_limits():
    with override_settings(**FAST):
        yield


@pytest.fixture
def xero():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeXero(rsps)


@pytest.fixture
def connection(org, admin_user):
    return factories.make_connection(org, actor=admin_user, short_code="!abc12")


def make_invoice(org, number, *, doc_type=DocumentType.SALES_INVOICE, code="200", when=None, contact="Ridgeway"):
    return document_create(organisation=org, doc_type=doc_type, number=number, date=when or date.today(),
                           contact_name=contact, lines=[LineSpec(description="Widget", quantity=Decimal(2),
                                                                 unit_amount=Decimal("10.50"), account_code=code,
                                                                 tax_type="OUTPUT2")])


def drain(org):
    return exports.exports_drain(organisation_id=org.pk, max_seconds=5)


def test_items_for_one_tenant_go_in_batches_of_50_with_every_outcome_recorded(org, admin_user, connection, xero,
                                                                                django_capture_on_commit_callbacks):
    for i in range(120):
        make_invoice(org, f"INV-{i:04d}", code="999" if i == 7 else "200")
    with django_capture_on_commit_callbacks(execute=False):
        queued = exports.exports_enqueue(records=records(org), actor=admin_user)
    assert queued == 120

    result = drain(org)

    assert [c[3] for c in xero.calls] == [50, 50, 20]
    assert result.calls == 3
    assert records(org).filter(state=ExportState.EXPORTED).count() == 119
    failed = records(org).get(state=ExportState.FAILED)
    assert failed.document.number == "INV-0007"
    assert failed.last_error == "Account code '999' is not a valid code for this document."
    attempt = failed.attempts.get()
    assert attempt.outcome == ExportAttempt.Outcome.VALIDATION_FAILED
    assert attempt.messages == ["Account code '999' is not a valid code for this document."]
    ok = records(org).get(document__number="INV-0001")
    assert ok.xero_id and ok.tenant_id == connection.tenant_id and ok.connection == connection
    assert ok.exported_by == admin_user and ok.exported_at
    assert len(xero.created()) == 119


def test_the_idempotency_key_is_the_same_when_a_batch_is_retried_after_a_timeout(org, admin_user, connection, xero):
    for i in range(3):
        make_invoice(org, f"INV-{i}")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    import requests

    def commit_then_drop(request):
        # Xero commits the batch, the answer is lost on the way back.
        xero._write("Invoices")(request)
        raise requests.ConnectionError("connection reset by peer")

    xero.script.append(commit_then_drop)
    drain(org)
    assert records(org).filter(state=ExportState.QUEUED, in_doubt=True).count() == 3
    first_key = xero.calls[0][2]
    assert records(org).first().attempts.get().outcome == ExportAttempt.Outcome.UNAVAILABLE

    # Time passes (backoff); the next run looks the items up before sending anything again.
    records(org).update(next_attempt_at=timezone.now())
    drain(org)

    assert [c[0] for c in xero.calls] == ["PUT", "PUT", "GET"]  # 2 = the scripted drop recorded by _write
    assert len(xero.created()) == 3  # nothing duplicated
    assert records(org).filter(state=ExportState.EXPORTED, in_doubt=False).count() == 3
    assert {r.idempotency_key for r in records(org)} == {first_key}
    assert set(records(org).first().attempts.values_list("outcome", flat=True)) == {"unavailable", "recovered"}


def test_resending_after_a_5xx_reuses_the_key_and_creates_nothing_twice(org, admin_user, connection, xero):
    for i in range(2):
        make_invoice(org, f"INV-{i}")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    xero.script.append(lambda request: (503, {}, "The Xero API is currently offline for maintenance"))
    drain(org)
    assert records(org).filter(state=ExportState.QUEUED).count() == 2
    # A 503 is "not committed": no look-up needed, the same key is sent again.
    assert records(org).filter(in_doubt=True).count() == 0
    records(org).update(next_attempt_at=timezone.now())
    drain(org)
    puts = [c for c in xero.calls if c[0] == "PUT"]
    assert len(puts) == 2 and puts[0][2] == puts[1][2]
    assert len(xero.created()) == 2


def test_maybe_committed_leads_to_a_look_up_and_not_found_items_are_sent(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    import requests

    def drop_before_commit(request):
        raise requests.ConnectionError("connection reset")

    xero.script.append(drop_before_commit)
    drain(org)
    record = records(org).get()
    assert record.in_doubt and record.state == ExportState.QUEUED
    records(org).update(next_attempt_at=timezone.now())
    drain(org)
    assert [c[0] for c in xero.calls] == ["PUT", "GET", "PUT"]
    assert len(xero.created()) == 1
    record.refresh_from_db()
    assert record.state == ExportState.EXPORTED and not record.in_doubt


def test_a_429_reschedules_after_retry_after_and_never_fails_the_item(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    xero.script.append(lambda request: (429, {"Retry-After": "37", "X-Rate-Limit-Problem": "minute"}, ""))
    before = timezone.now()
    result = drain(org)
    record = records(org).get()
    assert record.state == ExportState.QUEUED
    assert record.attempts_count == 0
    assert before + timedelta(seconds=36) < record.next_attempt_at < before + timedelta(seconds=40)
    assert record.attempts.get().outcome == ExportAttempt.Outcome.RATE_LIMITED
    budget = RateBudget.objects.get(scope=f"tenant:{connection.tenant_id}")
    assert budget.blocked_until >= record.next_attempt_at - timedelta(seconds=1)
    # A run is scheduled for when Xero accepts calls again.
    from django_q.models import Schedule

    assert Schedule.objects.filter(name=f"exports.drain.{org.pk}").exists()
    assert result.next_run_at is not None


def test_repeated_5xx_end_in_failed_with_a_reason_that_retry_failed_can_resend(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    with override_settings(XERO_EXPORT_MAX_ATTEMPTS=2):
        for _ in range(2):
            xero.script.append(lambda request: (500, {}, "oops"))
            records(org).update(next_attempt_at=timezone.now())
            drain(org)
    record = records(org).get()
    assert record.state == ExportState.FAILED
    assert "Gave up after 2 attempts" in record.last_error and "Xero is not answering" in record.last_error
    job = exports.exports_retry_failed(organisation=org, actor=admin_user)
    assert job.total == 1
    drain(org)
    record.refresh_from_db()
    assert record.state == ExportState.EXPORTED
    assert len(xero.created()) == 1


def test_a_second_export_of_an_exported_item_sends_nothing(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)
    assert exports.exports_enqueue(records=records(org), actor=admin_user) == 0
    drain(org)
    assert len([c for c in xero.calls if c[0] != "GET"]) == 1


def test_re_export_updates_the_document_in_xero_by_its_id_and_skips_payments(org, admin_user, connection, xero):
    invoice = make_invoice(org, "INV-1")
    document_create(organisation=org, doc_type=DocumentType.PAYMENT, number="PAY-1", date=date.today(),
                    paid_document=invoice, payment_account_code="090", amount=Decimal("5"))
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)
    assert records(org).filter(state=ExportState.EXPORTED).count() == 2
    xero_id = records(org).get(document=invoice).xero_id
    invoice.lines.update(unit_amount=Decimal("11.00"))

    job = exports.exports_enqueue_selected(organisation=org, actor=admin_user,
                                           record_ids=list(records(org).values_list("pk", flat=True)),
                                           update_existing=True)
    drain(org)
    job.refresh_from_db()
    assert job.kind == BulkJob.Kind.REEXPORT and job.skipped == 1 and job.done == 1
    method, resource, _, n = xero.calls[-1]
    assert (method, resource, n) == ("POST", "Invoices", 1)
    assert len(xero.created()) == 1 and len(xero.created("Payments")) == 1
    assert xero.created()[0]["LineItems"][0]["UnitAmount"] == 11.0
    assert records(org).get(document=invoice).xero_id == xero_id


def test_a_payment_waits_for_its_invoice_and_uses_its_xero_id(org, admin_user, connection, xero):
    invoice = make_invoice(org, "INV-1")
    document_create(organisation=org, doc_type=DocumentType.PAYMENT, number="PAY-1", date=date.today(),
                    paid_document=invoice, payment_account_code="090", amount=Decimal("5"))
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)
    payment = xero.created("Payments")[0]
    assert payment["Invoice"]["InvoiceID"] == records(org).get(document=invoice).xero_id
    assert [c[1] for c in xero.calls] == ["Invoices", "Payments"]


def test_a_payment_whose_invoice_is_not_exported_fails_with_a_clear_reason_and_no_call(org, admin_user, connection,
                                                                                        xero):
    invoice = make_invoice(org, "INV-1")
    pay = document_create(organisation=org, doc_type=DocumentType.PAYMENT, number="PAY-1", date=date.today(),
                          paid_document=invoice, payment_account_code="090", amount=Decimal("5"))
    exports.exports_enqueue(records=[pay.export_record], actor=admin_user)
    drain(org)
    record = ExportRecord.objects.get(document=pay)
    assert record.state == ExportState.FAILED
    assert "INV-1" in record.last_error and "not in Xero yet" in record.last_error
    assert xero.calls == []


def test_unknown_account_code_fails_in_preflight_without_spending_a_call(org, admin_user, connection, xero):
    from xero_connect.models import Account, ListName, ListSyncState

    Account.objects.create(organisation=org, tenant_id=connection.tenant_id, xero_id="a1", code="200", name="Sales",
                           type="REVENUE")
    ListSyncState.objects.create(organisation=org, list_name=ListName.ACCOUNTS, last_refreshed_at=timezone.now(),
                                 tenant_id=connection.tenant_id)
    make_invoice(org, "INV-1", code="4711")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    drain(org)
    record = records(org).get()
    assert record.state == ExportState.FAILED and "4711" in record.last_error
    assert record.attempts.get().outcome == ExportAttempt.Outcome.PREFLIGHT_FAILED
    assert xero.calls == []


def test_not_connected_items_wait_and_go_out_by_themselves_after_reconnect(org, admin_user, xero,
                                                                           django_capture_on_commit_callbacks):
    make_invoice(org, "INV-1")
    make_invoice(org, "INV-2")
    with django_capture_on_commit_callbacks(execute=True):
        job = exports.exports_enqueue_range(organisation=org, actor=admin_user, date_from=None, date_to=None)
    assert records(org).filter(state=ExportState.WAITING_FOR_CONNECTION).count() == 2
    assert "Not connected to Xero" in records(org).first().last_error
    job.refresh_from_db()
    assert job.status == BulkJob.Status.DONE and job.waiting == 2 and "waiting" in job.summary
    assert xero.calls == []

    factories.make_connection(org, actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):  # the drain runs (django-q2 sync in tests)
        assert exports.exports_release_waiting(organisation=org, actor=admin_user) == 2
    assert records(org).filter(state=ExportState.EXPORTED).count() == 2
    assert len(xero.created()) == 2
    job.refresh_from_db()
    assert job.done == 2 and job.waiting == 0 and job.status == BulkJob.Status.DONE


def test_a_revoked_connection_moves_items_to_waiting_with_the_fix(org, admin_user, connection, xero):
    make_invoice(org, "INV-1")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    xero.script.append(lambda request: (403, {}, json.dumps({"Title": "Forbidden", "Status": 403,
                                                             "Detail": "AuthenticationUnsuccessful"})))
    xero.rsps.add("GET", settings.XERO_CONNECTIONS_URL, json=[])  # the tenant is gone from /connections
    drain(org)
    record = records(org).get()
    assert record.state == ExportState.WAITING_FOR_CONNECTION
    assert "Reconnect" in record.last_error
    assert record.attempts_count == 0
    connection.refresh_from_db()
    assert connection.status == "removed_in_xero"


def test_a_claim_left_by_a_dead_worker_is_recovered_without_a_duplicate(org, admin_user, connection, xero,
                                                                        monkeypatch):
    make_invoice(org, "INV-1")
    make_invoice(org, "INV-2")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    # A worker sent the batch, Xero created it, then the worker died before recording anything.
    from xero_connect.services.exports import claims, prepare
    from xero_connect.services.exports import drain as drain_module
    from xero_connect.services.xero_access import api_for

    claimed = claims._claim(organisation_id=org.pk, doc_types=["sales_invoice"], limit=50)
    result = claims.DrainResult()
    items = prepare._prepare(claimed, organisation_id=org.pk, tenant_id=connection.tenant_id, result=result)
    with monkeypatch.context() as patch:  # _send looks _record_elements up in the drain module
        patch.setattr(drain_module, "_record_elements",
                      lambda *a, **k: (_ for _ in ()).throw(SystemExit("worker killed")))
        with pytest.raises(SystemExit):
            drain_module._send(api_for(connection), "Invoices", items, connection, result)
    assert records(org).filter(state=ExportState.EXPORTING).count() == 2
    records(org).update(claimed_at=timezone.now() - timedelta(seconds=120))

    drain(org)

    assert len(xero.created()) == 2
    assert records(org).filter(state=ExportState.EXPORTED).count() == 2
    assert [c[0] for c in xero.calls] == ["PUT", "GET"]
    assert set(records(org).first().attempts.values_list("outcome", flat=True)) == {"error", "recovered"}


def test_idempotency_key_is_deterministic_and_changes_with_payload_or_a_new_request(org, admin_user, connection):
    from xero_connect.services import payloads
    from xero_connect.services.exports.claims import Item, idempotency_key

    doc = make_invoice(org, "INV-1")
    record = doc.export_record

    def key():
        el = payloads.build_element(doc)
        return idempotency_key(tenant_id="t", resource="Invoices", method="PUT",
                               items=[Item(record, el, payloads.payload_hash(el))])

    k1 = key()
    assert k1 == key() and len(k1) <= 128
    record.generation += 1
    assert key() != k1
    record.generation -= 1
    doc.contact_name = "Someone else"
    assert key() != k1


def test_claims_are_atomic_a_second_claimer_gets_nothing(org, admin_user, connection):
    from xero_connect.services.exports import claims

    for i in range(3):
        make_invoice(org, f"INV-{i}")
    exports.exports_enqueue(records=records(org), actor=admin_user)
    first = claims._claim(organisation_id=org.pk, doc_types=["sales_invoice"], limit=50)
    second = claims._claim(organisation_id=org.pk, doc_types=["sales_invoice"], limit=50)
    assert len(first) == 3 and second == []
    assert len({r.claimed_by for r in first}) == 1


def test_export_documents_command_sends_the_range_and_shows_progress(org, admin_user, connection, xero, capsys):
    from django.core.management import call_command

    for i in range(3):
        make_invoice(org, f"INV-{i}")
    make_invoice(org, "OLD-1", when=date.today() - timedelta(days=400))
    call_command("export_documents", org=org.slug, timeout=30)
    out = capsys.readouterr().out
    assert "3 item(s) queued" in out and "100%" in out and "3 exported." in out
    assert len(xero.created()) == 3
    assert records(org).get(document__number="OLD-1").state == ExportState.NOT_EXPORTED
    call_command("export_documents", org=org.slug, reexport=True, timeout=30)
    assert [c[0] for c in xero.calls] == ["PUT", "POST"]  # the re-export updated them, one call
    assert len(xero.created()) == 3


def test_a_drain_gives_its_worker_back_between_batches_when_another_task_waits(
        org, admin_user, connection, xero, async_queue, monkeypatch, django_capture_on_commit_callbacks):
    """A drain does not sleep on Xero's pacing (one call a second per organisation) while a task
    of another organisation waits for a worker: after its batch it ends, nothing claimed, and a
    continuation is queued behind that task; the continuation sends the rest, each document once."""
    from django_q.conf import Conf
    from django_q.models import OrmQ
    from django_q.tasks import async_task

    from xero_connect import task_queue

    for i in range(100):
        make_invoice(org, f"INV-{i:04d}")
    with django_capture_on_commit_callbacks(execute=False):
        exports.exports_enqueue(records=records(org), actor=admin_user)
    monkeypatch.setattr(Conf, "WORKERS", 1)
    async_task(task_queue.EXPORT_SWEEP)  # the running drain's own task: nobody waits yet
    with override_settings(XERO_LIMIT_MINUTE_SECONDS=600.0):  # calls 10.2 s apart
        async_task(task_queue.EXPORT_SWEEP)  # another organisation's work, waiting for a worker
        with django_capture_on_commit_callbacks(execute=True):
            first = drain(org)
    assert first.calls == 1 and first.exported == 50
    assert records(org).filter(state=ExportState.QUEUED).count() == 50  # left for the continuation
    assert not records(org).filter(state=ExportState.EXPORTING).exists()  # nothing kept claimed
    assert OrmQ.objects.count() == 3  # the continuation, behind the waiting task
    OrmQ.objects.all().delete()  # the waiting task has its worker …
    RateBudget.objects.update(next_call_at=None)  # … and the organisation's next slot has come
    second = drain(org)
    assert second.calls == 1 and second.exported == 50
    numbers = [el["InvoiceNumber"] for el in xero.created()]
    assert sorted(numbers) == [f"INV-{i:04d}" for i in range(100)]  # each exactly once
    assert ratelimits.budget_snapshot(tenant_id=connection.tenant_id)["in_flight"] == 0  # slots given back
