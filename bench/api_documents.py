#!/usr/bin/env python
"""Benchmark: 10,000 documents through POST /api/v1/organisations/<org>/documents/ in batches of 500.

Prints documents per CPU-second (process CPU time of the whole request: authentication, JSON
parsing, the CSV import's checks, the bulk writes, the answer) and the SQL statements per batch,
for new documents, then for the same batches again (all unchanged), then with one changed line
per document (all updated).

    .venv/bin/python bench/api_documents.py                       # 10,000 in batches of 500
    .venv/bin/python bench/api_documents.py --documents 2000 --batch 250

Uses its own throw-away SQLite database (or BENCH_DATABASE_URL, e.g. a PostgreSQL database).
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
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="xc-bench-api-"))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "LOG_LEVEL": "WARNING",
                       "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost", "API_RATE_PER_MINUTE": "1000000"})
    sys.path.insert(0, str(ROOT))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True,
                   env=os.environ)
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from xero_connect.models import APIKey, Organisation, SourceDocument
    from xero_connect.services.api_keys import api_key_prepare

    org, _ = Organisation.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    key = api_key_prepare(APIKey(organisation=org, name="bench"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    url = f"/api/v1/organisations/{org.slug}/documents/"

    def document(i, price="32.50"):
        return {"type": "sales_invoice", "number": f"INV-{i:06}", "date": "2026-11-02", "contact": "Cuba Street Café",
                "reference": f"Order {i}",
                "lines": [{"description": "Flat white beans 1kg", "quantity": "2", "unit_amount": price,
                           "account_code": "200", "tax_type": "OUTPUT2",
                           "tracking": [{"category": "Region", "option": "Wellington"}]},
                          {"description": "Delivery", "quantity": "1", "unit_amount": "7.00", "account_code": "260"}]}

    def run(label, price, expect):
        statements, cpu = [], 0.0
        for start in range(0, args.documents, args.batch):
            body = {"documents": [document(i, price) for i in range(start, min(start + args.batch, args.documents))]}
            with CaptureQueriesContext(connection) as queries:
                before = time.process_time()
                response = client.post(url, body, format="json")
                cpu += time.process_time() - before
            assert response.status_code == 200, response.content[:500]
            counts = response.json()["counts"]
            assert counts[expect] == len(body["documents"]), counts
            statements.append(len(queries))
        print(f"{label:<10} {args.documents / cpu:8.0f} documents per CPU-second   SQL statements per batch: "
              f"min {min(statements)}, median {statistics.median(statements):g}, max {max(statements)}")

    print(f"{args.documents} documents, batches of {args.batch}, {connection.vendor}")
    run("created", "32.50", "created")
    run("unchanged", "32.50", "unchanged")
    run("updated", "33.00", "updated")
    assert SourceDocument.objects.filter(organisation=org).count() == args.documents


if __name__ == "__main__":
    main()
