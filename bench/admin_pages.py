#!/usr/bin/env python
"""Benchmark: the Django admin's ledger (export records) and documents changelists at 100,000 rows.

Prints the SQL queries and the server time per page (Django handling the request in-process) for
the first page, a deep page, a state filter and a search, as a staff superuser. Goal (issue #18):
p50 < 200 ms at 100,000 rows.

    .venv/bin/python bench/admin_pages.py                      # SQLite, 100,000 records
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:55432/xc_18_admin .venv/bin/python bench/admin_pages.py

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
    parser.add_argument("--repeat", type=int, default=5, help="Requests per page shape (median reported).")
    args = parser.parse_args()

    workdir = django_for_bench("xc-bench-admin-", DEBUG="true")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from xero_connect.models import DocumentType, ExportRecord, ExportState, Organisation, SourceDocument

    orgs = [Organisation.objects.create(name=f"Ledger {i} Ltd", slug=f"ledger-{i}") for i in range(20)]
    user = get_user_model().objects.create_user("olive", password="x", is_staff=True, is_superuser=True)
    print(f"creating {args.records:,} documents and ledger records …", flush=True)
    t = time.perf_counter()
    types = [DocumentType.SALES_INVOICE] * 5 + [DocumentType.BILL] * 3 + [DocumentType.PAYMENT,
                                                                            DocumentType.MANUAL_JOURNAL]
    states = [ExportState.EXPORTED] * 7 + [ExportState.NOT_EXPORTED, ExportState.FAILED, ExportState.QUEUED]
    today = timezone.localdate()
    for start in range(0, args.records, 5000):
        docs = SourceDocument.objects.bulk_create([SourceDocument(
            organisation=orgs[i % len(orgs)], doc_type=types[i % len(types)], number=f"N-{i:07d}",
            date=today - timezone.timedelta(days=i % 720), contact_name=f"Customer {i % 997}", total=100 + i % 50)
            for i in range(start, min(args.records, start + 5000))], batch_size=1000)
        ExportRecord.objects.bulk_create([ExportRecord(
            organisation_id=d.organisation_id, document=d, doc_type=d.doc_type, doc_date=d.date,
            state=states[n % len(states)],
            xero_id=f"00000000-0000-4000-8000-{n:012d}" if states[n % len(states)] == ExportState.EXPORTED else "")
            for n, d in enumerate(docs, start=start)], batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  done in {time.perf_counter() - t:.1f}s", flush=True)

    client = Client()
    client.force_login(user)
    pages = {
        "ledger: first page": ("exportrecord", {}),
        "ledger: deep page (p=500)": ("exportrecord", {"p": 500}),
        "ledger: filter state=failed": ("exportrecord", {"state__exact": "failed"}),
        "ledger: search a document number": ("exportrecord", {"q": "N-0054321"}),
        "ledger: search a Xero id": ("exportrecord", {"q": "00000000-0000-4000-8000-000000054320"}),
        "documents: first page": ("sourcedocument", {}),
        "documents: deep page (p=500)": ("sourcedocument", {"p": 500}),
        "documents: filter doc type=bill": ("sourcedocument", {"doc_type__exact": "bill"}),
        "documents: search a number": ("sourcedocument", {"q": "N-0054321"}),
    }
    print(f"\nDjango admin changelists, {args.records:,} rows ({connection.vendor}); goal p50 < 200 ms")
    # "cpu ms": this process's CPU, which holds SQLite's work but not PostgreSQL's (its server's backend).
    print(f"{'page':40} {'queries':>7} {'p50 ms':>8} {'max ms':>8} {'cpu ms':>8} {'rows':>5}")
    for label, (model, params) in pages.items():
        url = reverse(f"admin:xero_connect_{model}_changelist")
        client.get(url, params)  # warm up
        times, cpu, queries, rows = [], [], set(), 0
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as ctx:
                start, start_cpu = time.perf_counter(), time.process_time()
                response = client.get(url, params)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            assert response.status_code == 200, (label, response.status_code)
            queries.add(len(ctx.captured_queries))
            rows = response.content.decode().count('class="action-select"')
        print(f"{label:40} {'/'.join(map(str, sorted(queries))):>7} {statistics.median(times):8.1f} "
              f"{max(times):8.1f} {statistics.median(cpu):8.1f} {rows:5d}")
    connection.close()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
