"""Claims: which records a worker holds, and the key they are sent under (rules 1 and 2 of the
drain, see drain.py).

- `_claim` takes a batch in one `UPDATE … SET state=exporting WHERE id IN (…)`: the candidates are
  chosen `state=queued … FOR UPDATE SKIP LOCKED` on PostgreSQL (which re-checks the state on each
  row it locks), checked `state=queued` again in the UPDATE on SQLite; with the in-doubt records'
  batch mates;
- `idempotency_key` is derived from the tenant, the resource and each record's id, generation and
  payload hash: the same batch rebuilt gives the same key;
- `exports_recover_stale` puts back the claims of a worker that died (in doubt if a call was in
  flight); `_original_batches` regroups in-doubt records into the request they first went in.
"""
import hashlib
import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from ...config import xero_config
from ...models import DocumentLine, DocumentType, ExportAttempt, ExportRecord, ExportState
from .. import payloads
from .enqueue import due_filter, organisations_with

log = logging.getLogger("xero.exports")
Outcome = ExportAttempt.Outcome
WORKER_ID = f"{socket.gethostname()}:{uuid.uuid4().hex[:6]}"
# The key scheme's mark ("xc", version 1). Xero takes an Idempotency-Key of up to 128 characters
# (XERO_FACTS.md, "Idempotency-Key"): 4 + 64 hex digits of SHA-256. Changing it would give every
# in-doubt batch a new key, so a resend could land twice.
IDEMPOTENCY_KEY_PREFIX = "xc1-"
# Due records whose resources _next_resource looks at (4 batches' worth): the next resource is
# chosen among them, so the choice reads a bounded part of the queue.
NEXT_RESOURCE_LOOKAHEAD = 200
# Stale claims put back per call of exports_recover_stale (every loop bounded): a drain calls it
# every XERO_EXPORT_PERIODIC_SECONDS and the sweeper once a minute, so more are taken next time.
STALE_RECOVERY_MAX = 5000
# Columns of a claimed record and its document that no step of the export (prepare, payloads,
# lookups, outcomes, webhooks_out) reads or writes: the drift check's and the bookkeeper's
# acceptance of a change made in Xero, and the document's timestamps. Not loaded with the batch
# (reading one would cost a query per record: tests/services/test_export_sql_count.py counts).
CLAIM_UNREAD = ("xero_drift", "xero_status", "xero_amount_paid", "xero_amount_due", "drift_total_before",
                "drift_total_after", "xero_updated_at", "xero_seen_at", "accepted_at", "accepted_by",
                "accepted_status", "accepted_total", "drift_note", "replaced_by",
                "document__created_at", "document__updated_at")


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
    # The lists the pre-flight compares with, and the contacts' Xero ids, read once per drain:
    # tenant id → selectors.preflight.PreflightLists (see prepare._preflight for how fresh).
    preflight_lists: dict = field(default_factory=dict)


@dataclass
class Item:
    record: ExportRecord
    element: dict | None = None
    payload_hash: str = ""


def idempotency_key(*, tenant_id: str, resource: str, method: str, items: list[Item]) -> str:
    """Deterministic: the same records, generations and payloads always give the same key."""
    parts = [tenant_id, resource, method] + [
        f"{it.record.pk}.{it.record.generation}.{it.payload_hash}" for it in sorted(items, key=lambda i: i.record.pk)]
    return IDEMPOTENCY_KEY_PREFIX + hashlib.sha256("|".join(parts).encode()).hexdigest()


def exports_recover_stale(*, organisation_id: int | None = None) -> int:
    """Records found "exporting" with a claim older than the lease: their worker died. Those
    with a call in flight are in doubt (looked up in Xero before sending again); the others
    simply go back in the queue. Without `organisation_id`, every organisation's (found one
    organisation at a time, by an index that starts with the organisation and the state).
    Returns how many were recovered (at most STALE_RECOVERY_MAX per call)."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=xero_config().export_claim_lease)
    stale = ExportRecord.objects.filter(state=ExportState.EXPORTING, claimed_at__lt=cutoff)
    org_ids = [organisation_id] if organisation_id else organisations_with(stale)
    recovered = 0
    for org_id in org_ids:
        recovered += _recover(stale.filter(organisation_id=org_id), now=now,
                              limit=STALE_RECOVERY_MAX - recovered)
        if recovered >= STALE_RECOVERY_MAX:
            break
    return recovered


def _recover(stale, *, now, limit: int) -> int:
    ids = list(stale.values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    with transaction.atomic():
        in_flight = set(ExportAttempt.objects.filter(record_id__in=ids, outcome="").values_list("record_id", flat=True))
        base = stale.filter(pk__in=ids)
        base.filter(pk__in=in_flight).update(state=ExportState.QUEUED, in_doubt=True, next_attempt_at=now,
                                             claimed_by="")
        base.exclude(pk__in=in_flight).update(state=ExportState.QUEUED, next_attempt_at=now, claimed_by="")
        ExportAttempt.objects.filter(record_id__in=in_flight, outcome="").update(
            outcome=Outcome.ERROR, finished_at=now,
            messages=["The worker stopped while this was being sent. Xero is checked for it before it is sent again."])
    log.warning("xero.exports.recovered_stale records=%s in_doubt=%s", len(ids), len(in_flight))
    return len(ids)


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
            _by_pk(mates, state=ExportState.QUEUED).update(state=ExportState.EXPORTING, claimed_at=now,
                                                           claimed_by=token)
            ids += mates
    lines = Prefetch("document__lines", queryset=DocumentLine.objects.order_by("position", "id"))
    related = ["document"]
    if DocumentType.PAYMENT in doc_types:  # a payment needs the Xero id of the invoice it pays
        related.append("document__paid_document__export_record")
    # Read by primary key (the ids just claimed; `claimed_by` still decides which are ours),
    # without the columns no step of the export reads. The state is checked here, not in SQL
    # (see _by_pk).
    return [r for r in ExportRecord.objects.filter(pk__in=ids, claimed_by=token).select_related(*related)
            .defer(*CLAIM_UNREAD).prefetch_related(lines).order_by("pk") if r.state == ExportState.EXPORTING]


def _by_pk(ids, *, state: str):
    """Records `ids`, known to be in `state` because this transaction locked them so (SELECT …
    FOR UPDATE SKIP LOCKED, PostgreSQL): reached by primary key. A `state = …` condition
    would be true and, worse, would offer the planner the partial queue index: with statistics
    taken while the queue was empty it believes one record is queued and scans the whole index
    (every organisation's queue) instead of 50 primary keys. SQLite takes no row locks, so
    there the state is still checked (one writer at a time: the check and the write agree)."""
    records = ExportRecord.objects.filter(pk__in=ids)
    return records if db_connection.features.has_select_for_update_skip_locked else records.filter(state=state)


def _claim_update(candidates, *, now, token: str) -> list[tuple]:
    """Take the `candidates` (a queryset of pks, locked with SKIP LOCKED on PostgreSQL) in one
    statement: UPDATE … SET state=exporting WHERE id IN (candidates) RETURNING (id, in_doubt,
    idempotency_key). PostgreSQL and SQLite ≥ 3.35 both run it."""
    meta = ExportRecord._meta
    qn = db_connection.ops.quote_name
    sub_sql, sub_params = candidates.query.sql_with_params()
    col = {name: qn(meta.get_field(name).column) for name in ("state", "claimed_at", "claimed_by", "in_doubt",
                                                                "idempotency_key")}
    pk = qn(meta.pk.column)
    table = qn(meta.db_table)
    # MATERIALIZED: the candidates are chosen once (as an IN (subquery) PostgreSQL may run the
    # LIMITed, SKIP LOCKED subquery again per row and take more than the batch).
    # On PostgreSQL the rows are then reached by primary key alone (= ANY(ARRAY(…))): they are
    # locked, and FOR UPDATE re-checked `state = queued` on each. With a state condition here too,
    # and statistics older than a large enqueue (few "queued" rows as far as the planner knows),
    # it read every queued record through an index holding the state at each claim — 20–60 ms
    # of the server's CPU per batch (see _by_pk). SQLite, which locks no rows, checks the state.
    if db_connection.features.has_select_for_update_skip_locked:
        ours, params = "= ANY(ARRAY(SELECT c.pk FROM c))", []
    else:
        ours, params = f"IN (SELECT c.pk FROM c) AND {table}.{col['state']} = %s", [ExportState.QUEUED]
    sql = (f"WITH c AS MATERIALIZED ({sub_sql}) "
           f"UPDATE {table} SET {col['state']} = %s, {col['claimed_at']} = %s, {col['claimed_by']} = %s "
           f"WHERE {table}.{pk} {ours} "
           f"RETURNING {table}.{pk}, {table}.{col['in_doubt']}, {table}.{col['idempotency_key']}")
    claimed_at = meta.get_field("claimed_at").get_db_prep_save(now, db_connection)
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*sub_params, ExportState.EXPORTING, claimed_at, token, *params])
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
    """The resource to send next for the organisation, as (resource, its doc types), or None when
    nothing is due. Invoices first (payments need their invoice's Xero id), among the resources of
    the next NEXT_RESOURCE_LOOKAHEAD due records in queue order: two reads of at most that many
    entries of the queue index (due by time, and never scheduled), whatever the queue holds. A
    check per resource read the whole queue when it held none of the resource asked for (a queue
    of payments, asked for invoices). The order is best effort: a payment claimed before its
    invoice is deferred by the pre-flight, not failed."""
    now = timezone.now()
    queued = ExportRecord.objects.filter(organisation_id=organisation_id, state=ExportState.QUEUED).order_by(
        "next_attempt_at", "pk").values_list("doc_type", flat=True)
    present = set(queued.filter(next_attempt_at__lte=now)[:NEXT_RESOURCE_LOOKAHEAD])
    present |= set(queued.filter(next_attempt_at__isnull=True)[:NEXT_RESOURCE_LOOKAHEAD])
    for resource in payloads.RESOURCE_ORDER:
        types = list(payloads.DOC_TYPES_BY_RESOURCE[resource])
        if present.intersection(types):
            return resource, types
    return None


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
        # A request's elements are one organisation's (the key has no index: this rare path reads
        # that organisation's ledger through an index that starts with it, not every ledger).
        organisation_id = items[0].record.organisation_id
        for key, pk in ExportRecord.objects.filter(organisation_id=organisation_id, idempotency_key__in=list(by_key)
                                                   ).values_list("idempotency_key", "pk"):
            members.setdefault(key, set()).add(pk)
    # A group with a member found in Xero (so that request was answered) or elsewhere goes
    # with the rest, under a new key.
    batches = [group for key, group in by_key.items() if {it.record.pk for it in group} == members.get(key)]
    in_groups = {id(it) for group in batches for it in group}
    rest = [it for it in items if id(it) not in in_groups]
    size = xero_config().export_batch_size
    return batches + [rest[i:i + size] for i in range(0, len(rest), size)]
