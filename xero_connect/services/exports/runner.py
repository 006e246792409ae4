"""The export queue's worker side: claim a batch, pre-flight it, send it once, record each
element's outcome.

Exactly once into Xero rests on four rules:
1. Claims are atomic across processes: `UPDATE … SET state=exporting WHERE id IN (…) AND
   state=queued` (on PostgreSQL the candidates are picked with SELECT … FOR UPDATE SKIP
   LOCKED first); a worker only works on the rows its own claim token took.
2. Every write carries an Idempotency-Key derived from the tenant, the resource, and each
   record's id, generation and payload hash. Rebuilding the same batch gives the same key, so a
   resend after a timeout is answered by Xero with the first result instead of a second copy.
   A person asking again (Export/Retry/Re-export) bumps the generation: a new request.
3. When a write may have reached Xero without an answer (timeout, dropped connection, a 5xx
   on a write, or a worker that died mid-call — found as a claim older than the lease), the
   records are marked `in_doubt`. Before an in-doubt record is sent again it is looked up in
   Xero (by number and type for invoices and credit notes, by reference and invoice for
   payments, by the narration — which carries our number — for journals). Found → recorded as
   exported with its Xero id; not found → sent, again with the deterministic key.
4. A document already in Xero (it has a xero_id) is never sent as new: a re-export updates it
   by its id, or is skipped for types Xero does not let us update.
"""
import hashlib
import logging
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Min, Prefetch
from django.utils import timezone

from ... import messages as user_messages
from ...models import (
    Contact,
    DocumentLine,
    DocumentType,
    ExportAttempt,
    ExportRecord,
    ExportState,
    Organisation,
    XeroConnection,
)
from ...selectors.connections import current_connection, presentation
from ...xero import errors
from .. import payloads, ratelimits, webhooks_out
from ...models import WebhookEvent
from ..xero_access import api_for, connection_usable, record_xero_failure
from .enqueue import due_filter
from .jobs import jobs_refresh

log = logging.getLogger("xero.exports")
Outcome = ExportAttempt.Outcome
CONNECTION_ERRORS = (errors.ReauthorisationRequired, errors.ConnectionRevoked, errors.AccessDenied,
                     errors.TokenExpired)
WORKER_ID = f"{socket.gethostname()}:{uuid.uuid4().hex[:6]}"


@dataclass
class DrainResult:
    calls: int = 0
    exported: int = 0
    failed: int = 0
    rescheduled: int = 0
    waiting: int = 0
    recovered: int = 0
    next_run_at: object = None
    jobs: set = field(default_factory=set)


@dataclass
class Item:
    record: ExportRecord
    element: dict | None = None
    payload_hash: str = ""


# --- keys --------------------------------------------------------------------------------

def idempotency_key(*, tenant_id: str, resource: str, method: str, items: list[Item]) -> str:
    """Deterministic: the same records, generations and payloads always give the same key."""
    parts = [tenant_id, resource, method] + [
        f"{it.record.pk}.{it.record.generation}.{it.payload_hash}" for it in sorted(items, key=lambda i: i.record.pk)]
    return "xc1-" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def backoff_seconds(attempt: int) -> float:
    base = settings.XERO_EXPORT_BACKOFF_BASE
    delay = min(settings.XERO_EXPORT_BACKOFF_MAX, base * (2 ** max(attempt - 1, 0)))
    return delay * (1 + random.random() * 0.2)


# --- recovery of claims whose worker died ------------------------------------------------------

def exports_recover_stale(*, organisation_id: int | None = None) -> int:
    """Records found "exporting" with a claim older than the lease: their worker died. Those
    with a call in flight are in doubt (looked up in Xero before sending again); the others
    simply go back in the queue. Returns how many were recovered."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.XERO_EXPORT_CLAIM_LEASE)
    stale = ExportRecord.objects.filter(state=ExportState.EXPORTING, claimed_at__lt=cutoff)
    if organisation_id:
        stale = stale.filter(organisation_id=organisation_id)
    ids = list(stale.values_list("pk", flat=True)[:5000])
    if not ids:
        return 0
    with transaction.atomic():
        in_flight = set(ExportAttempt.objects.filter(record_id__in=ids, outcome="").values_list("record_id", flat=True))
        base = ExportRecord.objects.filter(pk__in=ids, state=ExportState.EXPORTING, claimed_at__lt=cutoff)
        base.filter(pk__in=in_flight).update(state=ExportState.QUEUED, in_doubt=True, next_attempt_at=now,
                                             claimed_by="")
        base.exclude(pk__in=in_flight).update(state=ExportState.QUEUED, next_attempt_at=now, claimed_by="")
        ExportAttempt.objects.filter(record_id__in=in_flight, outcome="").update(
            outcome=Outcome.ERROR, finished_at=now,
            messages=["The worker stopped while this was being sent. Xero is checked for it before it is sent again."])
    log.warning("xero.exports.recovered_stale records=%s in_doubt=%s", len(ids), len(in_flight))
    return len(ids)


# --- claiming ------------------------------------------------------------------------------------

def _claim(*, organisation_id: int, doc_types: list[str], limit: int) -> list[ExportRecord]:
    now = timezone.now()
    token = f"{WORKER_ID}:{uuid.uuid4().hex[:10]}"
    candidates = ExportRecord.objects.filter(
        organisation_id=organisation_id, state=ExportState.QUEUED, doc_type__in=doc_types).filter(
        due_filter(now)).order_by("next_attempt_at", "pk")
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            ids = list(candidates.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        else:
            ids = list(candidates.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        ExportRecord.objects.filter(pk__in=ids, state=ExportState.QUEUED).update(
            state=ExportState.EXPORTING, claimed_at=now, claimed_by=token)
    lines = Prefetch("document__lines", queryset=DocumentLine.objects.order_by("position", "id"))
    return list(ExportRecord.objects.filter(claimed_by=token, state=ExportState.EXPORTING)
                .select_related("document", "document__paid_document__export_record")
                .prefetch_related(lines).order_by("pk"))


def _next_resource(*, organisation_id: int) -> tuple[str, list[str]] | None:
    """The resource with due work, invoices first (payments need their invoice's Xero id)."""
    now = timezone.now()
    due_types = set(ExportRecord.objects.filter(organisation_id=organisation_id, state=ExportState.QUEUED)
                    .filter(due_filter(now)).values_list("doc_type", flat=True).distinct())
    for resource in payloads.RESOURCE_ORDER:
        types = [t for t in payloads.DOC_TYPES_BY_RESOURCE[resource] if t in due_types]
        if types:
            return resource, types
    return None


# --- writing outcomes ---------------------------------------------------------------------------

def _attempt(record, outcome, *, messages=(), status=None, key="", now=None, started=None):
    now = now or timezone.now()
    return ExportAttempt(record=record, started_at=started or now, finished_at=now,
                         outcome=outcome, messages=list(messages), http_status=status, idempotency_key=key,
                         actor=record.queued_by)


def _finish_open_attempts(records, outcome, *, messages=(), status=None):
    now = timezone.now()
    ExportAttempt.objects.filter(record__in=records, outcome="").update(
        outcome=outcome, finished_at=now, messages=list(messages), http_status=status)


def _save(records, fields):
    ExportRecord.objects.bulk_update(records, fields + ["updated_at"], batch_size=200)


def _requeue(items, *, at, fields_extra=()):
    now = timezone.now()
    for it in items:
        r = it.record
        r.state = ExportState.QUEUED
        r.next_attempt_at = at
        r.claimed_by = ""
        r.updated_at = now
    _save([it.record for it in items], ["state", "next_attempt_at", "claimed_by", *fields_extra])


def _fail(items, reason_for, *, outcome, status=None, key="", record_attempt=True, started=None):
    """Mark failed; `reason_for(item)` → list of messages (Xero's words verbatim)."""
    now = timezone.now()
    attempts = []
    for it in items:
        r = it.record
        msgs = reason_for(it)
        r.state = ExportState.FAILED
        r.last_error = "; ".join(msgs)
        r.claimed_by = ""
        r.updated_at = now
        if record_attempt:
            attempts.append(_attempt(r, outcome, messages=msgs, status=status, key=key, now=now, started=started))
    _save([it.record for it in items], ["state", "last_error", "claimed_by"])
    ExportAttempt.objects.bulk_create(attempts)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[it.record.pk for it in items])


def _mark_exported(items_and_ids, *, connection: XeroConnection, outcome=Outcome.EXPORTED, status=200, key="",
                   messages_for=None, started=None):
    now = timezone.now()
    records, attempts = [], []
    for it, xero_id in items_and_ids:
        r = it.record
        r.state = ExportState.EXPORTED
        r.xero_id = xero_id
        r.tenant_id = connection.tenant_id
        r.connection = connection
        r.exported_at = now
        r.exported_by = r.queued_by
        r.in_doubt = False
        r.update_existing = False
        r.last_error = ""
        r.claimed_by = ""
        r.updated_at = now
        records.append(r)
        msgs = messages_for(it) if messages_for else []
        attempts.append(_attempt(r, outcome, messages=msgs, status=status, key=key, now=now, started=started))
    _save(records, ["state", "xero_id", "tenant_id", "connection", "exported_at", "exported_by", "in_doubt",
                    "update_existing", "last_error", "claimed_by"])
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_EXPORTED, record_ids=[r.pk for r in records])
    return attempts


def park_waiting(*, organisation_id: int, reason: str, records=None) -> int:
    """Connection not usable: queued (and just-claimed) items wait for it, with the fix in
    words. They go out by themselves after a reconnect (exports_release_waiting)."""
    now = timezone.now()
    qs = ExportRecord.objects.filter(organisation_id=organisation_id)
    if records is not None:
        qs = qs.filter(pk__in=[r.pk for r in records])
    else:
        qs = qs.filter(state=ExportState.QUEUED)
    rows = list(qs.values_list("pk", "job_id"))
    if not rows:
        return 0
    ids = [pk for pk, _ in rows]
    with transaction.atomic():
        ExportAttempt.objects.filter(record_id__in=ids, outcome="").update(
            outcome=Outcome.CONNECTION_PROBLEM, finished_at=now, messages=[reason])
        n = ExportRecord.objects.filter(pk__in=ids).update(
            state=ExportState.WAITING_FOR_CONNECTION, last_error=reason, claimed_by="")
        jobs_refresh(job_ids={job_id for _, job_id in rows if job_id})
        webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_WAITING, record_ids=ids)
    log.info("xero.exports.waiting organisation=%s records=%s", organisation_id, n)
    return n


def _connection_reason(connection) -> str:
    pres = presentation(connection)
    if connection is None or not connection.is_current:
        return f"{pres.words}. An Admin should connect Xero; waiting exports then go out by themselves."
    if pres.code == "needs_reconnect":
        return str(user_messages.message_for(errors.ReauthorisationRequired()))
    if pres.code == "removed_in_xero":
        return str(user_messages.message_for(errors.ConnectionRevoked()))
    return f"{pres.words}. {pres.summary}"


# --- pre-flight ------------------------------------------------------------------------------------

def _preflight(documents) -> dict[int, list[str]]:
    try:
        from ...selectors import preflight
    except ImportError:  # the lists area has not landed: Xero still validates
        return {}
    if hasattr(preflight, "documents_preflight"):
        result = preflight.documents_preflight(documents=documents)
        if isinstance(result, dict):
            return {getattr(k, "pk", k): v for k, v in result.items()}
        return {d.pk: v for d, v in zip(documents, result)}
    if hasattr(preflight, "document_preflight"):
        return {d.pk: preflight.document_preflight(document=d) for d in documents}
    return {}


def _prepare(records: list[ExportRecord], *, organisation_id: int, result: DrainResult) -> list[Item]:
    """Pre-flight and payloads. Items that cannot go now are failed (with the reason, no call
    spent) or put back (a payment whose invoice is still on its way)."""
    docs = [r.document for r in records]
    problems = _preflight(docs)
    failed, deferred, ready = [], [], []
    names = {d.contact_name for d in docs if d.contact_name}
    contact_ids = {}
    if names:
        contact_ids = dict(Contact.objects.filter(organisation_id=organisation_id, name__in=names, is_active=True)
                           .values_list("name", "xero_id"))
    for r in records:
        doc = r.document
        if problems.get(doc.pk):
            failed.append((Item(r), problems[doc.pk]))
            continue
        paid_xero_id = ""
        if doc.doc_type == DocumentType.PAYMENT:
            paid = doc.paid_document
            paid_record = getattr(paid, "export_record", None) if paid else None
            if paid is None:
                failed.append((Item(r), ["This payment does not say which invoice or bill it pays."]))
                continue
            if paid_record and paid_record.state == ExportState.EXPORTED and paid_record.xero_id:
                paid_xero_id = paid_record.xero_id
            elif paid_record and paid_record.state in (ExportState.QUEUED, ExportState.EXPORTING,
                                                       ExportState.WAITING_FOR_CONNECTION):
                deferred.append(Item(r))
                continue
            else:
                state = paid_record.get_state_display().lower() if paid_record else "not exported"
                failed.append((Item(r), [
                    f"{paid} that this payment pays is not in Xero yet ({state}). Export it first, then press "
                    f"Retry on this payment."]))
                continue
        xero_id = r.xero_id if (r.xero_id and r.update_existing) else ""
        if r.xero_id and not r.update_existing:
            # Already in Xero and nobody asked for an update: never send it as new.
            ready.append(Item(r, element=None))
            continue
        element = payloads.build_element(doc, xero_id=xero_id, paid_xero_id=paid_xero_id, contact_ids=contact_ids)
        ready.append(Item(r, element=element, payload_hash=payloads.payload_hash(element)))
    if failed:
        problem_of = {id(it): msgs for it, msgs in failed}
        _fail([it for it, _ in failed], lambda it: problem_of[id(it)], outcome=Outcome.PREFLIGHT_FAILED)
        result.failed += len(failed)
    if deferred:
        _requeue(deferred, at=timezone.now() + timedelta(seconds=settings.XERO_EXPORT_PAYMENT_DEFER))
        result.rescheduled += len(deferred)
    already = [it for it in ready if it.element is None]
    if already:
        for it in already:
            it.record.state = ExportState.EXPORTED
            it.record.claimed_by = ""
        _save([it.record for it in already], ["state", "claimed_by"])
        webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_EXPORTED,
                                     record_ids=[it.record.pk for it in already])
    return [it for it in ready if it.element is not None]


# --- calls -----------------------------------------------------------------------------------------

class NoSlot(Exception):
    def __init__(self, retry_at):
        super().__init__(f"no call slot before {retry_at}")
        self.retry_at = retry_at


def _acquire(tenant_id: str, deadline: float) -> ratelimits.Reservation:
    """A call slot, waiting inside the worker up to XERO_EXPORT_MAX_INLINE_WAIT; beyond that
    NoSlot says when to come back (the items are put back, a run is scheduled)."""
    max_wait = settings.XERO_EXPORT_MAX_INLINE_WAIT
    while True:
        reservation = ratelimits.reserve_call(tenant_id=tenant_id, max_wait=max_wait)
        wait = reservation.wait_seconds()
        if reservation.ok:
            if wait:
                time.sleep(wait)
            return reservation
        if wait > max_wait or time.monotonic() + wait > deadline:
            raise NoSlot(reservation.retry_at)
        time.sleep(max(wait, 0.01))


def _lookup_where(resource: str, items: list[Item]) -> str:
    def q(text):
        return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'

    if resource == "Invoices":
        return " OR ".join(f"InvoiceNumber=={q(it.record.document.number)}" for it in items)
    if resource == "CreditNotes":
        return " OR ".join(f"CreditNoteNumber=={q(it.record.document.number)}" for it in items)
    if resource == "Payments":
        return " OR ".join(f"Reference=={q(it.record.document.number)}" for it in items)
    return " OR ".join(f"Narration=={q(payloads.journal_narration(it.record.document))}" for it in items)


def _match(resource: str, it: Item, found: list[dict]) -> str:
    """The Xero id of the element that is this item, or ""."""
    doc = it.record.document
    kind = payloads.kind_of(doc.doc_type)
    for el in found:
        if str(el.get("Status") or "").upper() in {"DELETED", "VOIDED"}:
            continue
        when = payloads_date(el)
        if when and when != doc.date.isoformat():
            continue
        if resource in ("Invoices", "CreditNotes"):
            if el.get(kind.number_field) != doc.number or el.get("Type") != kind.xero_type:
                continue
            name = ((el.get("Contact") or {}).get("Name") or "").strip().lower()
            if doc.contact_name and name and name != doc.contact_name.strip().lower():
                continue
        elif resource == "Payments":
            if el.get("Reference") != doc.number:
                continue
            paid = (it.element or {}).get("Invoice", {}).get("InvoiceID")
            if paid and (el.get("Invoice") or {}).get("InvoiceID") not in (None, paid):
                continue
        else:
            if el.get("Narration") != payloads.journal_narration(doc):
                continue
        return str(el.get(kind.id_field) or "")
    return ""


def payloads_date(el: dict) -> str:
    from ...xero.accounting import parse_xero_date

    value = el.get("Date")
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-":
        return value[:10]
    parsed = parse_xero_date(value)
    return parsed.date().isoformat() if parsed else ""


def _lookup(api, resource: str, items: list[Item], connection, result: DrainResult) -> list[Item]:
    """Look in-doubt items up in Xero. Those found are recorded as exported (recovered); the
    rest come back to be sent."""
    found = api.find(resource, where=_lookup_where(resource, items))
    result.calls += 1
    recovered, remaining = [], []
    for it in items:
        xero_id = _match(resource, it, found)
        if xero_id and not it.record.update_existing:
            recovered.append((it, xero_id))
        else:
            remaining.append(it)
    if recovered:
        with transaction.atomic():
            attempts = _mark_exported(
                recovered, connection=connection, outcome=Outcome.RECOVERED, status=200,
                messages_for=lambda it: ["Found in Xero after an interrupted send; not sent again."])
            ExportAttempt.objects.bulk_create(attempts)
        result.recovered += len(recovered)
        result.exported += len(recovered)
    for it in remaining:
        it.record.in_doubt = False
    if remaining:
        _save([it.record for it in remaining], ["in_doubt"])
    log.info("xero.exports.lookup resource=%s looked_up=%s recovered=%s", resource, len(items), len(recovered))
    return remaining


def _send(api, resource: str, items: list[Item], connection: XeroConnection, result: DrainResult) -> None:
    method = "POST" if any(it.element.get(payloads.kind_of(it.record.doc_type).id_field) for it in items) else "PUT"
    key = idempotency_key(tenant_id=connection.tenant_id, resource=resource, method=method, items=items)
    now = timezone.now()
    with transaction.atomic():
        for it in items:
            r = it.record
            r.idempotency_key = key
            r.payload_hash = it.payload_hash
            r.claimed_at = now
            r.attempts_count += 1
        _save([it.record for it in items], ["idempotency_key", "payload_hash", "claimed_at", "attempts_count"])
        ExportAttempt.objects.bulk_create(
            [ExportAttempt(record=it.record, started_at=now, idempotency_key=key, actor=it.record.queued_by)
             for it in items])
    records = [it.record for it in items]
    result.calls += 1
    try:
        elements = api.save_batch(resource, [it.element for it in items], idempotency_key=key, method=method)
    except errors.RateLimited as exc:
        until = ratelimits.record_rate_limited(tenant_id=connection.tenant_id, retry_after=exc.retry_after,
                                               problem=exc.problem)
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


def _record_elements(items, elements, connection, key, result, started=None):
    ok, bad = [], []
    for it, el in zip(items, elements):
        if payloads.element_failed(el):
            bad.append((it, payloads.element_messages(el) or ["Xero refused this document."]))
        else:
            ok.append((it, payloads.element_xero_id(it.record.doc_type, el), el))
    with transaction.atomic():
        ExportAttempt.objects.filter(record__in=[it.record for it in items], outcome="").delete()
        attempts = _mark_exported([(it, xid) for it, xid, _ in ok], connection=connection, key=key,
                                  messages_for=None, started=started) if ok else []
        for (it, _, el), attempt in zip(ok, attempts):
            attempt.messages = payloads.element_messages(el)  # warnings, verbatim
        ExportAttempt.objects.bulk_create(attempts)
        if bad:
            msgs = {id(it): m for it, m in bad}
            for it, _ in bad:
                it.record.in_doubt = False
            _save([it.record for it, _ in bad], ["in_doubt"])
            _fail([it for it, _ in bad], lambda it: msgs[id(it)], outcome=Outcome.VALIDATION_FAILED, status=200,
                  key=key, started=started)
    result.exported += len(ok)
    result.failed += len(bad)


def _whole_batch_refused(items, exc: errors.ValidationFailed, key, result, started=None):
    records = [it.record for it in items]
    if any("idempotency" in m.lower() for m in exc.messages):
        # Xero saw this key with another body: treat the items as in doubt and ask anew.
        with transaction.atomic():
            _finish_open_attempts(records, Outcome.ERROR, messages=exc.messages, status=exc.status)
            for r in records:
                r.in_doubt = True
                r.generation += 1
            _requeue(items, at=timezone.now(), fields_extra=("in_doubt", "generation"))
        result.rescheduled += len(items)
        return
    elements = exc.elements or []
    with transaction.atomic():
        ExportAttempt.objects.filter(record__in=records, outcome="").delete()
        if len(elements) == len(items):
            msgs = {id(it): (payloads.element_messages(el) or exc.messages) for it, el in zip(items, elements)}
        else:
            msgs = {id(it): exc.messages or [str(exc)] for it in items}
        for r in records:
            r.in_doubt = False
        _save(records, ["in_doubt"])
        _fail(items, lambda it: msgs[id(it)], outcome=Outcome.VALIDATION_FAILED, status=exc.status, key=key,
              started=started)
    result.failed += len(items)


def _unavailable(items, exc: errors.XeroUnavailable, key, result):
    records = [it.record for it in items]
    msg = str(user_messages.message_for(exc))
    max_attempts = settings.XERO_EXPORT_MAX_ATTEMPTS
    with transaction.atomic():
        _finish_open_attempts(records, Outcome.UNAVAILABLE, messages=[msg], status=exc.status)
        for r in records:
            r.in_doubt = r.in_doubt or exc.maybe_committed
        retry = [it for it in items if it.record.attempts_count < max_attempts]
        give_up = [it for it in items if it.record.attempts_count >= max_attempts]
        if retry:
            attempt = max(it.record.attempts_count for it in retry)
            delay = backoff_seconds(attempt)
            if exc.status is None:  # a timeout: let a request still running at Xero finish first
                delay = max(delay, 1.0)
            _requeue(retry, at=timezone.now() + timedelta(seconds=delay), fields_extra=("in_doubt",))
        if give_up:
            _save([it.record for it in give_up], ["in_doubt"])
            _fail(give_up, lambda it: [f"Gave up after {max_attempts} attempts: {msg}"], outcome=Outcome.UNAVAILABLE,
                  status=exc.status, key=key, record_attempt=False)
    result.rescheduled += len(retry)
    result.failed += len(give_up)
    log.warning("xero.exports.unavailable status=%s maybe_committed=%s records=%s", exc.status, exc.maybe_committed,
                len(items))


# --- the drain loop ----------------------------------------------------------------------------------

def schedule_drain(*, organisation_id: int, at) -> None:
    """A run of the drain at `at` (django-q2 one-off schedule; at most one per organisation)."""
    from django_q.models import Schedule

    name = f"exports.drain.{organisation_id}"
    existing = Schedule.objects.filter(name=name).first()
    if existing and existing.next_run and existing.next_run <= at:
        return
    Schedule.objects.update_or_create(name=name, defaults={
        "func": "xero_connect.tasks.exports.export_drain", "args": repr((organisation_id,)),
        "schedule_type": Schedule.ONCE, "next_run": at, "repeats": -1})


def exports_drain(*, organisation_id: int, max_seconds: float | None = None) -> DrainResult:
    """Send the organisation's due queued items, batch after batch, within the shared budget.

    Waits up to XERO_EXPORT_MAX_INLINE_WAIT happen here; longer ones (a 429's Retry-After, a
    backoff) become a scheduled run. The periodic sweeper catches anything else.
    """
    result = DrainResult()
    organisation = Organisation.objects.get(pk=organisation_id)
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else settings.XERO_EXPORT_DRAIN_SECONDS)
    batch_size = settings.XERO_EXPORT_BATCH_SIZE
    max_inline = settings.XERO_EXPORT_MAX_INLINE_WAIT
    try:
        while time.monotonic() < deadline:
            result.recovered += exports_recover_stale(organisation_id=organisation_id)
            connection = current_connection(organisation=organisation)
            if not connection_usable(connection):
                result.waiting += park_waiting(organisation_id=organisation_id,
                                               reason=_connection_reason(connection))
                break
            nxt = _next_resource(organisation_id=organisation_id)
            if nxt is None:
                next_due = ExportRecord.objects.filter(organisation_id=organisation_id,
                                                       state=ExportState.QUEUED).aggregate(m=Min("next_attempt_at"))["m"]
                if next_due is None:
                    break
                wait = (next_due - timezone.now()).total_seconds()
                if wait <= max_inline and time.monotonic() + wait < deadline:
                    time.sleep(max(wait, 0.01))
                    continue
                result.next_run_at = next_due
                schedule_drain(organisation_id=organisation_id, at=next_due)
                break
            resource, doc_types = nxt
            records = _claim(organisation_id=organisation_id, doc_types=doc_types, limit=batch_size)
            if not records:
                continue  # another worker took them
            result.jobs.update(r.job_id for r in records if r.job_id)
            if not _process_batch(records, resource, connection, organisation_id, deadline, result):
                break
            jobs_refresh(job_ids=result.jobs)
    finally:
        if result.jobs:
            jobs_refresh(job_ids=result.jobs)
    if time.monotonic() >= deadline and ExportRecord.objects.filter(
            organisation_id=organisation_id, state=ExportState.QUEUED).filter(due_filter(timezone.now())).exists():
        from .enqueue import kick_drains

        with transaction.atomic():
            kick_drains(organisation_id=organisation_id, queued=1)
    log.info("xero.exports.drain organisation=%s calls=%s exported=%s failed=%s rescheduled=%s waiting=%s",
             organisation_id, result.calls, result.exported, result.failed, result.rescheduled, result.waiting)
    return result


def _process_batch(records, resource, connection, organisation_id, deadline, result) -> bool:
    """One claimed batch: pre-flight, look up the in-doubt ones, send the rest. False when the
    drain should stop (no call slot soon: a run is scheduled)."""
    items = []
    try:
        items = _prepare(records, organisation_id=organisation_id, result=result)
        if not items:
            return True
        api = api_for(connection)
        doubtful = [it for it in items if it.record.in_doubt]
        if doubtful:
            reservation = _acquire(connection.tenant_id, deadline)
            try:
                _lookup(api, resource, doubtful, connection, result)
            finally:
                ratelimits.release_call(reservation)
            items = [it for it in items if it.record.state == ExportState.EXPORTING]
            if not items:
                return True
        reservation = _acquire(connection.tenant_id, deadline)
        try:
            _send(api, resource, items, connection, result)
        finally:
            ratelimits.release_call(reservation)
        return True
    except NoSlot as slot:
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
    except errors.RateLimited as exc:  # on a lookup
        until = ratelimits.record_rate_limited(tenant_id=connection.tenant_id, retry_after=exc.retry_after,
                                               problem=exc.problem)
        left = [it for it in (items or [Item(r) for r in records]) if it.record.state == ExportState.EXPORTING]
        _requeue(left, at=until)
        result.rescheduled += len(left)
        return True
    except errors.XeroError as exc:  # a lookup failed (5xx, timeout): try again later, still in doubt
        left = [it for it in (items or [Item(r) for r in records]) if it.record.state == ExportState.EXPORTING]
        _requeue(left, at=timezone.now() + timedelta(seconds=backoff_seconds(1)))
        result.rescheduled += len(left)
        log.warning("xero.exports.lookup_failed error=%s", exc.__class__.__name__)
        return True
