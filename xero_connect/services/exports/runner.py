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
import hashlib
import json
import logging
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Min, Model, Prefetch
from django.utils import timezone

from ... import messages as user_messages
from ... import money, task_queue
from ...config import xero_config
from ...models import (
    Contact,
    DocumentLine,
    DocumentType,
    ExportAttempt,
    ExportRecord,
    ExportState,
    Organisation,
    TaxRate,
    XeroConnection,
)
from ...names import contact_name_key
from ...selectors import preflight
from ...selectors.connections import current_connection, presentation
from ...xero import errors
from ...models import WebhookEvent
from ...xero.accounting import parse_xero_date
from .. import payloads, webhooks_out
from ..xero_access import NoCallSlot, api_for, connection_usable, record_xero_failure
from .enqueue import due_filter, kick_drains
from .needs_mapping import park_needs_mapping
from .jobs import jobs_refresh

log = logging.getLogger("xero.exports")
Outcome = ExportAttempt.Outcome
CONNECTION_ERRORS = (errors.ReauthorisationRequired, errors.ConnectionRevoked, errors.AccessDenied,
                     errors.TokenExpired)
WORKER_ID = f"{socket.gethostname()}:{uuid.uuid4().hex[:6]}"
# Xero unavailable rather than refusing: waited out (502/503/504; None = no answer at all).
OUTAGE_STATUSES = {None, 502, 503, 504}
LOOKUP_PAGE_SIZE = 100
LOOKUP_MAX_PAGES = 10  # per look-up query: at most 1,000 candidates are read


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
    # The organisation's tax rates (tax type → effective rate) read once per drain for the
    # totals check, not once per batch.
    tax_rates: dict | None = None
    contact_ids: dict = field(default_factory=dict)  # tenant id → {contact name key: ContactID or None}


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
    base = xero_config().export_backoff_base
    delay = min(xero_config().export_backoff_max, base * (2 ** max(attempt - 1, 0)))
    return delay * (1 + random.random() * 0.2)


# --- recovery of claims whose worker died ------------------------------------------------------

def exports_recover_stale(*, organisation_id: int | None = None) -> int:
    """Records found "exporting" with a claim older than the lease: their worker died. Those
    with a call in flight are in doubt (looked up in Xero before sending again); the others
    simply go back in the queue. Returns how many were recovered."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=xero_config().export_claim_lease)
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
            candidates = candidates.select_for_update(skip_locked=True)
        rows = _claim_update(candidates.values("pk")[:limit], now=now, token=token)
        if not rows:
            return []
        ids = [pk for pk, _, _ in rows]
        keys = {key for _, in_doubt, key in rows if in_doubt and key}
        if keys:  # only a batch holding in-doubt records pays for finding their batch mates
            mates = _in_doubt_batch_mates(organisation_id=organisation_id, doc_types=doc_types, ids=ids, keys=keys)
            ExportRecord.objects.filter(pk__in=mates, state=ExportState.QUEUED).update(
                state=ExportState.EXPORTING, claimed_at=now, claimed_by=token)
    lines = Prefetch("document__lines", queryset=DocumentLine.objects.order_by("position", "id"))
    related = ["document"]
    if DocumentType.PAYMENT in doc_types:  # a payment needs the Xero id of the invoice it pays
        related.append("document__paid_document__export_record")
    return list(ExportRecord.objects.filter(claimed_by=token, state=ExportState.EXPORTING)
                .select_related(*related).prefetch_related(lines).order_by("pk"))


def _claim_update(candidates, *, now, token: str) -> list[tuple]:
    """Take the `candidates` (a queryset of pks, locked with SKIP LOCKED on PostgreSQL) in one
    statement: UPDATE … SET state=exporting WHERE id IN (candidates) AND state=queued
    RETURNING (id, in_doubt, idempotency_key). PostgreSQL and SQLite ≥ 3.35 both run it."""
    meta = ExportRecord._meta
    qn = db_connection.ops.quote_name
    sub_sql, sub_params = candidates.query.sql_with_params()
    col = {name: qn(meta.get_field(name).column) for name in ("state", "claimed_at", "claimed_by", "in_doubt",
                                                                "idempotency_key")}
    pk = qn(meta.pk.column)
    table = qn(meta.db_table)
    # MATERIALIZED: the candidates are chosen once (as an IN (subquery) PostgreSQL may run the
    # LIMITed, SKIP LOCKED subquery again per row and take more than the batch).
    sql = (f"WITH c AS MATERIALIZED ({sub_sql}) "
           f"UPDATE {table} SET {col['state']} = %s, {col['claimed_at']} = %s, {col['claimed_by']} = %s "
           f"WHERE {table}.{pk} IN (SELECT c.pk FROM c) AND {table}.{col['state']} = %s "
           f"RETURNING {table}.{pk}, {table}.{col['in_doubt']}, {table}.{col['idempotency_key']}")
    claimed_at = meta.get_field("claimed_at").get_db_prep_save(now, db_connection)
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*sub_params, ExportState.EXPORTING, claimed_at, token, ExportState.QUEUED])
        return [(pk_, bool(in_doubt), key) for pk_, in_doubt, key in cursor.fetchall()]


def _in_doubt_batch_mates(*, organisation_id: int, doc_types: list[str], ids: list[int], keys: set[str]) -> list[int]:
    """Queued in-doubt records that went out in the same request (one of `keys`, the
    Idempotency-Keys of the in-doubt records among `ids`): claimed together so that, if none
    is found in Xero, the original request can be sent again exactly as it was, under its
    original key."""
    mates = ExportRecord.objects.filter(organisation_id=organisation_id, doc_type__in=doc_types, in_doubt=True,
                                        state=ExportState.QUEUED, idempotency_key__in=keys).exclude(pk__in=ids)
    if db_connection.features.has_select_for_update_skip_locked:
        mates = mates.select_for_update(skip_locked=True)
    return list(mates.values_list("pk", flat=True)[:xero_config().export_batch_size])


def _next_resource(*, organisation_id: int) -> tuple[str, list[str]] | None:
    """The resource with due work, invoices first (payments need their invoice's Xero id):
    one bounded EXISTS per resource (the claim index), never a read of the whole queue."""
    now = timezone.now()
    queued = ExportRecord.objects.filter(organisation_id=organisation_id, state=ExportState.QUEUED).filter(
        due_filter(now))
    for resource in payloads.RESOURCE_ORDER:
        types = list(payloads.DOC_TYPES_BY_RESOURCE[resource])
        if queued.filter(doc_type__in=types).exists():
            return resource, types
    return None


# --- writing outcomes ---------------------------------------------------------------------------

def _attempt(record, outcome, *, messages=(), status=None, key="", now=None, started=None):
    now = now or timezone.now()
    return ExportAttempt(record=record, started_at=started or now, finished_at=now,
                         outcome=outcome, messages=list(messages), http_status=status, idempotency_key=key,
                         actor_id=record.queued_by_id)


def _finish_open_attempts(records, outcome, *, messages=(), status=None):
    now = timezone.now()
    ExportAttempt.objects.filter(record__in=records, outcome="").update(
        outcome=outcome, finished_at=now, messages=list(messages), http_status=status)


def _write_rows(per_row: dict[int, dict], common: dict | None = None, *, model=ExportRecord, key: str = "id",
                open_attempts: bool = False) -> int:
    """One UPDATE of rows of `model` (export records by default), whatever their number.

    `per_row` maps a key (the `key` field's value: a record id) to {field name: value} — the
    same fields for every row, possibly none; `common` gives values set on every row (an
    `F("other_field")` copies that column, a model instance sets its id). On ExportRecord
    updated_at is always set; `open_attempts` limits ExportAttempt rows to those without an
    outcome yet. Returns the number of rows updated.

    Written as `WITH v(k, …) AS (VALUES …) UPDATE … SET f = (SELECT v.f FROM v WHERE v.k = key)`,
    which PostgreSQL and SQLite both run, instead of Django's bulk_update (a CASE per field and
    row: most of the export path's CPU at 50 rows × 11 fields)."""
    return _write_many([dict(per_row=per_row, common=common, model=model, key=key, open_attempts=open_attempts)])


def _write_many(specs: list[dict]) -> int:
    """Run several _write_rows (`specs`: their keyword arguments) as ONE statement on
    PostgreSQL (all but the last as data-modifying CTEs), one after the other elsewhere.
    Returns the rows updated by the last."""
    specs = [spec for spec in specs if spec["per_row"]]
    if not specs:
        return 0
    if db_connection.vendor != "postgresql":
        count = 0
        for spec in specs:
            cte, update, params = _rows_update(**spec, cte="v")
            with db_connection.cursor() as cursor:
                before = db_connection.connection.total_changes  # sqlite3 gives no rowcount for WITH … UPDATE
                cursor.execute(f"WITH {cte} {update}", params)
                count = db_connection.connection.total_changes - before
        return count
    ctes, params = [], []
    for i, spec in enumerate(specs):
        cte, update, spec_params = _rows_update(**spec, cte=f"v{i}")
        params += spec_params
        if i < len(specs) - 1:
            ctes += [cte, f"u{i} AS ({update} RETURNING 1)"]
        else:
            ctes.append(cte)
            last = update
    with db_connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(ctes)} {last}", params)
        return cursor.rowcount


def _rows_update(*, per_row: dict, common: dict | None, model, key: str, open_attempts: bool, cte: str):
    """(CTE `cte(k, c0, …) AS (…)`, `UPDATE …` reading it, params) for _write_many."""
    meta = model._meta
    conn = db_connection
    qn = conn.ops.quote_name
    pg = conn.vendor == "postgresql"
    common = dict(common or {})
    if model is ExportRecord:
        common["updated_at"] = timezone.now()
    row_fields = [f for f in next(iter(per_row.values())) if f not in common]
    fields = [meta.get_field(name) for name in row_fields]
    key_field = meta.get_field(key)

    def slot(field):
        return f"CAST(%s AS {field.target_field.db_type(conn) if field.is_relation else field.db_type(conn)})" \
            if pg else "%s"

    if pg:
        # One array per column: the statement's text is the same whatever the number of rows
        # (psycopg parses and caches it once), unlike a VALUES list.
        def array_of(field):
            target = field.target_field if field.is_relation else field
            return "text" if target.get_internal_type() == "JSONField" else target.db_type(conn)

        def column(field, getter):
            kind = (field.target_field if field.is_relation else field).get_internal_type()
            values = list(map(getter, per_row.items()))
            if kind == "JSONField":
                return [None if v is None else json.dumps(v) for v in values]
            if kind == "DecimalField":  # psycopg sends Decimal as numeric; the column's scale is checked by the cast
                return values
            return [field.get_db_prep_save(v, conn) for v in values]

        params = [column(key_field, lambda kv: kv[0])] + [
            column(f, lambda kv, name=f.name: kv[1][name]) for f in fields]
        source = (f"SELECT * FROM unnest({', '.join(f'CAST(%s AS {array_of(f)}[])' for f in [key_field, *fields])})")
        casts = {i: "::jsonb" for i, f in enumerate(fields) if array_of(f) == "text"
                 and (f.target_field if f.is_relation else f).get_internal_type() == "JSONField"}
    else:
        row_sql = "(" + ", ".join(["%s"] * (1 + len(fields))) + ")"
        params = []
        for row_key, values in per_row.items():
            params.append(row_key)
            params += [f.get_db_prep_save(values[f.name], conn) for f in fields]
        source = f"VALUES {', '.join([row_sql] * len(per_row))}"
        casts = {}
    table = qn(meta.db_table)
    key_column = f"{table}.{qn(key_field.column)}"
    columns = ["k"] + [f"c{i}" for i in range(len(fields))]
    sets, set_params = [], []
    for i, f in enumerate(fields):
        sets.append(f"{qn(f.column)} = (SELECT {cte}.c{i}{casts.get(i, '')} FROM {cte} WHERE {cte}.k = {key_column})")
    for name, value in common.items():
        f = meta.get_field(name)
        if isinstance(value, F):
            sets.append(f"{qn(f.column)} = {qn(meta.get_field(value.name).column)}")
        elif isinstance(value, Model):
            sets.append(f"{qn(f.column)} = {slot(f)}")
            set_params.append(value.pk)
        else:
            sets.append(f"{qn(f.column)} = {slot(f)}")
            set_params.append(f.get_db_prep_save(value, conn))
    where = f"{key_column} IN (SELECT k FROM {cte})"
    if open_attempts:
        where += f" AND {table}.{qn(meta.get_field('outcome').column)} = ''"
    return (f"{cte}({', '.join(columns)}) AS ({source})", f"UPDATE {table} SET {', '.join(sets)} WHERE {where}",
            params + set_params)


def _send_starts(record_ids: list[int], *, key: str, tenant_id: str, now) -> None:
    """Before the call: the records carry the batch's Idempotency-Key, the tenant the write
    goes to (where a write in doubt may have landed) and one more attempt
    (the same for the whole batch: one UPDATE; the payload hash is stored with the outcome),
    and each gets an open attempt (no outcome yet: a call in flight) whose actor is the
    record's queued_by, read by the database, never loaded per document (INSERT … SELECT).
    One statement on PostgreSQL (a data-modifying CTE), two elsewhere."""
    a, r = ExportAttempt._meta, ExportRecord._meta
    qn = db_connection.ops.quote_name
    cols = ", ".join(qn(a.get_field(c).column)
                     for c in ["record", "started_at", "outcome", "messages", "idempotency_key", "actor"])
    started = a.get_field("started_at").get_db_prep_save(now, db_connection)
    record_id, queued_by = qn(r.pk.column), qn(r.get_field("queued_by").column)
    if db_connection.vendor == "postgresql":
        c = {name: qn(r.get_field(name).column) for name in ("idempotency_key", "tenant_id", "claimed_at",
                                                             "attempts_count", "updated_at")}
        sql = (f"WITH u AS (UPDATE {qn(r.db_table)} SET {c['idempotency_key']} = %s, {c['tenant_id']} = %s, "
               f"{c['claimed_at']} = %s, "
               f"{c['attempts_count']} = {c['attempts_count']} + 1, {c['updated_at']} = %s "
               f"WHERE {record_id} = ANY(%s) RETURNING {record_id}, {queued_by}) "
               f"INSERT INTO {qn(a.db_table)} ({cols}) SELECT u.{record_id}, %s, '', CAST('[]' AS jsonb), %s, "
               f"u.{queued_by} FROM u")
        with db_connection.cursor() as cursor:
            cursor.execute(sql, [key, tenant_id, now, now, list(record_ids), now, key])
        return
    ExportRecord.objects.filter(pk__in=record_ids).update(
        idempotency_key=key, tenant_id=tenant_id, claimed_at=now, attempts_count=F("attempts_count") + 1,
        updated_at=now)
    sql = (f"INSERT INTO {qn(a.db_table)} ({cols}) SELECT {record_id}, %s, '', '[]', %s, {queued_by} "
           f"FROM {qn(r.db_table)} WHERE {record_id} IN ({', '.join(['%s'] * len(record_ids))})")
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [started, key, *record_ids])


def _save(records, fields):
    """Store `fields` of `records` (one UPDATE, see _write_rows)."""
    fields = [ExportRecord._meta.get_field(f) for f in fields if f != "updated_at"]
    _write_rows({r.pk: {f.name: getattr(r, f.attname) for f in fields} for r in records})


def _requeue(items, *, at, fields_extra=()):
    now = timezone.now()
    for it in items:
        r = it.record
        r.state = ExportState.QUEUED
        r.next_attempt_at = at
        r.claimed_by = ""
        r.updated_at = now
    _save([it.record for it in items], ["state", "next_attempt_at", "claimed_by", *fields_extra])


def _fail(items, reason_for, *, outcome, status=None, key="", record_attempt=True, started=None, fields_extra=()):
    """Mark failed; `reason_for(item)` → list of messages (Xero's words verbatim)."""
    now = timezone.now()
    attempts = []
    for it in items:
        r = it.record
        msgs = reason_for(it)
        r.state = ExportState.FAILED
        r.last_error = "; ".join(msgs)
        r.claimed_by = ""
        r.xero_unavailable_since = None
        r.updated_at = now
        if record_attempt:
            attempts.append(_attempt(r, outcome, messages=msgs, status=status, key=key, now=now, started=started))
    _save([it.record for it in items], ["state", "last_error", "claimed_by", "xero_unavailable_since", *fields_extra])
    if attempts:
        ExportAttempt.objects.bulk_create(attempts)
    webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_FAILED, record_ids=[it.record.pk for it in items])


def _mark_exported(items_and_ids, *, connection: XeroConnection, outcome=Outcome.EXPORTED, status=200, key="",
                   messages_for=None, started=None, row_fields=(), with_attempts=True, defer: list | None = None):
    """Record items as exported with their Xero ids: one UPDATE (what is the same for the whole
    batch set once, the Xero id and `row_fields` per row). Returns the attempts to insert."""
    now = timezone.now()
    per_row, attempts = {}, []
    for it, xero_id in items_and_ids:
        r = it.record
        r.state = ExportState.EXPORTED
        r.xero_id = xero_id
        r.tenant_id = connection.tenant_id
        r.connection = connection
        r.exported_at = now
        r.exported_by_id = r.queued_by_id
        r.in_doubt = False
        r.update_existing = False
        r.last_error = ""
        r.claimed_by = ""
        r.lookups_failed = 0
        r.xero_unavailable_since = None
        r.updated_at = now
        per_row[r.pk] = {"xero_id": xero_id, **{f: getattr(r, f) for f in row_fields}}
        if with_attempts:
            msgs = messages_for(it) if messages_for else []
            attempts.append(_attempt(r, outcome, messages=msgs, status=status, key=key, now=now, started=started))
    spec = dict(per_row=per_row, model=ExportRecord, key="id", open_attempts=False, common={
        "state": ExportState.EXPORTED, "tenant_id": connection.tenant_id, "connection": connection,
        "exported_at": now, "exported_by": F("queued_by"), "in_doubt": False, "update_existing": False,
        "last_error": "", "claimed_by": "", "lookups_failed": 0, "xero_unavailable_since": None})
    if defer is not None:  # the caller writes it with its own (one statement on PostgreSQL), then tells webhooks
        defer.append(spec)
    else:
        _write_many([spec])
        webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_EXPORTED, record_ids=list(per_row))
    return attempts


def park_waiting(*, organisation_id: int, reason: str, records=None, state=ExportState.WAITING_FOR_CONNECTION,
                 outcome=Outcome.CONNECTION_PROBLEM) -> int:
    """Connection not usable: queued (and just-claimed) items wait for it, with the fix in
    words. They go out by themselves after a reconnect (exports_release_waiting). With
    `state=NEEDS_MAPPING` the same for items naming an unmapped host category (#15): released
    when it is mapped (exports_release_needs_mapping)."""
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
            outcome=outcome, finished_at=now, messages=[reason])
        n = ExportRecord.objects.filter(pk__in=ids).update(state=state, last_error=reason, claimed_by="")
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
    return preflight.documents_preflight(documents=documents)


def _elsewhere(record: ExportRecord, tenant_id: str) -> bool:
    """The record's last write went to another Xero organisation than `tenant_id`."""
    return bool(record.tenant_id) and record.tenant_id != tenant_id


def _tenant_name(tenant_id: str) -> str:
    connection = XeroConnection.objects.filter(tenant_id=tenant_id).exclude(tenant_name="").order_by("-pk").first()
    return f"the Xero organisation {connection.tenant_name}" if connection else "another Xero organisation"


def _contact_ids(*, organisation_id: int, tenant_id: str, docs) -> dict[str, str]:
    """{names.contact_name_key(name): ContactID} for the documents' contacts that the current
    Xero organisation's list holds, active. A key held by two contacts is left out (sent by
    Name; Xero decides)."""
    keys = {contact_name_key(d.contact_name) for d in docs if contact_name_key(d.contact_name)}
    if not keys:
        return {}
    found: dict[str, set] = {}
    for key, xero_id in Contact.objects.filter(organisation_id=organisation_id, tenant_id=tenant_id,
                                               match_key__in=keys, is_active=True).values_list("match_key", "xero_id"):
        found.setdefault(key, set()).add(xero_id)
    return {key: ids.pop() for key, ids in found.items() if len(ids) == 1}


def _prepare(records: list[ExportRecord], *, organisation_id: int, tenant_id: str,
             result: DrainResult) -> list[Item]:
    """Pre-flight and payloads for a send to the Xero organisation `tenant_id`. Items that
    cannot go now are failed (with the reason, no call spent) or put back (a payment whose
    invoice is still on its way). No id learnt from another Xero organisation is ever sent:
    a document that is in another one stays recorded as exported there."""
    records = park_needs_mapping(records, organisation_id=organisation_id, tenant_id=tenant_id, result=result,
                                 park=park_waiting)
    docs = [r.document for r in records]
    problems = _preflight(docs)
    failed, deferred, ready, kept_elsewhere = [], [], [], []
    # Contact ids are read once per drain (and tenant) for the names not seen yet, misses too.
    known = result.contact_ids.setdefault(tenant_id, {})
    keys = {contact_name_key(d.contact_name) for d in docs if contact_name_key(d.contact_name)}
    missing = keys - known.keys()
    if missing:
        found = _contact_ids(organisation_id=organisation_id, tenant_id=tenant_id,
                             docs=[d for d in docs if contact_name_key(d.contact_name) in missing])
        known.update({key: found.get(key) for key in missing})
    contact_ids = {key: known[key] for key in keys if known[key]}
    for r in records:
        doc = r.document
        if r.xero_id and _elsewhere(r, tenant_id):
            kept_elsewhere.append(Item(r))
            continue
        if r.in_doubt and _elsewhere(r, tenant_id):
            r.in_doubt = False
            failed.append((Item(r), [
                f"This may already be in {_tenant_name(r.tenant_id)}: it was being sent there when the link to "
                f"Xero changed. Look for {doc} there; if it is not there, press Export to send it to the Xero "
                f"organisation linked now."]))
            continue
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
            if (paid_record and paid_record.state == ExportState.EXPORTED and paid_record.xero_id
                    and _elsewhere(paid_record, tenant_id)):
                failed.append((Item(r), [
                    f"{paid} that this payment pays is in {_tenant_name(paid_record.tenant_id)}, not in the Xero "
                    f"organisation linked now, so the payment cannot be recorded against it here. Record the "
                    f"payment in that Xero organisation, or export {paid} to the one linked now first."]))
                continue
            if paid_record and paid_record.state == ExportState.EXPORTED and paid_record.xero_id:
                paid_xero_id = paid_record.xero_id
            elif paid_record and paid_record.state in (ExportState.QUEUED, ExportState.EXPORTING,
                                                       ExportState.WAITING_FOR_CONNECTION,
                                                       ExportState.NEEDS_MAPPING):
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
    if kept_elsewhere:
        _keep_elsewhere(kept_elsewhere)
    if failed:
        problem_of = {id(it): msgs for it, msgs in failed}
        _save([it.record for it, _ in failed], ["in_doubt"])
        _fail([it for it, _ in failed], lambda it: problem_of[id(it)], outcome=Outcome.PREFLIGHT_FAILED)
        result.failed += len(failed)
    if deferred:
        # Not before the invoice it pays is tried again (it may be waiting for Xero for minutes).
        soon = timezone.now() + timedelta(seconds=xero_config().export_payment_defer)
        by_time = {}
        for it in deferred:
            paid_next = it.record.document.paid_document.export_record.next_attempt_at
            by_time.setdefault(max(soon, paid_next) if paid_next else soon, []).append(it)
        for at, group in by_time.items():
            _requeue(group, at=at)
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


def _keep_elsewhere(items: list[Item]) -> None:
    """Documents in another Xero organisation than the one linked now: never sent (their ids
    mean nothing to it). They stay exported there, View links and all; the attempt says why."""
    now = timezone.now()
    attempts = []
    for it in items:
        r = it.record
        reason = (f"Not sent: {r.document} is in {_tenant_name(r.tenant_id)}, which is no longer linked. It stays "
                  f"there; it is not re-exported to the Xero organisation linked now.")
        r.state = ExportState.EXPORTED
        r.update_existing = False
        r.claimed_by = ""
        r.updated_at = now
        attempts.append(_attempt(r, Outcome.PREFLIGHT_FAILED, messages=[reason], now=now))
    with transaction.atomic():
        _save([it.record for it in items], ["state", "update_existing", "claimed_by"])
        ExportAttempt.objects.bulk_create(attempts)


# --- calls -----------------------------------------------------------------------------------------

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _quote_free(text: str) -> bool:
    """Can `text` stand in a `where` string literal? Xero answers 400 QueryParseException for a
    string containing a double quote, escaped or not (XERO_FACTS.md: Xero-Java#347,
    xeroizer#160); a backslash is kept out too."""
    return '"' not in text and "\\" not in text


def _by_date(items: list[Item]) -> str:
    dates = sorted({it.record.document.date for it in items})
    return " OR ".join(f"Date==DateTime({d.year},{d.month},{d.day})" for d in dates)


def _lookup_queries(resource: str, items: list[Item]) -> list[dict]:
    """The look-ups (keyword arguments of AccountingApi.find) that find `items` in Xero if they
    are there: Xero's documented parameters where it has them (InvoiceNumbers= on Invoices),
    otherwise a `where` with no string that holds a double quote; items whose own text cannot
    be put in one are looked for by date (then matched here, field by field)."""
    queries, leftover = [], []
    unitdp = {"unitdp": 4} if resource in payloads.UNITDP_RESOURCES else {}
    if resource == "Invoices":
        numbers = sorted({payloads.xero_number(it.record.document) for it in items
                          if "," not in payloads.xero_number(it.record.document)})
        leftover = [it for it in items if "," in payloads.xero_number(it.record.document)]
        if numbers:
            queries.append({"params": {"InvoiceNumbers": ",".join(numbers), **unitdp}})
    elif resource == "Payments":
        paid = sorted({str((it.element or {}).get("Invoice", {}).get("InvoiceID") or "") for it in items})
        leftover = [it for it in items if not _GUID.match(str((it.element or {}).get("Invoice", {}).get("InvoiceID") or ""))]
        guids = [p for p in paid if _GUID.match(p)]
        if guids:
            queries.append({"where": " OR ".join(f'Invoice.InvoiceID==Guid("{p}")' for p in guids)})
    else:
        field_name = "CreditNoteNumber" if resource == "CreditNotes" else "Narration"
        text_of = payloads.xero_number if resource == "CreditNotes" else payloads.journal_narration
        texts = sorted({text_of(it.record.document) for it in items if _quote_free(text_of(it.record.document))})
        leftover = [it for it in items if not _quote_free(text_of(it.record.document))]
        if texts:
            queries.append({"where": " OR ".join(f'{field_name}=="{t}"' for t in texts), "params": dict(unitdp)})
    if leftover:
        queries.append({"where": _by_date(leftover), "params": dict(unitdp)})
    return queries


def _matching_element(resource: str, it: Item, found: list[dict]) -> dict | None:
    """The element of a look-up answer that is this item (same number, type, date and contact,
    neither deleted nor voided), or None."""
    doc = it.record.document
    kind = payloads.kind_of(doc.doc_type)
    for el in found:
        if str(el.get("Status") or "").upper() in {"DELETED", "VOIDED"}:
            continue
        when = payloads_date(el)
        if when and when != doc.date.isoformat():
            continue
        if resource in ("Invoices", "CreditNotes"):
            if el.get(kind.number_field) != payloads.xero_number(doc) or el.get("Type") != kind.xero_type:
                continue
            sent = (it.element or {}).get("Contact") or {}
            got = el.get("Contact") or {}
            if sent.get("ContactID") and got.get("ContactID"):
                if str(sent["ContactID"]).lower() != str(got["ContactID"]).lower():
                    continue
            else:
                name = " ".join(str(got.get("Name") or "").split()).lower()
                if doc.contact_name and name and name != " ".join(doc.contact_name.split()).lower():
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
        if el.get(kind.id_field):
            return el
    return None


def payloads_date(el: dict) -> str:
    value = el.get("Date")
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-":
        return value[:10]
    parsed = parse_xero_date(value)
    return parsed.date().isoformat() if parsed else ""


def _lookup(api, resource: str, items: list[Item], connection, result: DrainResult, deadline: float) -> list[Item]:
    """Look in-doubt items up in Xero (see _lookup_queries; each call takes its slot in the
    shared budget, each query reads at most LOOKUP_MAX_PAGES pages). Those found are recorded
    as exported (adopted, never sent again); the rest come back to be sent. Raises the Xero
    error of a look-up that failed (the caller counts it)."""
    found = []
    for query in _lookup_queries(resource, items):
        for page in range(1, LOOKUP_MAX_PAGES + 1):
            got = api.find(resource, page=page, page_size=LOOKUP_PAGE_SIZE, **query)
            result.calls += 1
            found += got
            if len(got) < LOOKUP_PAGE_SIZE:
                break
    recovered, remaining, elements = [], [], []
    for it in items:
        el = _matching_element(resource, it, found)
        if el and not it.record.update_existing:
            xero_id = str(el[payloads.kind_of(it.record.doc_type).id_field])
            recovered.append((it, xero_id))
            elements.append((it, xero_id, el))
        else:
            remaining.append(it)
    if recovered:
        # Xero's totals of an adopted document are kept and compared exactly as after a send:
        # drift is measured against them, never against our subtotal.
        _compare_totals(elements, organisation_id=connection.organisation_id, result=result)
        with transaction.atomic():
            attempts = _mark_exported(
                recovered, connection=connection, outcome=Outcome.RECOVERED, status=200,
                messages_for=lambda it: ["Found in Xero after an interrupted send; not sent again."],
                row_fields=("xero_total", "total_difference", "total_note"))
            ExportAttempt.objects.bulk_create(attempts)
        result.recovered += len(recovered)
        result.exported += len(recovered)
    for it in remaining:
        it.record.in_doubt = False
        it.record.lookups_failed = 0
    if remaining:
        _save([it.record for it in remaining], ["in_doubt", "lookups_failed"])
    log.info("xero.exports.lookup resource=%s looked_up=%s recovered=%s", resource, len(items), len(recovered))
    return remaining


def _outage_wait(items: list[Item], now) -> tuple:
    """(since when Xero has been unavailable for these items, seconds to wait before trying
    again): about as long again as it has been down — 5 s, 10 s, 20 s … — capped at
    XERO_EXPORT_BACKOFF_MAX (5 minutes), for as long as the outage lasts."""
    since = min([it.record.xero_unavailable_since for it in items if it.record.xero_unavailable_since] or [now])
    delay = min(xero_config().export_backoff_max, max(xero_config().export_backoff_base, (now - since).total_seconds()))
    return since, delay


def _lookup_failed(items: list[Item], doubtful: list[Item], exc: errors.XeroError, result: DrainResult) -> None:
    """A look-up failed. An outage is waited out (Waiting for Xero, backoff capped); anything
    else (a 400, a 500…) is counted on the in-doubt items, and after XERO_EXPORT_MAX_ATTEMPTS
    in a row they fail with the reason — never sent blind, since they may already be in Xero."""
    max_attempts = xero_config().export_max_attempts
    outage = isinstance(exc, errors.XeroUnavailable) and exc.status in OUTAGE_STATUSES
    said = str(user_messages.message_for(exc)) if outage else (str(exc) or exc.__class__.__name__)
    now = timezone.now()
    if not outage:  # an outage is not the look-up failing: it is waited out, not counted against it
        for it in doubtful:
            it.record.lookups_failed += 1
    give_up = [] if outage else [it for it in doubtful if it.record.lookups_failed >= max_attempts]
    give_up_ids = {id(it) for it in give_up}
    retry = [it for it in items if id(it) not in give_up_ids and it.record.state == ExportState.EXPORTING]
    with transaction.atomic():
        if give_up:
            _save([it.record for it in give_up], ["lookups_failed"])
            _fail(give_up, lambda it: [
                f"Could not check in Xero whether {it.record.document} arrived after an interrupted send: "
                f"{max_attempts} look-ups failed (Xero said: {said}). Look for it in Xero before pressing Retry, "
                f"so it is not created twice."], outcome=Outcome.ERROR, status=exc.status)
        if retry:
            extra = ["lookups_failed"]
            if outage:
                since, delay = _outage_wait(retry, now)
                for it in retry:
                    it.record.xero_unavailable_since = since
                    it.record.last_error = said
                extra += ["xero_unavailable_since", "last_error"]
            else:
                delay = backoff_seconds(max([it.record.lookups_failed for it in doubtful] or [1]))
            _requeue(retry, at=now + timedelta(seconds=delay), fields_extra=extra)
    result.rescheduled += len(retry)
    result.failed += len(give_up)
    log.warning("xero.exports.lookup_failed error=%s status=%s outage=%s gave_up=%s", exc.__class__.__name__,
                exc.status, outage, len(give_up))


def _original_batches(items: list[Item], was_in_doubt: dict[int, str]) -> list[list[Item]]:
    """Split what is to be sent: each in-doubt request whose every element is still here and
    was not found in Xero goes again on its own, exactly as before (same records, same order,
    same payloads → the same Idempotency-Key); everything else goes together (≤ batch size).
    `was_in_doubt` maps record id → the key it was last sent under."""
    by_key: dict[str, list[Item]] = {}
    for it in items:
        key = was_in_doubt.get(it.record.pk)
        if key:
            by_key.setdefault(key, []).append(it)
    members: dict[str, set] = {}
    if by_key:
        for key, pk in ExportRecord.objects.filter(idempotency_key__in=list(by_key)).values_list(
                "idempotency_key", "pk"):
            members.setdefault(key, set()).add(pk)
    # A group with a member found in Xero (so that request was answered) or elsewhere goes
    # with the rest, under a new key.
    batches = [group for key, group in by_key.items() if {it.record.pk for it in group} == members.get(key)]
    in_groups = {id(it) for group in batches for it in group}
    rest = [it for it in items if id(it) not in in_groups]
    size = xero_config().export_batch_size
    return batches + [rest[i:i + size] for i in range(0, len(rest), size)]


def _send(api, resource: str, items: list[Item], connection: XeroConnection, result: DrainResult) -> None:
    method = "POST" if any(it.element.get(payloads.kind_of(it.record.doc_type).id_field) for it in items) else "PUT"
    key = idempotency_key(tenant_id=connection.tenant_id, resource=resource, method=method, items=items)
    now = timezone.now()
    with transaction.atomic():
        for it in items:
            r = it.record
            r.idempotency_key = key
            r.tenant_id = connection.tenant_id  # where a write in doubt may have landed
            r.claimed_at = now
            r.attempts_count += 1
        _send_starts([it.record.pk for it in items], key=key, tenant_id=connection.tenant_id, now=now)
    records = [it.record for it in items]
    result.calls += 1
    try:
        elements = api.save_batch(resource, [it.element for it in items], idempotency_key=key, method=method,
                                  params={"unitdp": 4} if resource in payloads.UNITDP_RESOURCES else None)
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


def _record_elements(items, elements, connection, key, result, started=None):
    """Xero answered the batch: each element's outcome on its record and on the attempt left
    open when the call went out (updated in place). A constant number of statements whatever
    the batch holds: exported ones in one UPDATE, refused ones in one more, the attempts in one."""
    ok, bad = [], []
    for it, el in zip(items, elements):
        if payloads.element_failed(el):
            bad.append((it, payloads.element_messages(el) or ["Xero refused this document."]))
        else:
            ok.append((it, payloads.element_xero_id(it.record.doc_type, el), el))
    _compare_totals(ok, organisation_id=connection.organisation_id, result=result)
    outcomes = {}
    for it, _, el in ok:
        it.record.payload_hash = it.payload_hash
        notes = [it.record.total_note, payloads.reference_note(it.record.document)]
        outcomes[it.record.pk] = {"outcome": Outcome.EXPORTED,
                                  "messages": payloads.element_messages(el) + [n for n in notes if n]}  # verbatim
    for it, msgs in bad:
        it.record.in_doubt = False
        outcomes[it.record.pk] = {"outcome": Outcome.VALIDATION_FAILED, "messages": msgs}
    with transaction.atomic():
        specs = []
        if ok:
            _mark_exported([(it, xid) for it, xid, _ in ok], connection=connection, key=key, with_attempts=False,
                           row_fields=("xero_total", "total_difference", "total_note", "payload_hash"), defer=specs)
        if bad:
            msgs = {id(it): m for it, m in bad}
            _fail([it for it, _ in bad], lambda it: msgs[id(it)], outcome=Outcome.VALIDATION_FAILED, status=200,
                  key=key, record_attempt=False, fields_extra=("in_doubt",))
        finished = timezone.now()
        specs.append(dict(per_row=outcomes, common={"finished_at": finished, "http_status": 200},
                          model=ExportAttempt, key="record", open_attempts=True))
        updated = _write_many(specs)
        if ok:  # after the write: the event reads the records' state and Xero ids
            webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_EXPORTED,
                                         record_ids=[it.record.pk for it, _, _ in ok])
        if updated < len(outcomes):  # an open attempt was closed meanwhile (recovered as stale): keep the answer
            have = set(ExportAttempt.objects.filter(record_id__in=list(outcomes), idempotency_key=key,
                                                    finished_at=finished).values_list("record_id", flat=True))
            ExportAttempt.objects.bulk_create([
                _attempt(it.record, outcomes[it.record.pk]["outcome"], messages=outcomes[it.record.pk]["messages"],
                         status=200, key=key, now=finished, started=started)
                for it in items if it.record.pk in outcomes and it.record.pk not in have])
    result.exported += len(ok)
    result.failed += len(bad)


def _compare_totals(ok, *, organisation_id: int, result: DrainResult | None = None) -> None:
    """Xero's SubTotal / TotalTax / Total of each written invoice or credit note against the
    document's own (money.exact_totals: tax on the whole, rounded once). A difference is put on
    the record with its cause in words (money.difference_cause). Tax rates come from the lists;
    where a line's rate is not known, only the subtotal is compared (Exclusive / NoTax)."""
    docs = [(it, el) for it, _, el in ok if payloads.kind_of(it.record.doc_type).resource in payloads.UNITDP_RESOURCES]
    if not docs:
        return
    if result is not None and result.tax_rates is not None:
        rates = result.tax_rates
    else:
        rates = dict(TaxRate.objects.filter(organisation_id=organisation_id).exclude(effective_rate=None)
                     .values_list("tax_type", "effective_rate"))
        if result is not None:
            result.tax_rates = rates
    for it, el in docs:
        r, doc = it.record, it.record.document
        r.xero_total, r.total_difference, r.total_note = None, None, ""
        xero = payloads.element_totals(el)
        kind = doc.line_amount_types or "Exclusive"
        if xero is None or kind not in money.LINE_AMOUNT_TYPES:
            continue
        r.xero_total = xero.total
        lines = list(doc.lines.all())
        known = kind == "NoTax" or all(line.tax_type in rates for line in lines)
        if known:
            rows = [(line.quantity, line.unit_amount, rates.get(line.tax_type, 0)) for line in lines]
            diff, what = xero.total - money.exact_totals(rows, kind).total, "total"

            def cause_of(rows=rows, kind=kind, xero=xero):
                return money.difference_cause(xero=xero, lines=rows, line_amount_types=kind)
        elif kind == "Exclusive":
            rows = [(line.quantity, line.unit_amount, 0) for line in lines]
            diff, what = xero.sub_total - money.exact_totals(rows, kind).sub_total, "subtotal"

            def cause_of(rows=rows, kind=kind, xero=xero):
                cut = money.document_totals([(q, money.round_money(u), 0) for q, u, _ in rows], kind)
                return ("Xero kept unit amounts to 2 decimals" if cut.sub_total == xero.sub_total
                        and money.document_totals(rows, kind).sub_total != xero.sub_total
                        else "rounding of each line to the cent")
        else:
            continue
        if diff:  # the cause is only worked out for a difference (most documents agree)
            cause = cause_of()
            r.total_difference = diff
            r.total_note = f"Xero's {what} differs from yours by {abs(diff):.2f} — {cause}"
            log.warning("xero.exports.total_differs record=%s difference=%s cause=%s", r.pk, diff, cause)


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
    """Xero did not answer the write. An outage (502/503/504, no answer at all) is waited out:
    the items stay queued, shown as Waiting for Xero since the first failure, re-tried with
    backoff capped at XERO_EXPORT_BACKOFF_MAX however long it lasts. Another answer (a 500, an
    unreadable body) is counted: after XERO_EXPORT_MAX_ATTEMPTS in a row the item fails."""
    records = [it.record for it in items]
    msg = str(user_messages.message_for(exc))
    max_attempts = xero_config().export_max_attempts
    outage = exc.status in OUTAGE_STATUSES
    now = timezone.now()
    with transaction.atomic():
        _finish_open_attempts(records, Outcome.UNAVAILABLE, messages=[msg], status=exc.status)
        for r in records:
            r.in_doubt = r.in_doubt or exc.maybe_committed
        give_up = [] if outage else [it for it in items if it.record.attempts_count >= max_attempts]
        retry = [it for it in items if all(it is not g for g in give_up)]
        if retry:
            attempt = max(it.record.attempts_count for it in retry)
            delay = backoff_seconds(attempt)
            if exc.status is None:  # a timeout: let a request still running at Xero finish first
                delay = max(delay, 1.0)
            for it in retry:
                it.record.xero_unavailable_since = it.record.xero_unavailable_since or now
                it.record.last_error = msg
            _requeue(retry, at=now + timedelta(seconds=delay),
                     fields_extra=("in_doubt", "xero_unavailable_since", "last_error"))
        if give_up:
            _save([it.record for it in give_up], ["in_doubt"])
            _fail(give_up, lambda it: [
                f"Gave up after {max_attempts} attempts: Xero is not answering this document — it answered "
                f"{exc.status or 'with an unreadable answer'} each time ({exc}). Press Retry to send it again."
                + (" It may be in Xero already: it is looked up there first." if it.record.in_doubt else "")],
                outcome=Outcome.UNAVAILABLE, status=exc.status, key=key, record_attempt=False)
    result.rescheduled += len(retry)
    result.failed += len(give_up)
    log.warning("xero.exports.unavailable status=%s maybe_committed=%s outage=%s records=%s", exc.status,
                exc.maybe_committed, outage, len(items))


# --- the drain loop ----------------------------------------------------------------------------------

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
    backoff) become a scheduled run. The periodic sweeper catches anything else.
    """
    result = DrainResult()
    organisation = Organisation.objects.get(pk=organisation_id)
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else xero_config().export_drain_seconds)
    batch_size = xero_config().export_batch_size
    max_inline = xero_config().export_max_inline_wait
    # Per batch, only what the batch needs: recovering dead workers' claims and refreshing the
    # jobs' counts (each reads the whole job or the organisation's claims) happen every
    # XERO_EXPORT_PERIODIC_SECONDS (and the counts once more at the end), and the resource goes
    # on being drained while it fills whole batches.
    periodic = xero_config().export_periodic_seconds
    next_recovery = next_job_refresh = next_connection_check = 0.0
    connection = None
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
            nxt = current or _next_resource(organisation_id=organisation_id)
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
            current = nxt if len(records) >= batch_size else None
            if not records:
                continue  # another worker took them
            result.jobs.update(r.job_id for r in records if r.job_id)
            if not _process_batch(records, resource, connection, organisation_id, deadline, result):
                break
            if time.monotonic() >= next_job_refresh:
                jobs_refresh(job_ids=result.jobs)
                next_job_refresh = time.monotonic() + periodic
    finally:
        if result.jobs:
            jobs_refresh(job_ids=result.jobs)
    if time.monotonic() >= deadline and ExportRecord.objects.filter(
            organisation_id=organisation_id, state=ExportState.QUEUED).filter(due_filter(timezone.now())).exists():
        with transaction.atomic():
            kick_drains(organisation_id=organisation_id, queued=1)
    log.info("xero.exports.drain organisation=%s calls=%s exported=%s failed=%s rescheduled=%s waiting=%s",
             organisation_id, result.calls, result.exported, result.failed, result.rescheduled, result.waiting)
    return result


def _process_batch(records, resource, connection, organisation_id, deadline, result) -> bool:
    """One claimed batch: pre-flight, look up the in-doubt ones, send the rest. False when the
    drain should stop (no call slot soon: a run is scheduled)."""
    # Every call waits up to XERO_EXPORT_MAX_INLINE_WAIT for its slot in the shared budget;
    # beyond that NoCallSlot says when to come back (the items are put back, a run is scheduled).
    api = api_for(connection, max_wait=xero_config().export_max_inline_wait, deadline=deadline)
    items = []
    try:
        items = _prepare(records, organisation_id=organisation_id, tenant_id=connection.tenant_id, result=result)
        if not items:
            return True
        doubtful = [it for it in items if it.record.in_doubt]
        was_in_doubt = {it.record.pk: it.record.idempotency_key for it in doubtful}
        if doubtful:
            try:
                _lookup(api, resource, doubtful, connection, result, deadline)
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
