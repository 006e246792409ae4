"""Putting ledger records in the export queue: one at a time, a selection, a date range,
the failed ones again, and the ones that waited for the connection."""
import logging
import math

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from ... import task_queue
from ...config import xero_config
from ...models import BulkJob, ExportRecord, ExportState, Organisation
from ...selectors.exports import in_other_xero_organisation, range_records
from ..payloads import KINDS
from .jobs import jobs_refresh
from .ledger import ledger_sync

log = logging.getLogger("xero.exports")
# States a person can send (again) without it being a re-export.
SENDABLE = (ExportState.NOT_EXPORTED, ExportState.FAILED, ExportState.WAITING_FOR_CONNECTION,
            ExportState.NEEDS_MAPPING)
UPDATABLE_TYPES = [doc_type for doc_type, kind in KINDS.items() if kind.can_update]


def _base(records):
    """The records as a queryset: a queryset is used as a subquery (one UPDATE however many
    rows), a list of records or ids as an id list."""
    if isinstance(records, QuerySet):
        return ExportRecord.objects.filter(pk__in=records.values("pk"))
    return ExportRecord.objects.filter(pk__in=[r if isinstance(r, int) else r.pk for r in records])


def _per_org(qs) -> dict[int, int]:
    return dict(qs.values("organisation_id").annotate(n=Count("id")).values_list("organisation_id", "n").order_by())


def kick_drains(*, organisation_id: int, queued: int) -> None:
    """After commit, start worker tasks for the organisation's tenant (as many as are useful)."""
    if queued <= 0:
        return
    n = max(1, min(xero_config().export_drains_per_tenant, math.ceil(queued / xero_config().export_batch_size)))
    task_queue.enqueue_on_commit(task_queue.EXPORT_DRAIN, organisation_id, times=n)


@transaction.atomic
def exports_enqueue(*, records, actor, update_existing: bool = False, job: BulkJob | None = None) -> int:
    """Queue records for export. Returns how many were put in the queue.

    - not exported / failed / waiting → queued (a new attempt: its own Idempotency-Key);
    - queued / exporting → left as they are (already on their way);
    - exported → only with `update_existing`: queued to update the document in Xero for
      types Xero lets us update, skipped for the others (payments) — never sent as new;
    - in a Xero organisation other than the one linked now (the organisation switched) → never
      queued, counted as skipped: its Xero id means nothing to the current one. A failed
      update of such a document goes back to "exported" (it is still there), saying why.
    Skipped items are counted on the job. A handful of queries, whatever the number of records.
    """
    base = _base(records)
    now = timezone.now()
    common = dict(state=ExportState.QUEUED, queued_by=actor, queued_at=now, next_attempt_at=now,
                  attempts_count=0, last_error="", generation=F("generation") + 1, lookups_failed=0,
                  xero_unavailable_since=None)
    if job is not None:
        common["job"] = job
    fresh = base.filter(state__in=SENDABLE)
    elsewhere = in_other_xero_organisation()
    fresh.filter(elsewhere).update(
        state=ExportState.EXPORTED, update_existing=False, in_doubt=False,
        last_error="Not sent again: this document is in the Xero organisation this organisation was linked to "
                   "before, and stays there. The Xero organisation linked now does not have it.")
    fresh = base.filter(state__in=SENDABLE)
    updatable = (base.filter(state=ExportState.EXPORTED, doc_type__in=UPDATABLE_TYPES).exclude(xero_id="")
                 .exclude(elsewhere))
    orgs = _per_org(fresh)
    if update_existing:
        for org_id, n in _per_org(updatable).items():
            orgs[org_id] = orgs.get(org_id, 0) + n
    considered = base.count()
    on_their_way = base.filter(state__in=(ExportState.QUEUED, ExportState.EXPORTING))
    taken_over = set()
    if job is not None:
        # Items already on their way join the new job; the jobs they leave are counted again
        # below (one with nothing left is finished, not left "running").
        moving = on_their_way.exclude(job=job)
        taken_over = set(moving.order_by().values_list("job_id", flat=True).distinct())
        if taken_over:  # (one read of the range either way: no UPDATE when nothing moves)
            moving.update(job=job)
        taken_over.discard(None)
    queued = 0
    if update_existing:
        queued += updatable.update(update_existing=True, **common)
    # A failed update of a document already in Xero stays an update.
    queued += fresh.exclude(xero_id="").update(update_existing=True, **common)
    queued += fresh.filter(xero_id="").update(update_existing=False, **common)
    skipped = base.filter(state=ExportState.EXPORTED).count()
    if job is not None:
        BulkJob.objects.filter(pk=job.pk).update(total=F("total") + (considered - skipped),
                                                 skipped=F("skipped") + skipped)
        job.refresh_from_db()
        jobs_refresh(job_ids=[job.pk, *taken_over])
    for org_id, n in orgs.items():
        kick_drains(organisation_id=org_id, queued=n)
    log.info("xero.exports.enqueued records=%s queued=%s skipped=%s job=%s", considered, queued, skipped,
             job.pk if job else None)
    return queued


def _new_job(*, organisation, actor, kind, params) -> BulkJob:
    return BulkJob.objects.create(organisation=organisation, actor=actor, kind=kind, params=params)


def exports_enqueue_selected(*, organisation, actor, record_ids, update_existing=False) -> BulkJob:
    """"Export selected" (or re-export them): one job over the chosen records of the organisation."""
    kind = BulkJob.Kind.REEXPORT if update_existing else BulkJob.Kind.EXPORT_SELECTED
    job = _new_job(organisation=organisation, actor=actor, kind=kind, params={"records": len(record_ids)})
    records = ExportRecord.objects.filter(organisation=organisation, pk__in=list(record_ids))
    exports_enqueue(records=records, actor=actor, update_existing=update_existing, job=job)
    return job


def exports_enqueue_range(*, organisation, actor, date_from, date_to, doc_types=None, job=None,
                          update_existing: bool = False) -> BulkJob:
    """"Export everything not yet exported in this range" (not exported, or waiting for the
    connection). Failed items are left to "Retry failed", which says what went wrong first.
    With `update_existing`, the documents already in Xero in the range are re-exported too."""
    ledger_sync(organisation=organisation)
    params = {"date_from": date_from.isoformat() if date_from else None,
              "date_to": date_to.isoformat() if date_to else None,
              "doc_types": list(doc_types or []), "update_existing": update_existing}
    job = job or _new_job(organisation=organisation, actor=actor,
                          kind=BulkJob.Kind.REEXPORT if update_existing else BulkJob.Kind.EXPORT_RANGE,
                          params=params)
    wanted = [ExportState.NOT_EXPORTED, ExportState.WAITING_FOR_CONNECTION, ExportState.NEEDS_MAPPING]
    if update_existing:
        wanted.append(ExportState.EXPORTED)
    records = range_records(organisation=organisation, date_from=date_from, date_to=date_to,
                            doc_types=doc_types).filter(state__in=wanted)
    exports_enqueue(records=records, actor=actor, update_existing=update_existing, job=job)
    job.refresh_from_db()
    return job


def exports_retry_failed(*, organisation, actor, job=None, date_from=None, date_to=None, doc_types=None) -> BulkJob:
    """"Retry failed": every failed item of the organisation (optionally within a range)."""
    job = job or _new_job(organisation=organisation, actor=actor, kind=BulkJob.Kind.RETRY_FAILED,
                          params={"date_from": date_from.isoformat() if date_from else None,
                                  "date_to": date_to.isoformat() if date_to else None})
    records = range_records(organisation=organisation, date_from=date_from, date_to=date_to,
                            doc_types=doc_types).filter(state=ExportState.FAILED)
    exports_enqueue(records=records, actor=actor, job=job)
    job.refresh_from_db()
    return job


@transaction.atomic
def exports_release_waiting(*, organisation, actor=None, state=ExportState.WAITING_FOR_CONNECTION) -> int:
    """After a (re)connect: items waiting for the connection go back in the queue and out, with
    nobody pressing anything. The same intent as before, so the same generation (key).
    `state` names what they waited for (NEEDS_MAPPING: see exports_release_needs_mapping)."""
    now = timezone.now()
    waiting = ExportRecord.objects.filter(organisation=organisation, state=state)
    job_ids = list(waiting.exclude(job=None).values_list("job_id", flat=True).distinct())
    n = waiting.update(state=ExportState.QUEUED, next_attempt_at=now, last_error="")
    if job_ids:
        jobs_refresh(job_ids=job_ids)
    log.info("xero.exports.released organisation=%s records=%s state=%s", organisation.pk, n, state)
    kick_drains(organisation_id=organisation.pk, queued=n)
    return n


def exports_release_needs_mapping(*, organisation, actor=None) -> int:
    """After a mapping is confirmed (or the chart refreshed): items that waited as "Needs
    mapping" go back in the queue; pre-flight resolves them again, and those still unmapped
    wait again without a call to Xero."""
    return exports_release_waiting(organisation=organisation, actor=actor, state=ExportState.NEEDS_MAPPING)


def due_filter(now) -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def organisations_with(records) -> list[int]:
    """Ids of the organisations holding at least one of `records` (an ExportRecord queryset in a
    work state — queued, exporting, waiting — not yet narrowed to an organisation): one look-up
    per organisation through an index that starts with the organisation and the state (the
    ledger's queue index, or its day index for the other states), so the cost follows the
    number of organisations, never the ledger's size, whatever the planner's statistics say."""
    # A correlated subquery with LIMIT 1 (not EXISTS, which the planner may turn into a hash join
    # over every matching record): run once per organisation, with the organisation in the index
    # condition.
    first = records.filter(organisation_id=OuterRef("pk")).order_by().values("pk")[:1]
    return list(Organisation.objects.annotate(first_record=Subquery(first)).filter(first_record__isnull=False)
                .order_by("pk").values_list("pk", flat=True))
