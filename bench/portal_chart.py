#!/usr/bin/env python
"""Benchmark: the portal's 30-day picture (selectors.portal.daily_activity) for a page of
organisations, one of which (`--big N`: N of which) has a 100,000-row ledger exported in the last
30 days (and as many attempts, 2 % of them failed). Goal (issue #18): p50 < 150 ms.

The picture reads only the page's organisations, by an index that starts with the organisation,
so organisations off the page (a vendor's other 2,000) add nothing but the index's depth:
`--others 1975` puts them in the database (each with `--others-records` rows).

    .venv/bin/python bench/portal_chart.py                      # SQLite
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:55432/xc_18_portal .venv/bin/python bench/portal_chart.py

Uses its own throw-away SQLite database unless BENCH_DATABASE_URL names an (empty, existing)
PostgreSQL database. Run by hand; not a test.
"""
import argparse
import shutil
import statistics
import time

from _django import django_for_bench


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--organisations", type=int, default=25, help="Organisations on the portal's page.")
    parser.add_argument("--big", type=int, default=1, help="Organisations on the page with a full ledger.")
    parser.add_argument("--others", type=int, default=0,
                        help="Organisations off the page (a vendor's others), each with --others-records rows.")
    parser.add_argument("--others-records", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    workdir = django_for_bench("xc-bench-portal-")
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from xero_connect.models import (DocumentType, ExportAttempt, ExportRecord, ExportState, Organisation,
                                     SourceDocument)
    from xero_connect.selectors.portal import daily_activity

    orgs = [Organisation.objects.create(name=f"Client {i}", slug=f"client-{i}") for i in range(args.organisations)]
    others = Organisation.objects.bulk_create([Organisation(name=f"Other {i}", slug=f"other-{i}")
                                               for i in range(args.others)])
    big = orgs[0]
    now = timezone.now()
    print(f"creating {args.big} × {args.records:,}-row ledger with as many attempts"
          + (f", and {args.others:,} organisations off the page × {args.others_records:,}" if args.others else "")
          + " …", flush=True)
    t = time.perf_counter()
    ledgers = [(owner, args.records) for owner in orgs[:args.big]] + [(o, args.others_records) for o in others]
    for owner, size in ledgers:
        for start in range(0, size, 5000):
            docs = SourceDocument.objects.bulk_create([SourceDocument(
                organisation=owner, doc_type=DocumentType.SALES_INVOICE, number=f"N-{i:07d}",
                date=(now - timedelta(days=i % 30)).date()) for i in range(start, min(size, start + 5000))])
            records = ExportRecord.objects.bulk_create([ExportRecord(
                organisation=owner, document=d, doc_type=d.doc_type, doc_date=d.date, state=ExportState.EXPORTED,
                exported_at=now - timedelta(hours=n % 720)) for n, d in enumerate(docs, start=start)])
            ExportAttempt.objects.bulk_create([ExportAttempt(
                record=r, started_at=r.exported_at, finished_at=r.exported_at,
                outcome=ExportAttempt.Outcome.VALIDATION_FAILED if n % 50 == 0 else ExportAttempt.Outcome.EXPORTED)
                for n, r in enumerate(records, start=start)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  done in {time.perf_counter() - t:.1f}s", flush=True)
    ids = [o.pk for o in orgs]

    def timed(label):
        daily_activity(ids)  # warm up
        times, cpu = [], []
        for _ in range(args.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            pictures = daily_activity(ids)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        exported, failed = sum(pictures[big.pk][0]), sum(pictures[big.pk][1])
        # This process's CPU holds SQLite's work, not PostgreSQL's (its server's backend).
        print(f"{label:34} p50 {statistics.median(times):7.1f} ms  max {max(times):7.1f} ms  "
              f"process CPU p50 {statistics.median(cpu):7.1f} ms  "
              f"({exported:,} exports, {failed:,} failures in 30 days)")

    print(f"\nportal 30-day picture, {len(ids)} organisations on the page, {args.big} with {args.records:,} "
          f"records; {args.others:,} more organisations, {ExportRecord.objects.count():,} ledger rows in all "
          f"({connection.vendor}); goal p50 < 150 ms")
    timed("daily_activity for the page")
    connection.close()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
