"""The drain: the export queue's worker side. Claim a batch (claims), pre-flight it and build
its payloads (prepare), look up the in-doubt ones (lookups), send it once, record each
element's outcome (outcomes).

Exactly once into Xero rests on four rules:
1. Claims are atomic across processes: `UPDATE … SET state=exporting WHERE id IN (…)` of
   candidates picked `state=queued` (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL; the state
   checked again in the UPDATE on SQLite); a worker only works on the rows its own claim token
   took, and sends a batch only if its send start still finds every record under that token
   (a claim that outlived its lease and was put back sends nothing).
2. Every write carries an Idempotency-Key derived from the tenant, the resource, and each
   record's id, generation and payload hash. Rebuilding the same batch gives the same key, so a
   resend after a timeout is answered by Xero with the first result instead of a second copy.
   A person asking again (Export/Retry/Re-export) bumps the generation: a new request.
3. When a write may have reached Xero without an answer (timeout, dropped connection, a 5xx
   on a write, or a worker that died mid-call — found as a claim older than the lease), the
   records are marked `in_doubt`. Before an in-doubt record is sent again it is looked up in
   Xero by Xero's documented parameters (InvoiceNumbers= for invoices and bills), else by a
   `where` that holds no string containing a double quote (Xero answers 400 to those): credit
   notes by number, payments by the invoice they pay, journals by narration — or by date when
   the text has a quote. Found → recorded as exported with its Xero id (adopted); not found →
   sent again in its ORIGINAL batch, so the deterministic key is the original key and Xero
   answers with the first result if the first request did arrive after all (a worker whose
   call outlived XERO_EXPORT_CLAIM_LEASE). Its in-doubt batch mates are claimed with it.
   Look-ups are bounded: XERO_EXPORT_MAX_ATTEMPTS failures that are not an outage end the
   item with a clear reason.
5. Outages are waited out: 502/503/504, timeouts and broken connections leave items queued,
   shown as "Waiting for Xero" since when (`xero_unavailable_since`), re-tried with backoff
   capped at XERO_EXPORT_BACKOFF_MAX (5 minutes) for as long as it takes. Failed means Xero
   refused the document (or answered 500 to it XERO_EXPORT_MAX_ATTEMPTS times in a row).
4. A document already in Xero (it has a xero_id) is never sent as new: a re-export updates it
   by its id, or is skipped for types Xero does not let us update.
"""
import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from ... import messages as user_messages
from ... import money, task_queue
from ...config import xero_config
from ...models import ExportAttempt, ExportRecord, ExportState, Organisation, XeroConnection
from ...selectors.connections import current_connection, presentation
from ...xero import errors
from .. import payloads, webhooks_out
from ..xero_access import NoCallSlot, api_for, connection_usable, record_xero_failure
from .claims import (DrainResult, Item, _claim, _next_resource, _original_batches, exports_recover_stale,
                     idempotency_key)
from .enqueue import due_filter, kick_drains
from .jobs import jobs_finish_if_done, jobs_refresh
from .lookups import _lookup, _lookup_failed
from .outcomes import (_fail, _finish_open_attempts, _outage_wait, _record_elements, _requeue, _save, _send_starts,
                       _unavailable, _whole_batch_refused, park_waiting)
from .prepare import _prepare

log = logging.getLogger("xero.exports")
Outcome = ExportAttempt.Outcome
CONNECTION_ERRORS = (errors.ReauthorisationRequired, errors.ConnectionRevoked, errors.AccessDenied,
                     errors.TokenExpired)
# The shortest pause of the drain's wait for the next due item (an item due now or just past is
# waited for this long rather than not at all, so the loop never spins).
MIN_INLINE_SLEEP = 0.01  # seconds
# A drain whose next call slot is further away than this gives its worker back when another
# task waits for one (task_queue.workers_wanted), instead of sleeping on Xero's pacing (one
# call per tenant every ~1 s): a continuation run goes to the back of the queue. Shorter waits
# are slept: giving the worker back costs a task's start, more than this wait.
YIELD_WAIT_SECONDS = 0.25
# How often a drain asks the broker whether a task waits for a worker (one query).
YIELD_CHECK_SECONDS = 1.0
# A drain counts its jobs' records (for their stored counts) every XERO_EXPORT_PERIODIC_SECONDS,
# or less often for a big job: at most this many records per second on average (a 3,000-record
# job every 3 s, a 100,000-record job every 100 s). So counting costs a bounded amount per batch
# whatever the job's size (issue #18), where a fixed period cost a job the square of its size.
# The progress bar counts live (selectors.exports.job_progress); a job is finished and counted
# as soon as nothing of it is left to send (jobs.jobs_finish_if_done).
JOB_COUNT_RECORDS_PER_SECOND = 1000


def schedule_drain(*, organisation_id: int, at) -> None:
    """A run of the drain at `at` (django-q2 one-off schedule; at most one per organisation)."""
    from django_q.models import Schedule

    name = f"exports.drain.{organisation_id}"
    existing = Schedule.objects.filter(name=name).first()
    if existing and existing.next_run and existing.next_run <= at:
        return
    Schedule.objects.update_or_create(name=name, defaults={
        "func": task_queue.EXPORT_DRAIN, "args": repr((organisation_id,)),
        "schedule_type": Schedule.ONCE, "next_run": at, "repeats": -1})


def exports_drain(*, organisation_id: int, max_seconds: float | None = None) -> DrainResult:
    """Send the organisation's due queued items, batch after batch, within the shared budget.

    Waits up to XERO_EXPORT_MAX_INLINE_WAIT happen here; longer ones (a 429's Retry-After, a
    backoff) become a scheduled run. The periodic sweeper catches anything else. When the next
    call slot is more than YIELD_WAIT_SECONDS away and another task waits for a worker, the run
    ends between batches (nothing claimed) and a continuation is queued behind that task.

    One budgeted client serves the whole run: each call's slot in the shared rate budget is
    given back by the next call's reservation (one SQL statement a call), and by `close()` at
    the end of the run or before an inline sleep.

    Read once per drain, not per batch: the lists the pre-flight compares with (prepare._preflight)
    and whether any webhook endpoint listens (webhooks_out.listeners_read_once); a change to
    either while the drain runs is seen by the next drain at the latest.
    """
    with webhooks_out.listeners_read_once():
        return _drain(organisation_id=organisation_id, max_seconds=max_seconds)


def _drain(*, organisation_id: int, max_seconds: float | None) -> DrainResult:
    result = DrainResult()
    organisation = Organisation.objects.get(pk=organisation_id)
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else xero_config().export_drain_seconds)
    batch_size = xero_config().export_batch_size
    max_inline = xero_config().export_max_inline_wait
    # Per batch, only what the batch needs: recovering dead workers' claims and refreshing the
    # jobs' counts (each reads the whole job or the organisation's claims) happen every
    # XERO_EXPORT_PERIODIC_SECONDS (the counts less often for a big job, see
    # JOB_COUNT_RECORDS_PER_SECOND, and once more when a job is finished), and the resource goes
    # on being drained while it fills whole batches.
    periodic = xero_config().export_periodic_seconds
    next_recovery = next_connection_check = 0.0
    next_job_refresh = time.monotonic() + periodic
    connection = None
    api = None  # the run's budgeted client, for `connection`
    yielded = False
    next_yield_check = 0.0
    current = None  # (resource, doc types) of the last full batch
    try:
        while time.monotonic() < deadline:
            if time.monotonic() >= next_recovery:
                result.recovered += exports_recover_stale(organisation_id=organisation_id)
                next_recovery = time.monotonic() + periodic
            if time.monotonic() >= next_connection_check:
                # Every call checks the connection again when it takes its token (a connection
                # gone since is a connection error there): re-read here only periodically.
                connection = current_connection(organisation=organisation)
                next_connection_check = time.monotonic() + periodic
            if not connection_usable(connection):
                result.waiting += park_waiting(organisation_id=organisation_id,
                                               reason=_connection_reason(connection))
                break
            if api is None or (api.connection_id, api.tenant_id) != (connection.pk, connection.tenant_id):
                if api is not None:
                    api.close()
                api = api_for(connection, max_wait=xero_config().export_max_inline_wait, deadline=deadline,
                              release_with_next_call=True)
            nxt = current or _next_resource(organisation_id=organisation_id)
            if nxt is None:
                next_due = ExportRecord.objects.filter(organisation_id=organisation_id,
                                                       state=ExportState.QUEUED).aggregate(m=Min("next_attempt_at"))["m"]
                if next_due is None:
                    break
                wait = (next_due - timezone.now()).total_seconds()
                if wait <= max_inline and time.monotonic() + wait < deadline:
                    api.close()  # no call slot is held while sleeping
                    time.sleep(max(wait, MIN_INLINE_SLEEP))
                    continue
                result.next_run_at = next_due
                schedule_drain(organisation_id=organisation_id, at=next_due)
                break
            resource, doc_types = nxt
            if (api.next_slot_at is not None and time.monotonic() >= next_yield_check
                    and (api.next_slot_at - timezone.now()).total_seconds() > YIELD_WAIT_SECONDS):
                next_yield_check = time.monotonic() + YIELD_CHECK_SECONDS
                if task_queue.workers_wanted():  # more to send, but not before the slot: give the worker back
                    yielded = True
                    break
            records = _claim(organisation_id=organisation_id, doc_types=doc_types, limit=batch_size)
            current = nxt if len(records) >= batch_size else None
            if not records:
                continue  # another worker took them
            result.jobs.update(r.job_id for r in records if r.job_id)
            if not _process_batch(records, resource, connection, organisation_id, result, api):
                break
            if time.monotonic() >= next_job_refresh:
                counted = jobs_refresh(job_ids=result.jobs)
                next_job_refresh = time.monotonic() + max(periodic, counted / JOB_COUNT_RECORDS_PER_SECOND)
    finally:
        if api is not None:
            api.close()
        # A job with nothing left to send is counted and finished now; one still under way is
        # left to the periodic count (a run that gave its worker back after one batch would
        # otherwise count the whole job per batch).
        if result.jobs:
            jobs_finish_if_done(job_ids=result.jobs)
    # A run that gave its worker back, or ran out of time with items due, queues its continuation.
    if yielded or (time.monotonic() >= deadline and ExportRecord.objects.filter(
            organisation_id=organisation_id, state=ExportState.QUEUED).filter(due_filter(timezone.now())).exists()):
        with transaction.atomic():
            kick_drains(organisation_id=organisation_id, queued=1)
    log.info("xero.exports.drain organisation=%s calls=%s exported=%s failed=%s rescheduled=%s waiting=%s",
             organisation_id, result.calls, result.exported, result.failed, result.rescheduled, result.waiting)
    return result


def _process_batch(records, resource, connection, organisation_id, result, api) -> bool:
    """One claimed batch: pre-flight, look up the in-doubt ones, send the rest, through the
    run's budgeted client `api`. False when the drain should stop (no call slot soon: a run is
    scheduled)."""
    # Every call waits up to XERO_EXPORT_MAX_INLINE_WAIT for its slot in the shared budget;
    # beyond that NoCallSlot says when to come back (the items are put back, a run is scheduled).
    items = []
    try:
        items = _prepare(records, organisation_id=organisation_id, tenant_id=connection.tenant_id, result=result)
        if not items:
            return True
        doubtful = [it for it in items if it.record.in_doubt]
        was_in_doubt = {it.record.pk: it.record.idempotency_key for it in doubtful}
        if doubtful:
            try:
                _lookup(api, resource, doubtful, connection, result, api.deadline)
            except errors.XeroError as exc:
                if isinstance(exc, CONNECTION_ERRORS + (errors.RateLimited,)):
                    raise
                _lookup_failed(items, doubtful, exc, result)
                return True
            items = [it for it in items if it.record.state == ExportState.EXPORTING]
            if not items:
                return True
        for batch in _original_batches(items, was_in_doubt):
            with api.call_slot():
                _send(api, resource, batch, connection, result)
        return True
    except NoCallSlot as slot:
        left = [it for it in (items or [Item(r) for r in records]) if it.record.state == ExportState.EXPORTING]
        _requeue(left, at=slot.retry_at)
        result.rescheduled += len(left)
        result.next_run_at = slot.retry_at
        schedule_drain(organisation_id=organisation_id, at=slot.retry_at)
        return False
    except CONNECTION_ERRORS as exc:  # the token refresh or the lookup said the connection is gone
        record_xero_failure(connection=connection, error=exc)
        left = [r for r in records if r.state == ExportState.EXPORTING]
        result.waiting += park_waiting(organisation_id=organisation_id, reason=str(user_messages.message_for(exc)),
                                       records=left)
        return False
    except errors.RateLimited as exc:  # on a lookup (booked in the shared budget by the client)
        until = api.retry_at(exc)
        left = [it for it in (items or [Item(r) for r in records]) if it.record.state == ExportState.EXPORTING]
        _requeue(left, at=until)
        result.rescheduled += len(left)
        return True
    except errors.XeroError as exc:  # e.g. the token refresh did not answer: wait, as long as it has waited
        left = [it for it in (items or [Item(r) for r in records]) if it.record.state == ExportState.EXPORTING]
        now = timezone.now()
        since, delay = _outage_wait(left, now)
        for it in left:
            it.record.xero_unavailable_since = since
        _requeue(left, at=now + timedelta(seconds=delay), fields_extra=("xero_unavailable_since",))
        result.rescheduled += len(left)
        log.warning("xero.exports.xero_unavailable error=%s delay=%.0f", exc.__class__.__name__, delay)
        return True


def _send(api, resource: str, items: list[Item], connection: XeroConnection, result: DrainResult) -> None:
    method = "POST" if any(it.element.get(payloads.kind_of(it.record.doc_type).id_field) for it in items) else "PUT"
    key = idempotency_key(tenant_id=connection.tenant_id, resource=resource, method=method, items=items)
    now = timezone.now()
    with transaction.atomic():
        started = _send_starts([it.record.pk for it in items], key=key, tenant_id=connection.tenant_id, now=now,
                               claimed_by=items[0].record.claimed_by)
        if started != len(items):  # nothing is written and nothing is sent (rule 1: one sender at a time)
            transaction.set_rollback(True)
    if started != len(items):
        log.warning("xero.exports.claim_lost organisation=%s records=%s still_held=%s: the claim outlived its "
                    "lease and was put back; whoever holds the records now sends them",
                    connection.organisation_id, len(items), started)
        return
    for it in items:
        r = it.record
        r.idempotency_key = key
        r.tenant_id = connection.tenant_id  # where a write in doubt may have landed
        r.claimed_at = now
        r.attempts_count += 1
    records = [it.record for it in items]
    result.calls += 1
    try:
        unitdp = {"unitdp": money.UNIT_PLACES} if resource in payloads.UNITDP_RESOURCES else None
        elements = api.save_batch(resource, [it.element for it in items], idempotency_key=key, method=method,
                                  params=unitdp)
    except NoCallSlot as slot:  # the retry after a 401 found no slot: nothing reached Xero
        with transaction.atomic():
            ExportAttempt.objects.filter(record__in=records, outcome="").delete()
            for r in records:
                r.attempts_count -= 1
            _requeue(items, at=slot.retry_at, fields_extra=("attempts_count",))
        result.rescheduled += len(items)
        return
    except errors.RateLimited as exc:  # booked in the shared budget by the client
        until = api.retry_at(exc)
        msg = str(user_messages.message_for(exc, retry_at=until))
        with transaction.atomic():
            _finish_open_attempts(records, Outcome.RATE_LIMITED, messages=[msg], status=429)
            for r in records:
                r.attempts_count -= 1  # a 429 is not a failed attempt: the item is never failed for it
            _requeue(items, at=until, fields_extra=("attempts_count",))
        result.rescheduled += len(items)
        log.info("xero.exports.rate_limited tenant=%s retry_after=%s problem=%s", connection.tenant_id,
                 exc.retry_after, exc.problem)
        return
    except errors.ValidationFailed as exc:
        _whole_batch_refused(items, exc, key, result, started=now)
        return
    except errors.XeroUnavailable as exc:
        _unavailable(items, exc, key, result)
        return
    except CONNECTION_ERRORS as exc:
        record_xero_failure(connection=connection, error=exc)
        reason = str(user_messages.message_for(exc))
        for r in records:
            r.attempts_count -= 1
        _save(records, ["attempts_count"])
        result.waiting += park_waiting(organisation_id=connection.organisation_id, reason=reason, records=records)
        return
    except errors.XeroError as exc:  # NotFound, OAuthError: Xero said no to this request
        said, status = str(exc), exc.status
        _fail(items, lambda it: [said], outcome=Outcome.ERROR, status=status, key=key, record_attempt=False)
        _finish_open_attempts(records, Outcome.ERROR, messages=[said], status=status)
        result.failed += len(items)
        return
    _record_elements(items, elements, connection, key, result, started=now)


def _connection_reason(connection) -> str:
    pres = presentation(connection)
    if connection is None or not connection.is_current:
        return f"{pres.words}. An Admin should connect Xero; waiting exports then go out by themselves."
    if pres.code == "needs_reconnect":
        return str(user_messages.message_for(errors.ReauthorisationRequired()))
    if pres.code == "removed_in_xero":
        return str(user_messages.message_for(errors.ConnectionRevoked()))
    return f"{pres.words}. {pres.summary}"
