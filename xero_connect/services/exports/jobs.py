"""Bulk jobs of the export area: the counts a progress bar shows, and the summary at the end."""
from django.db.models import Count
from django.utils import timezone

from ...models import BulkJob, ExportRecord, ExportState
from ...selectors.exports import EXPORT_JOB_KINDS

PENDING = (ExportState.QUEUED, ExportState.EXPORTING)


def job_counts(job: BulkJob) -> dict[str, int]:
    """Live counts of the job's records by state (one query)."""
    rows = ExportRecord.objects.filter(job=job).values("state").annotate(n=Count("id")).order_by()
    return {row["state"]: row["n"] for row in rows}


def job_summary(job: BulkJob) -> str:
    if not job.total:
        return ("Nothing to send: " + (f"{job.skipped} already in Xero (skipped)." if job.skipped
                                       else "no items needed exporting."))
    parts = [f"{job.done} exported"]
    if job.failed:
        parts.append(f"{job.failed} failed (see the reason on each; fix and press Retry failed)")
    if job.waiting:
        parts.append(f"{job.waiting} waiting for the Xero connection (they go out by themselves after a reconnect)")
    needs_mapping = ExportRecord.objects.filter(job=job, state=ExportState.NEEDS_MAPPING).count()
    if needs_mapping:
        parts.append(f"{needs_mapping} waiting as “Needs mapping” (they go out by themselves once an Admin maps "
                     f"their categories)")
    if job.skipped:
        parts.append(f"{job.skipped} skipped")
    return ", ".join(parts) + "."


def jobs_refresh(*, job_ids) -> int:
    """Store each job's counts; a job with nothing queued or being sent is done. Returns how
    many records were counted (the cost: one index-only count per job, in the job's size)."""
    counted = 0
    for job in BulkJob.objects.filter(pk__in=set(j for j in job_ids if j)):
        counts = job_counts(job)
        counted += sum(counts.values())
        job.done = counts.get(ExportState.EXPORTED, 0)
        job.failed = counts.get(ExportState.FAILED, 0)
        job.waiting = counts.get(ExportState.WAITING_FOR_CONNECTION, 0)
        pending = sum(counts.get(s, 0) for s in PENDING)
        fields = ["done", "failed", "waiting"]
        if pending == 0:
            if job.status != BulkJob.Status.DONE or job.finished_at is None:
                job.finished_at = timezone.now()
            job.status = BulkJob.Status.DONE
            job.summary = job_summary(job)
            fields += ["status", "finished_at", "summary"]
        else:
            # Items released after a reconnect bring a finished job back to life.
            job.status = BulkJob.Status.RUNNING
            job.started_at = job.started_at or timezone.now()
            fields += ["status", "started_at"]
        job.save(update_fields=fields)
    return counted


def jobs_finish_if_done(*, job_ids) -> None:
    """Refresh the jobs among `job_ids` that have nothing left queued or being sent (which
    finishes them, with their summary): one EXISTS each through the (job, state) index, bounded
    whatever the job's size; a job still under way is not counted here (see
    drain.JOB_COUNT_RECORDS_PER_SECOND)."""
    done = [job_id for job_id in set(job_ids) if job_id and not ExportRecord.objects.filter(
        job_id=job_id, state__in=PENDING).exists()]
    if done:
        jobs_refresh(job_ids=done)


# Running export jobs looked at per sweep (every loop bounded; the rest next minute).
STRANDED_JOBS_MAX = 2000


def jobs_finish_stranded() -> None:
    """The sweeper's safety net: export jobs still "running" with nothing left to send — their
    last records were finished by a run that knew them under another job, or taken over by a
    newer job — are counted and finished (one EXISTS per running job, at most
    STRANDED_JOBS_MAX)."""
    running = BulkJob.objects.filter(status=BulkJob.Status.RUNNING, kind__in=EXPORT_JOB_KINDS).order_by("pk")
    jobs_finish_if_done(job_ids=list(running.values_list("pk", flat=True)[:STRANDED_JOBS_MAX]))
