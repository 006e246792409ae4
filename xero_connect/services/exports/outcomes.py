"""Outcomes: every write of the ledger after a claim (the state of export records, their
attempts, the webhooks told) — in a constant number of statements whatever the batch holds
(`_write_rows` / `_write_many`: one UPDATE for many rows; `tests/services/test_export_sql_count.py`).

What Xero answered becomes a state here: exported (`_mark_exported`, `_record_elements` with the
totals compared), refused (`_fail`, `_whole_batch_refused`), not answered (`_unavailable`: an
outage is waited out, rule 5 in drain.py), or waiting for the connection (`park_waiting`).
"""
import json
import logging
import random
from datetime import timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Model
from django.utils import timezone

from ... import messages as user_messages
from ... import money
from ...config import xero_config
from ...models import ExportAttempt, ExportRecord, ExportState, TaxRate, WebhookEvent, XeroConnection
from ...xero import errors
from .. import payloads, webhooks_out
from .claims import DrainResult, Item
from .jobs import jobs_refresh

log = logging.getLogger("xero.exports")
Outcome = ExportAttempt.Outcome
# Xero unavailable rather than refusing: waited out (502/503/504; None = no answer at all).
OUTAGE_STATUSES = {None, 502, 503, 504}
# A backoff is stretched by up to this fraction at random, so that workers that failed together
# do not all come back in the same second.
BACKOFF_JITTER = 0.2
# After a timeout (no answer: the request may still be running at Xero) the next try waits at
# least this long, so that a write still in progress there finishes before it is looked up.
TIMEOUT_MIN_DELAY = 1.0  # seconds


def backoff_seconds(attempt: int) -> float:
    base = xero_config().export_backoff_base
    delay = min(xero_config().export_backoff_max, base * (2 ** max(attempt - 1, 0)))
    return delay * (1 + random.random() * BACKOFF_JITTER)


def _outage_wait(items: list[Item], now) -> tuple:
    """(since when Xero has been unavailable for these items, seconds to wait before trying
    again): about as long again as it has been down — 5 s, 10 s, 20 s … — capped at
    XERO_EXPORT_BACKOFF_MAX (5 minutes), for as long as the outage lasts."""
    since = min([it.record.xero_unavailable_since for it in items if it.record.xero_unavailable_since] or [now])
    delay = min(xero_config().export_backoff_max, max(xero_config().export_backoff_base, (now - since).total_seconds()))
    return since, delay


def _attempt(record, outcome, *, messages=(), status=None, key="", now=None, started=None):
    now = now or timezone.now()
    return ExportAttempt(record=record, started_at=started or now, finished_at=now,
                         outcome=outcome, messages=list(messages), http_status=status, idempotency_key=key,
                         actor_id=record.queued_by_id, by_person=record.queued_by_id is not None)


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


def _send_starts(record_ids: list[int], *, key: str, tenant_id: str, now, claimed_by: str) -> int:
    """Before the call: the records carry the batch's Idempotency-Key, the tenant the write
    goes to (where a write in doubt may have landed) and one more attempt
    (the same for the whole batch: one UPDATE; the payload hash is stored with the outcome),
    and each gets an open attempt (no outcome yet: a call in flight) whose actor is the
    record's queued_by (and whether there is one: `by_person`), read by the database, never loaded per document (INSERT … SELECT).
    Only records this claim still holds (`claimed_by`: a claim put back as stale after its lease
    — the worker stalled — has lost them, and another worker may be sending them) are started.
    Returns how many were; the caller sends nothing unless all were.
    One statement on PostgreSQL (a data-modifying CTE), two elsewhere."""
    a, r = ExportAttempt._meta, ExportRecord._meta
    qn = db_connection.ops.quote_name
    cols = ", ".join(qn(a.get_field(c).column)
                     for c in ["record", "started_at", "outcome", "messages", "idempotency_key", "actor",
                               "by_person"])
    started = a.get_field("started_at").get_db_prep_save(now, db_connection)
    record_id, queued_by = qn(r.pk.column), qn(r.get_field("queued_by").column)
    holder = qn(r.get_field("claimed_by").column)
    if db_connection.vendor == "postgresql":
        c = {name: qn(r.get_field(name).column) for name in ("idempotency_key", "tenant_id", "claimed_at",
                                                             "attempts_count", "updated_at")}
        sql = (f"WITH u AS (UPDATE {qn(r.db_table)} SET {c['idempotency_key']} = %s, {c['tenant_id']} = %s, "
               f"{c['claimed_at']} = %s, "
               f"{c['attempts_count']} = {c['attempts_count']} + 1, {c['updated_at']} = %s "
               f"WHERE {record_id} = ANY(%s) AND {holder} = %s RETURNING {record_id}, {queued_by}) "
               f"INSERT INTO {qn(a.db_table)} ({cols}) SELECT u.{record_id}, %s, '', CAST('[]' AS jsonb), %s, "
               f"u.{queued_by}, u.{queued_by} IS NOT NULL FROM u")
        with db_connection.cursor() as cursor:
            cursor.execute(sql, [key, tenant_id, now, now, list(record_ids), claimed_by, now, key])
            return cursor.rowcount
    started_n = ExportRecord.objects.filter(pk__in=record_ids, claimed_by=claimed_by).update(
        idempotency_key=key, tenant_id=tenant_id, claimed_at=now, attempts_count=F("attempts_count") + 1,
        updated_at=now)
    if started_n != len(record_ids):
        return started_n
    sql = (f"INSERT INTO {qn(a.db_table)} ({cols}) SELECT {record_id}, %s, '', '[]', %s, {queued_by}, "
           f"{queued_by} IS NOT NULL "
           f"FROM {qn(r.db_table)} WHERE {record_id} IN ({', '.join(['%s'] * len(record_ids))})")
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [started, key, *record_ids])
    return started_n


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
                delay = max(delay, TIMEOUT_MIN_DELAY)
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
