"""A job's stored counts: finished and counted as soon as nothing of it is left to send, and
never counted per batch (a job's count reads all of its records, so counting per batch made a
job's cost grow with the square of its size — issue #18). The progress bar counts live."""
from datetime import timedelta

from django.db import connection as db_connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.fakes import records
from tests.services.test_exports import connection, drain, fast_limits, make_invoice, xero  # noqa: F401 (fixtures)
from xero_connect.models import BulkJob, ExportState
from xero_connect.selectors.exports import job_progress
from xero_connect.services import exports


def _job_counts(ctx) -> int:
    """Statements that counted a job's records by state."""
    return sum(1 for q in ctx.captured_queries if q["sql"].startswith("SELECT") and "COUNT(" in q["sql"]
               and '"job_id" =' in q["sql"] and "GROUP BY" in q["sql"])


def test_a_job_is_finished_and_counted_once_when_its_last_batch_is_sent(org, admin_user, connection, xero):
    for i in range(160):
        make_invoice(org, f"INV-{i:04d}")
    job = exports.exports_enqueue_range(organisation=org, actor=admin_user, date_from=None, date_to=None)
    with override_settings(XERO_EXPORT_PERIODIC_SECONDS=3600), CaptureQueriesContext(db_connection) as ctx:
        result = drain(org)
    assert result.calls == 4 and result.exported == 160
    job.refresh_from_db()
    assert job.status == BulkJob.Status.DONE and job.done == 160 and job.summary.startswith("160 exported")
    assert _job_counts(ctx) == 1, [q["sql"][:120] for q in ctx.captured_queries if "COUNT(" in q["sql"]]


def test_a_job_still_under_way_is_not_counted_at_the_end_of_a_run_but_shows_live(org, admin_user, connection, xero):
    for i in range(60):
        make_invoice(org, f"INV-{i:04d}")
    job = exports.exports_enqueue_range(organisation=org, actor=admin_user, date_from=None, date_to=None)
    later = timezone.now() + timedelta(hours=1)
    waiting_ids = list(records(org).order_by("pk").values_list("pk", flat=True)[:10])
    records(org).filter(pk__in=waiting_ids).update(next_attempt_at=later)  # due in an hour (a backoff)
    with CaptureQueriesContext(db_connection) as ctx:
        result = drain(org)
    assert result.exported == 50
    assert _job_counts(ctx) == 0
    job.refresh_from_db()
    assert job.status == BulkJob.Status.RUNNING
    progress = job_progress(job)  # what the person sees: live
    assert (progress["done"], progress["pending"], progress["finished"]) == (50, 10, False)

    records(org).filter(pk__in=waiting_ids).update(next_attempt_at=timezone.now())
    drain(org)
    job.refresh_from_db()
    assert (job.status, job.done) == (BulkJob.Status.DONE, 60)
    assert not records(org).exclude(state=ExportState.EXPORTED).exists()


def test_a_job_whose_items_a_newer_job_took_over_is_finished_not_left_running(org, admin_user, connection, xero,
                                                                               django_capture_on_commit_callbacks):
    for i in range(3):
        make_invoice(org, f"INV-{i:04d}")
    with django_capture_on_commit_callbacks(execute=False):  # no worker runs: the items stay queued
        first = exports.exports_enqueue_range(organisation=org, actor=admin_user, date_from=None, date_to=None)
        second = exports.exports_enqueue_selected(organisation=org, actor=admin_user,
                                                  record_ids=list(records(org).values_list("pk", flat=True)))
    first.refresh_from_db()
    assert first.status == BulkJob.Status.DONE  # nothing of it is left: its items go with the newer job
    assert set(records(org).values_list("job_id", flat=True)) == {second.pk}
    drain(org)
    second.refresh_from_db()
    assert (second.status, second.done) == (BulkJob.Status.DONE, 3)


def test_the_sweeper_finishes_a_running_job_with_nothing_left_to_send(org, admin_user, connection, xero):
    for i in range(3):
        make_invoice(org, f"INV-{i:04d}")
    job = exports.exports_enqueue_range(organisation=org, actor=admin_user, date_from=None, date_to=None)
    drain(org)
    # As when its last records were finished by a run that knew them under another job.
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING, done=0, summary="")
    exports.exports_sweep()
    job.refresh_from_db()
    assert (job.status, job.done) == (BulkJob.Status.DONE, 3) and job.summary.startswith("3 exported")
