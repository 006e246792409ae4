"""Export (or re-export) an organisation's documents in a date range, with a progress bar.

    manage.py export_documents --org kowhai-coffee --from 2026-10-01 --to 2026-11-30
    manage.py export_documents --org kowhai-coffee --reexport          # update what is in Xero
    manage.py export_documents --org kowhai-coffee --retry-failed
    manage.py export_documents --org kowhai-coffee --no-wait           # queue only; the worker sends

By default it sends the items itself in this process (no worker needed) and waits until the job
is finished, drawing a progress bar; with --no-wait the django-q2 worker does the sending.
"""
import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from ...models import BulkJob, Organisation
from ...selectors.exports import default_range, job_progress
from ...services import exports


def _date(value):
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value}") from exc


class Command(BaseCommand):
    help = "Export documents of one organisation to Xero for a date range, showing progress."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organisation slug.")
        parser.add_argument("--from", dest="date_from", help="First date (YYYY-MM-DD). Default: start of last month.")
        parser.add_argument("--to", dest="date_to", help="Last date (YYYY-MM-DD). Default: end of this month.")
        parser.add_argument("--type", dest="doc_types", action="append", help="Only this document type (repeatable).")
        parser.add_argument("--reexport", action="store_true",
                            help="Also re-export documents already in Xero (updates them; payments are skipped).")
        parser.add_argument("--retry-failed", action="store_true", help="Queue the failed items again instead.")
        parser.add_argument("--no-wait", action="store_true", help="Only queue; a running worker sends them.")
        parser.add_argument("--timeout", type=float, default=3600, help="Give up waiting after this many seconds.")

    def handle(self, *args, **opts):
        organisation = Organisation.objects.filter(slug=opts["org"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug {opts['org']!r}.")
        default_from, default_to = default_range(date.today())
        date_from = _date(opts["date_from"]) or default_from
        date_to = _date(opts["date_to"]) or default_to
        if opts["retry_failed"]:
            job = exports.exports_retry_failed(organisation=organisation, actor=None, date_from=date_from,
                                               date_to=date_to)
        else:
            job = exports.exports_enqueue_range(organisation=organisation, actor=None, date_from=date_from,
                                                date_to=date_to, doc_types=opts["doc_types"],
                                                update_existing=opts["reexport"])
        self.stdout.write(f"{organisation.name}: {job.total} item(s) queued ({date_from} – {date_to})"
                          + (f", {job.skipped} skipped" if job.skipped else "") + ".")
        if opts["no_wait"] or not job.total:
            return
        deadline = time.monotonic() + opts["timeout"]
        while time.monotonic() < deadline:
            # Send from this process; a worker running at the same time shares the work safely.
            exports.exports_drain(organisation_id=organisation.pk, max_seconds=2)
            job.refresh_from_db()
            progress = job_progress(job)
            self._bar(progress)
            if progress["finished"]:
                break
            time.sleep(0.2)
        self.stdout.write("")
        job.refresh_from_db()
        if job.status != BulkJob.Status.DONE:
            self.stdout.write(self.style.WARNING("Still running: the worker carries on; see the Export Data page."))
        else:
            self.stdout.write(self.style.SUCCESS(job.summary))

    def _bar(self, p):
        width = 30
        filled = int(width * p["percent"] / 100)
        line = (f"\r[{'#' * filled}{'.' * (width - filled)}] {p['percent']:3d}%  exported {p['done']}  "
                f"failed {p['failed']}  waiting {p['waiting']}  to go {p['pending']}   ")
        self.stdout.write(line, ending="")
        self.stdout.flush()
