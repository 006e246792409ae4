#!/usr/bin/env python
"""Benchmark: what the export path costs US per document, with Xero answering instantly.

The real path runs in this process — claim, pre-flight, payloads, rate-budget booking, token,
HTTP over loopback, per-element ledger writes, job counts — against `bench/xero_stub.py` (an
instant stand-in in its own process, so its CPU is not counted; NOT the validating sandbox).
Xero's pacing is shrunk to nothing (XERO_LIMIT_MINUTE_SECONDS) so only our own work counts.

Prints, per database and size:
- documents per CPU-second: documents ÷ (this process's user+system CPU from getrusage, plus
  on PostgreSQL the CPU of this connection's backend process from /proc/<pid>/stat);
- SQL statements per batch (every statement this process sent, ÷ batch calls);
- peak RSS of the drain and of the enqueue of the whole range (VmHWM, reset before each phase).
Goals (issue #18): ≥ 2,000 documents per CPU-second, ≤ 12 SQL per batch of 50, peak RSS flat
in the size of the work and < 120 MiB.

    .venv/bin/python bench/export_cost.py                         # SQLite, 2,000 and 10,000 documents
    .venv/bin/python bench/export_cost.py --postgres              # PostgreSQL (DATABASE_URL if it is
                                                                  #  postgres://, else a throw-away server)
    .venv/bin/python bench/export_cost.py --documents 2000 10000 100000

Each size runs in a fresh child process on a fresh database. Not a test.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TEST_KEY = "dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA="
CHILD_TIMEOUT = 1800


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_stub(minute_seconds: float, minute_limit: int = 60) -> tuple[subprocess.Popen, str]:
    """bench/xero_stub.py on a free loopback port; (process, API base URL)."""
    import urllib.request

    port = free_port()
    proc = subprocess.Popen([PY, str(ROOT / "bench" / "xero_stub.py"), "--port", str(port), "--minute-seconds",
                             str(minute_seconds), "--minute-limit", str(minute_limit)], start_new_session=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit("the Xero stub did not start")
    return proc, f"http://127.0.0.1:{port}/api.xro/2.0"


def stub_stats(api_url: str) -> dict:
    import urllib.request

    with urllib.request.urlopen(api_url.rsplit("/api.xro", 1)[0] + "/_stats", timeout=10) as resp:
        return json.load(resp)


# --- child: one size on one fresh database ------------------------------------------------------

def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := current RSS
    except OSError:
        pass


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _backend_cpu(connection) -> float | None:
    """CPU seconds of this connection's PostgreSQL backend (None on SQLite / not readable)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(n: int):
    """An organisation connected to a tenant, its lists imported, `n` documents (¾ invoices,
    ¼ bills, one line each) and their ledger records, written in bulk."""
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from xero_connect import connection_states
    from xero_connect.models import (Account, Contact, DocumentLine, DocumentType, ListName, ListSyncState,
                                     Organisation, SourceDocument, TaxRate, XeroConnection)
    from xero_connect.services.exports import ledger_sync

    user = get_user_model().objects.create_user("bench", password="x", first_name="Bea", last_name="Bench")
    org = Organisation.objects.create(name="Bench Ltd", slug="bench", base_currency="NZD")
    conn = XeroConnection(organisation=org, tenant_id="bench-tenant-0", tenant_name="Bench", short_code="!bEn00",
                          xero_connection_id="00000000-0000-4000-9000-000000000001", connected_by=user)
    conn.set_tokens(access_token="bench-access", refresh_token="bench-refresh",
                    expires_at=timezone.now() + timedelta(hours=6))
    connection_states.establish(conn, actor=user)
    now = timezone.now()
    Account.objects.bulk_create([Account(organisation=org, xero_id=f"acc-{c}", code=c, name=f"Account {c}",
                                         type="REVENUE" if c == "200" else "EXPENSE") for c in ("200", "429")])
    TaxRate.objects.bulk_create([TaxRate(organisation=org, tax_type=t, name=t, effective_rate=Decimal("15"))
                                 for t in ("OUTPUT2", "INPUT2")])
    names = [f"Bench Customer {i}" for i in range(40)] + ["Bench Supplier"]
    Contact.objects.bulk_create([Contact(organisation=org, xero_id=f"00000000-0000-4000-8000-{i:012d}", name=name)
                                 for i, name in enumerate(names)])
    ListSyncState.objects.bulk_create([ListSyncState(organisation=org, list_name=name, last_refreshed_at=now)
                                       for name in (ListName.ACCOUNTS, ListName.TAX_RATES, ListName.CONTACTS)])
    today = timezone.localdate()
    for start in range(0, n, 2000):
        docs = []
        for i in range(start, min(n, start + 2000)):
            bill = i % 4 == 3
            docs.append(SourceDocument(
                organisation=org, doc_type=DocumentType.BILL if bill else DocumentType.SALES_INVOICE,
                number=f"B-{i:06d}", date=today - timedelta(days=i % 28), due_date=today,
                contact_name="Bench Supplier" if bill else f"Bench Customer {i % 40}", total=Decimal("22.89")))
        docs = SourceDocument.objects.bulk_create(docs)
        DocumentLine.objects.bulk_create([DocumentLine(
            document=d, description="Bench line", quantity=Decimal(1), unit_amount=Decimal("19.90"),
            account_code="429" if d.doc_type == DocumentType.BILL else "200",
            tax_type="INPUT2" if d.doc_type == DocumentType.BILL else "OUTPUT2") for d in docs])
    ledger_sync(organisation=org)
    return org, user


def child(args) -> None:
    """--phase seed: migrate and write the documents; --phase run (a fresh process, so the
    seeding's memory is not in its RSS): enqueue the range and drain it, printing RESULT."""
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false", "LOG_LEVEL": "ERROR",
                       "SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1",
                       "TOKEN_ENCRYPTION_KEYS": TEST_KEY, "XERO_API_URL": args.api_url, "Q_SYNC": "false",
                       "XERO_LIMIT_MINUTE_SECONDS": "0.0001", "XERO_LIMIT_TENANT_DAY": "100000000",
                       "XERO_LIMIT_APP_MINUTE": "100000000", "XERO_EXPORT_DRAIN_SECONDS": "3600",
                       "SENTRY_DSN": ""})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from django.contrib.auth import get_user_model

    from xero_connect.models import BulkJob, ExportRecord, ExportState, Organisation
    from xero_connect.services import exports

    if args.phase == "seed":
        call_command("migrate", "--noinput", verbosity=0)
        seed(args.documents)
        from export_throughput import analyze  # statistics, as after any bulk load (see there)

        analyze()
        return
    org, user = Organisation.objects.get(slug="bench"), get_user_model().objects.get(username="bench")
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile(time.process_time)
        profile.enable()

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    # Enqueue of the whole range.
    _reset_peak()
    cpu0 = _cpu()
    job = exports.exports_enqueue_range(organisation=org, actor=user, date_from=None, date_to=None)
    enqueue_cpu = _cpu() - cpu0
    enqueue_peak = _peak_mib()

    # Drain.
    _reset_peak()
    backend0 = _backend_cpu(connection)
    cpu0 = _cpu()
    calls = exported = 0
    with connection.execute_wrapper(count):
        for _ in range(args.documents // 50 + 10):  # each run drains until the queue is empty
            result = exports.exports_drain(organisation_id=org.pk, max_seconds=3600)
            calls += result.calls
            exported += result.exported
            if not ExportRecord.objects.filter(organisation=org, state=ExportState.QUEUED).exists():
                break
    cpu = _cpu() - cpu0
    if profile:
        profile.disable()
        profile.dump_stats(args.profile)
    backend = _backend_cpu(connection)
    backend_cpu = (backend - backend0) if backend is not None and backend0 is not None else None
    peak = _peak_mib()
    job.refresh_from_db()
    out = {"vendor": connection.vendor, "documents": args.documents, "exported": exported, "calls": calls,
           "cpu": cpu, "backend_cpu": backend_cpu, "sql": statements[0], "peak_mib": peak,
           "enqueue_cpu": enqueue_cpu, "enqueue_peak_mib": enqueue_peak,
           "job_done": job.done, "job_status": job.status, "job_total": job.total,
           "states": dict(ExportRecord.objects.filter(organisation=org).values_list("state").annotate(
               n=__import__("django.db.models", fromlist=["Count"]).Count("id")).order_by())}
    assert BulkJob.objects.filter(pk=job.pk).exists()
    if connection.vendor == "postgresql":  # how many ledger updates wrote no index entry (HOT)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
                           [ExportRecord._meta.db_table])
            out["ledger_updates"], out["ledger_hot_updates"] = cursor.fetchone()
    print("RESULT " + json.dumps(out), flush=True)


# --- parent -----------------------------------------------------------------------------------

def _pg_admin(url: str, sql: str) -> None:
    import psycopg

    base = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--profile", help="cProfile the run phase into this file (one size only)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=["seed", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.documents = args.documents[0]
        os.environ["DATABASE_URL"] = args.db_url
        return child(args)

    workdir = Path(tempfile.mkdtemp(prefix="xc-bench-cost-"))
    stub, api_url = start_stub(minute_seconds=60, minute_limit=10**9)
    pg = None
    rows = []
    try:
        if args.postgres:
            url = os.environ.get("DATABASE_URL", "")
            if not url.startswith("postgres"):
                sys.path.insert(0, str(ROOT / "bench"))
                from export_throughput import start_postgres

                pg = start_postgres(workdir)
                url = pg["url"]
            base_url = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1] + "_cost"
        for n in args.documents:
            if args.postgres:
                name = base_url.rsplit("/", 1)[1]
                _pg_admin(base_url, f'DROP DATABASE IF EXISTS "{name}"')
                _pg_admin(base_url, f'CREATE DATABASE "{name}"')
                db_url = base_url
            else:
                db_url = f"sqlite:///{workdir / f'cost-{n}.sqlite3'}"
            print(f"{'PostgreSQL' if args.postgres else 'SQLite'}: {n:,} documents …", flush=True)
            for phase in ("seed", "run"):
                proc = subprocess.run([PY, __file__, "--child", "--phase", phase, "--documents", str(n),
                                       "--api-url", api_url, "--db-url", db_url]
                                      + (["--profile", args.profile] if args.profile else []),
                                      cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
                if proc.returncode:
                    break
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                print(proc.stdout[-3000:], proc.stderr[-3000:])
                raise SystemExit("the run failed")
            rows.append(json.loads(line[7:]))
            if args.postgres:
                _pg_admin(base_url, f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        stub.kill()
        stub.wait(timeout=10)
        if pg:
            from export_throughput import stop_postgres

            stop_postgres(pg)
        shutil.rmtree(workdir, ignore_errors=True)

    print("\nXero replaced by bench/xero_stub.py (instant answers; not the validating sandbox).")
    print(f"{'database':<11}{'documents':>10}{'exported':>10}{'docs/CPU-s':>12}{'(process':>10}{'+ backend)':>11}"
          f"{'SQL/batch':>11}{'peak RSS':>10}{'enqueue':>10}{'enq. RSS':>10}")
    for r in rows:
        total_cpu = r["cpu"] + (r["backend_cpu"] or 0)
        print(f"{r['vendor']:<11}{r['documents']:>10,}{r['exported']:>10,}{r['documents'] / total_cpu:>12,.0f}"
              f"{r['cpu']:>9.2f}s{(r['backend_cpu'] or 0):>10.2f}s{r['sql'] / max(r['calls'], 1):>11.1f}"
              f"{r['peak_mib']:>8.0f}Mi{r['enqueue_cpu']:>9.2f}s{r['enqueue_peak_mib']:>8.0f}Mi")
        hot = (f"; ledger rows updated {r['ledger_updates']:,}, of which HOT (no index entry written) "
               f"{r['ledger_hot_updates']:,}" if "ledger_updates" in r else "")
        print(f"{'':<11}{r['calls']} calls, {r['sql']} statements{hot}")
        if r["exported"] != r["documents"] or r["job_done"] != r["documents"]:
            print(f"  !! not everything was exported: states {r['states']}, job {r['job_status']} "
                  f"{r['job_done']}/{r['job_total']}")
    print("goals: ≥ 2,000 docs/CPU-s (process + PostgreSQL backend); ≤ 12 SQL per batch of 50; "
          "peak RSS flat in the size and < 120 MiB")


if __name__ == "__main__":
    main()
