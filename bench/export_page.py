#!/usr/bin/env python
"""Benchmark: the Export Data page for an organisation with 100,000 ledger records.

Prints the SQL queries per page (must not grow with the rows) and the server time per page
(Django handling the request in-process: middleware, view, queries, template), for the first
page, a deep page, a state filter, a search, and one section.

    .venv/bin/python bench/export_page.py                 # 100,000 records
    .venv/bin/python bench/export_page.py --records 20000 --repeat 5

Uses its own throw-away SQLite database (or DATABASE_URL if you set BENCH_DATABASE_URL).
Run by hand; not a test.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="Requests per page shape (median reported).")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="xc-bench-page-"))
    os.environ.setdefault("DATABASE_URL", os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "LOG_LEVEL": "WARNING",
                       "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost"})
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=os.environ)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from xero_connect.models import (DocumentType, ExportRecord, ExportState, Membership, Organisation, Role,
                                     SourceDocument, XeroConnection)
    from django.contrib.auth import get_user_model

    org = Organisation.objects.create(name="Big Ledger Ltd", slug="big-ledger")
    user = get_user_model().objects.create_user("bench", password="x", first_name="Bea", last_name="Bench")
    Membership.objects.create(organisation=org, user=user, role=Role.ADMIN)
    conn = XeroConnection.objects.create(organisation=org, tenant_id="t-bench", tenant_name="Big Ledger",
                                         short_code="!bIg01")

    print(f"creating {args.records:,} documents and ledger records …", flush=True)
    t = time.perf_counter()
    types = [DocumentType.SALES_INVOICE] * 5 + [DocumentType.BILL] * 3 + [DocumentType.PAYMENT,
                                                                            DocumentType.MANUAL_JOURNAL]
    states = ([ExportState.EXPORTED] * 7 + [ExportState.NOT_EXPORTED, ExportState.FAILED,
                                            ExportState.WAITING_FOR_CONNECTION])
    today = timezone.localdate()
    chunk = 5000
    for start in range(0, args.records, chunk):
        docs = []
        for i in range(start, min(args.records, start + chunk)):
            doc_type = types[i % len(types)]
            docs.append(SourceDocument(organisation=org, doc_type=doc_type, number=f"N-{i:07d}",
                                       date=today - timezone.timedelta(days=i % 720),
                                       contact_name=f"Customer {i % 997}", total=100 + i % 50))
        SourceDocument.objects.bulk_create(docs, batch_size=1000)
    ids = list(SourceDocument.objects.filter(organisation=org).values_list("pk", "doc_type", "date"))
    for start in range(0, len(ids), chunk):
        recs = []
        for n, (pk, doc_type, date) in enumerate(ids[start:start + chunk], start=start):
            state = states[n % len(states)]
            recs.append(ExportRecord(organisation=org, document_id=pk, doc_type=doc_type, doc_date=date,
                                     state=state, xero_id=f"00000000-0000-0000-0000-{n:012d}"
                                     if state == ExportState.EXPORTED else "",
                                     connection=conn if state == ExportState.EXPORTED else None,
                                     last_error="Account code '455' has been archived." if state == "failed" else ""))
        ExportRecord.objects.bulk_create(recs, batch_size=1000)
    print(f"  done in {time.perf_counter() - t:.1f}s", flush=True)
    connection.cursor().execute("ANALYZE") if connection.vendor == "sqlite" else None

    client = Client()
    client.force_login(user)
    url = reverse("exports_page", args=[org.slug])
    shapes = {
        "first page (default range, all sections)": {},
        "two years, all sections": {"from": (today - timezone.timedelta(days=730)).isoformat(), "to": today.isoformat()},
        "deep page (page 150 of sales invoices, two years)": {
            "from": (today - timezone.timedelta(days=730)).isoformat(), "to": today.isoformat(),
            "page_sales_invoice": 150},
        "filter: failed only, two years": {"from": (today - timezone.timedelta(days=730)).isoformat(),
                                           "to": today.isoformat(), "state": "failed"},
        "search: contact 'Customer 42', two years": {"from": (today - timezone.timedelta(days=730)).isoformat(),
                                                    "to": today.isoformat(), "q": "Customer 42"},
        "one section: bills, two years": {"from": (today - timezone.timedelta(days=730)).isoformat(),
                                          "to": today.isoformat(), "type": "bill"},
    }
    client.get(url)  # warm up
    print(f"\nExport Data page, {ExportRecord.objects.filter(organisation=org).count():,} ledger records "
          f"({connection.vendor}):")
    print(f"{'page':52} {'queries':>7} {'median ms':>10} {'max ms':>8} {'rows':>5}")
    for label, params in shapes.items():
        times, queries = [], set()
        rows = 0
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                response = client.get(url, params)
                times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.status_code
            queries.add(len(ctx.captured_queries))
            rows = response.content.decode().count("data-number=")
        q = "/".join(str(n) for n in sorted(queries))
        print(f"{label:52} {q:>7} {statistics.median(times):10.1f} {max(times):8.1f} {rows:5d}")
    connection.close()
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
