#!/usr/bin/env python
"""Benchmark: export N documents for T tenants against the sandbox, with Xero's limits
time-scaled, through a real server and real django-q2 workers on loopback.

Prints: API calls per document (goal ≤ 0.021), 429s received, throughput as a share of the
ceiling the limits allow (goal ≥ 90%), and lost / duplicated documents counted in the
sandbox (goal 0 / 0).

    .venv/bin/python bench/export_throughput.py                               # 10,000 docs, 5 tenants
    .venv/bin/python bench/export_throughput.py --postgres                    # the same on PostgreSQL
    .venv/bin/python bench/export_throughput.py --documents 2000 --minute-seconds 60
    .venv/bin/python bench/export_throughput.py --faults mix                  # drops after commit, 503s, 429 storms
    .venv/bin/python bench/export_throughput.py --stub --postgres --tenants 50 --minute-seconds 60 \
        --documents 300000 --q-workers 60 --drains 1                          # Xero's real minute, instant stub

--stub replaces the validating sandbox by bench/xero_stub.py: an instant answering server that
applies Xero's per-tenant minute and concurrency limits (429 beyond them) and counts what it
created, but validates nothing. It measures our own capacity; the sandbox run (without --stub)
stays the correctness run. Organisations are connected directly (tokens set, no OAuth dance,
no list imports) and documents are written in bulk.

Share of the ceiling: calls that started inside the steady-state window (from the moment every
tenant had made its first export call to the moment the first tenant made its last one) ÷ the
calls Xero allows in that same window (tenants × 60 × window ÷ minute). 100 % is the ceiling.

Time scale: the sandbox's "minute" lasts --minute-seconds real seconds
(XERO_SANDBOX_MINUTE_SECONDS) and the product's pacing window is set to the same length
(XERO_LIMIT_MINUTE_SECONDS), 60 calls per "minute" per tenant. The ceiling is
tenants × 60 calls / minute × 50 documents per call.

Everything runs in a throw-away directory (SQLite database, logs); the server and the workers
are subprocesses of this script, bounded by --timeout, and stopped at the end. Not a test.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TEST_KEY = "dGVzdC1vbmx5LWtleS1ub3QtYS1zZWNyZXQtMDAwMDA="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session(dict):
    modified = False


def wait_for(predicate, *, timeout, what, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout}s waiting for {what}")


class CpuMeter:
    """What limited a run: the machine's CPU (all cores, from /proc/stat) and the CPU of this
    run's own processes (each started process and its children, PostgreSQL's server and
    backends), sampled while the run goes so a process that ends early still counts. Linux."""

    def __init__(self, roots: dict):
        self.roots = roots  # label → pid whose process tree is counted under that label
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid → (label, first, last CPU-s)
        self.tick = os.sysconf("SC_CLK_TCK")
        self.sessions: dict[str, int] = {}  # PostgreSQL: what the workers' sessions were doing, by sample
        self.samples = 0

    @staticmethod
    def _machine() -> tuple[float, float]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait (clock ticks)

    def _stats(self) -> dict[int, tuple[int, float]]:
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / self.tick)
        return out

    def _sessions(self) -> None:
        """PostgreSQL only: what each other session of the bench database is doing right now
        (running a statement, waiting for a lock — which one —, or idle: its worker is busy in
        Python or asleep on pacing)."""
        from django.db import connection

        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cur:
            cur.execute("SELECT state, wait_event_type, wait_event, count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                        "AND backend_type = 'client backend' GROUP BY 1, 2, 3")
            for state, kind, event, n in cur.fetchall():
                what = state if state != "active" else (f"waiting on {kind}:{event}" if kind else "running SQL")
                self.sessions[what] = self.sessions.get(what, 0) + n
        self.samples += 1

    def sample(self) -> None:
        self._sessions()
        stats = self._stats()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        for label, root in self.roots.items():
            todo = [root]
            while todo:
                pid = todo.pop()
                if pid in stats:
                    first = self.seen.get(pid, (label, stats[pid][1] if self.started else 0.0))[1]
                    self.seen[pid] = (label, first, stats[pid][1])
                todo.extend(children.get(pid, []))

    def start(self) -> None:
        self.started = False
        self.t0, self.machine0, self.load0 = time.monotonic(), self._machine(), os.getloadavg()
        self.sample()
        self.started = True

    def report(self, share: float) -> str:
        """The CPU picture and what limited the run, whose share of the ceiling was `share` %."""
        self.sample()
        elapsed = time.monotonic() - self.t0
        total, idle = (a - b for a, b in zip(self._machine(), self.machine0))
        cores = os.cpu_count() or 1
        busy_cores = cores * (total - idle) / max(total, 1)
        per_label: dict[str, float] = {}
        for label, first, last in self.seen.values():
            per_label[label] = per_label.get(label, 0.0) + last - first
        ours = sum(per_label.values()) / max(elapsed, 1e-9)
        others = max(busy_cores - ours, 0.0)
        parts = ", ".join(f"{label} {cpu / elapsed:.2f}" for label, cpu in sorted(per_label.items()))
        saturated = busy_cores >= 0.9 * cores
        verdict = ("Xero's limits (the share is ≥ 90%: calls went out at the pace Xero allows; "
                   "see how close to their slots above)" if share >= 90 else f"CPU: the machine was saturated ({busy_cores:.2f} of {cores} cores busy, "
                   f"{others:.2f} of them by other programs)" if saturated else
                   f"not the machine's CPU ({cores - busy_cores:.2f} of {cores} cores idle): pacing or workers")
        seen = sum(self.sessions.values())
        sessions = ", ".join(f"{what} {100 * n / seen:.0f}%" for what, n in
                             sorted(self.sessions.items(), key=lambda kv: -kv[1])[:6]) if seen else "not sampled"
        return (f"database sessions      {seen / max(self.samples, 1):.0f} on average: {sessions}\n"
                f"CPU during the export  machine {busy_cores:.2f} of {cores} cores busy (load average "
                f"{self.load0[0]:.1f} → {os.getloadavg()[0]:.1f}); this run's processes {ours:.2f} cores ({parts}); "
                f"other programs {others:.2f} cores\nlimited by             {verdict}")


def _as_postgres(cmd: str) -> list[str]:
    # PostgreSQL refuses to run as root: use the postgres account then.
    return ["su", "postgres", "-s", "/bin/bash", "-c", cmd] if os.getuid() == 0 else ["bash", "-c", cmd]


def start_postgres(workdir: Path, *, statements: bool = False) -> dict:
    pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    root = workdir / "pg"
    root.mkdir()
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
        os.chmod(workdir, 0o755)
    port = free_port()
    subprocess.run(_as_postgres(f"'{pgbin}/initdb' -D '{root}/data' -A trust -U postgres >/dev/null"), check=True)
    subprocess.run(_as_postgres(
        f"'{pgbin}/pg_ctl' -D '{root}/data' -l '{root}/log' -o \"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
        f"-c fsync=off -c max_connections=300"
        + (" -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" if statements else "")
        + "\" -w start >/dev/null"), check=True)
    subprocess.run(_as_postgres(f"'{pgbin}/createdb' -h 127.0.0.1 -p {port} -U postgres bench"), check=True)
    if statements:
        subprocess.run(_as_postgres(f"'{pgbin}/psql' -q -h 127.0.0.1 -p {port} -U postgres bench "
                                    "-c 'CREATE EXTENSION pg_stat_statements'"), check=True)
    return {"bin": pgbin, "root": root, "url": f"postgres://postgres@127.0.0.1:{port}/bench"}


def stop_postgres(pg: dict) -> None:
    subprocess.run(_as_postgres(f"'{pg['bin']}/pg_ctl' -D '{pg['root']}/data' -m fast -w stop >/dev/null"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--minute-seconds", type=float, default=150.0,
                        help="Real length of Xero's minute (150: the limits, not this machine, are the bottleneck).")
    parser.add_argument("--clusters", type=int, default=1,
                        help="qcluster processes (one big cluster: several small ones prefetch each other's tasks)")
    parser.add_argument("--q-workers", type=int, default=10,
                        help="workers per cluster; with fewer than tenants × drains, a drain gives its worker back "
                             "between batches while another task waits (a task start per batch)")
    parser.add_argument("--drains", type=int, default=2, help="worker tasks draining one tenant at once")
    parser.add_argument("--faults", choices=["none", "mix"], default="none")
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--keep", action="store_true", help="Keep the work directory (database, logs).")
    parser.add_argument("--stub", action="store_true",
                        help="Xero replaced by bench/xero_stub.py (instant answers, real limits, no validation).")
    parser.add_argument("--postgres", action="store_true",
                        help="Use a throw-away PostgreSQL server (started here, on loopback) instead of SQLite.")
    parser.add_argument("--pg-statements", type=int, default=0, metavar="N",
                        help="With --postgres: load pg_stat_statements and print the N statements that took "
                             "most of the server's time during the export (where its CPU went).")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="xc-bench-export-"))
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
           "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}", "SITE_URL": site,
           "XERO_SANDBOX_ENABLED": "true", "Q_SYNC": "false", "Q_WORKERS": str(args.q_workers),
           "TOKEN_ENCRYPTION_KEYS": TEST_KEY, "XERO_LIMIT_MINUTE_SECONDS": str(args.minute_seconds),
           "XERO_SANDBOX_MINUTE_SECONDS": str(args.minute_seconds), "XERO_EXPORT_BACKOFF_BASE": "1",
           "XERO_EXPORT_DRAINS_PER_TENANT": str(args.drains),
           "XERO_EXPORT_MAX_INLINE_WAIT": str(max(10.0, args.minute_seconds)), "PYTHONPATH": str(ROOT)}
    procs: list[subprocess.Popen] = []
    if args.stub:
        stub_port = free_port()
        # No sandbox and no web server here: the workers run as in production, DEBUG off (with
        # DEBUG on, Django keeps and formats every SQL statement: CPU a real worker does not spend),
        # and drains last XERO_EXPORT_DRAIN_SECONDS as configured (a drain told to run longer than
        # django-q2's Q_TIMEOUT is killed mid-batch by the cluster's guard).
        env.update({"XERO_API_URL": f"http://127.0.0.1:{stub_port}/api.xro/2.0", "XERO_SANDBOX_ENABLED": "false",
                    "DEBUG": "false"})
    pg = start_postgres(workdir, statements=bool(args.pg_statements)) if args.postgres else None
    if pg:
        env["DATABASE_URL"] = pg["url"]
    os.environ.update(env)

    def start(cmd, name):
        log = open(workdir / f"{name}.log", "w")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.bench_name = name
        procs.append(proc)
        return proc

    try:
        print(f"work directory {workdir}; server {site}", flush=True)
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        def meter() -> CpuMeter:
            roots = {proc.bench_name: proc.pid for proc in procs}
            if pg:
                roots["PostgreSQL"] = int((pg["root"] / "data" / "postmaster.pid").read_text().split()[0])
            return CpuMeter(roots)

        if args.stub:
            start([PY, str(ROOT / "bench" / "xero_stub.py"), "--port", str(stub_port), "--minute-seconds",
                   str(args.minute_seconds)], "stub")
            run_stub(args, start, env["XERO_API_URL"], meter)
        else:
            run(args, site, start, workdir, meter)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if pg:
            stop_postgres(pg)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, site, start, workdir, meter):
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.db.models import Count, Min, Max
    from django.utils import timezone
    from django_q.models import OrmQ

    from xero_sandbox import seed as sandbox_seed
    from xero_sandbox import services as sandbox
    from xero_sandbox.models import SandboxOrganisation, SandboxUser
    from xero_connect.models import (DocumentType, ExportAttempt, ExportRecord, ExportState, ListRefresh,
                                     Membership, Organisation, Role)
    from xero_connect.services import connections
    from xero_connect.services.documents import LineSpec, document_create

    # --- the sandbox: seeded tenants (+ more if asked), the scaled minute ---------------------
    sandbox.seed_sandbox()
    specs = list(sandbox_seed.ORGANISATIONS)
    while SandboxOrganisation.objects.count() < args.tenants:
        n = SandboxOrganisation.objects.count()
        spec = dict(specs[n % len(specs)])
        spec.update(name=f"{spec['name']} (bench {n})", short_code=f"!bN{n:03d}")
        org = SandboxOrganisation.objects.create(
            short_code=spec["short_code"], tenant_id=sandbox_seed._stable_uuid("tenant", spec["short_code"]),
            **{k: spec[k] for k in ("name", "legal_name", "base_currency", "country_code", "version", "timezone",
                                     "line_of_business", "financial_year_end_day", "financial_year_end_month",
                                     "period_lock_date")})
        sandbox_seed._seed_lists(org, spec, timezone.now())
        SandboxUser.objects.get(email="demo@xero.example").organisations.add(org)
    sandbox.configure(MINUTE_SECONDS=args.minute_seconds)
    tenants = list(SandboxOrganisation.objects.order_by("name")[:args.tenants])

    start(["waitress-serve" if shutil.which("waitress-serve") else str(Path(PY).parent / "waitress-serve"),
           f"--listen=127.0.0.1:{site.rsplit(':', 1)[1]}", "--threads=24", "--channel-timeout=120",
           "config.wsgi:application"], "server")
    import requests

    def up():
        try:
            return requests.get(f"{site}/login/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, timeout=60, what="the server")

    # --- organisations in the product, each connected to its own tenant ----------------------
    User = get_user_model()
    admin = User.objects.create_user("bench-admin", password="x", first_name="Bea", last_name="Bench")
    orgs = []
    for i, tenant in enumerate(tenants):
        org = Organisation.objects.create(name=f"Bench {i}", slug=f"bench-{i}", base_currency=tenant.base_currency)
        Membership.objects.create(organisation=org, user=admin, role=Role.ADMIN)
        session = Session()
        url = connections.oauth_start(organisation=org, actor=admin, session=session)
        callback = sandbox.consent_redirect(url, tenants=[tenant.short_code])
        pending = connections.oauth_callback(session=session, user=admin,
                                             params=dict(parse_qsl(urlsplit(callback).query)))
        connections.connection_complete(pending=pending, actor=admin, tenant_id=str(tenant.tenant_id))
        orgs.append((org, tenant))

    for i in range(args.clusters):
        start([PY, "manage.py", "qcluster"], f"cluster{i}")
    # The imports every connect triggers (currencies, accounts) run first; their calls are not counted.
    wait_for(lambda: not OrmQ.objects.exists() and not ListRefresh.objects.exclude(
        status__in=[ListRefresh.Status.DONE, ListRefresh.Status.PARTIAL, ListRefresh.Status.FAILED]).exists(),
        timeout=120, what="the list imports after connect")
    sandbox.limits_reset()  # fresh minute windows: the imports' calls do not eat the export's first minute

    # --- documents ---------------------------------------------------------------------------
    per_tenant = args.documents // len(orgs)
    print(f"creating {per_tenant * len(orgs):,} documents …", flush=True)
    tax = {"NZD": ("OUTPUT2", "INPUT2"), "AUD": ("OUTPUT", "INPUT"), "GBP": ("OUTPUT2", "INPUT2"),
           "USD": ("TAX001", "NONE")}
    today = timezone.localdate()
    for org, tenant in orgs:
        out_tax, in_tax = tax[tenant.base_currency]
        with transaction.atomic():
            for i in range(per_tenant):
                is_bill = i % 4 == 3
                document_create(
                    organisation=org, doc_type=DocumentType.BILL if is_bill else DocumentType.SALES_INVOICE,
                    number=f"B{org.pk}-{i:05d}", date=today - timezone.timedelta(days=i % 28), due_date=today,
                    contact_name="Bench Supplier" if is_bill else f"Bench Customer {i % 40}",
                    lines=[LineSpec(description="Bench line", quantity=Decimal(1 + i % 5),
                                    unit_amount=Decimal("19.90"), account_code="429" if is_bill else "200",
                                    tax_type=in_tax if is_bill else out_tax)])

    analyze()
    if args.faults == "mix":
        # Drops after commit (answer lost, documents saved), 503s, a 429 storm — on writes and look-ups.
        sandbox.set_fault(kind="drop", methods="PUT,POST", probability=0.08)
        sandbox.set_fault(kind="maintenance", probability=0.08)
        sandbox.set_fault(kind="truncated", methods="PUT,POST", probability=0.03)
        sandbox.set_fault(kind="rate_limit", count=25, retry_after=1, problem="minute")

    before = sandbox.counts()
    total = per_tenant * len(orgs)
    print(f"exporting {total:,} documents for {len(orgs)} tenants; minute = {args.minute_seconds}s; "
          f"faults = {args.faults}", flush=True)
    cpu = meter()
    started_at, elapsed = export_all([org for org, _ in orgs], admin, total, timeout=args.timeout, interval=1.0,
                                     meter=cpu)
    sandbox.clear_faults()
    after = sandbox.counts()

    # --- figures -------------------------------------------------------------------------------
    attempts = ExportAttempt.objects.filter(started_at__gte=started_at)
    first = attempts.aggregate(m=Min("started_at"))["m"]
    last = attempts.aggregate(m=Max("finished_at"))["m"]
    busy = (last - first).total_seconds() if first and last else elapsed
    calls = sum(after["tenants"][str(t.tenant_id)]["api_calls"] - before["tenants"][str(t.tenant_id)]["api_calls"]
                for _, t in orgs)
    c429 = sum(after["tenants"][str(t.tenant_id)]["api_429"] - before["tenants"][str(t.tenant_id)]["api_429"]
               for _, t in orgs)
    lost = duplicated = failed = 0
    for org, tenant in orgs:
        numbers = [d.get("InvoiceNumber") for d in sandbox.documents(tenant=tenant.tenant_id, kind="invoice")]
        wanted = set(ExportRecord.objects.filter(organisation=org).values_list("document__number", flat=True))
        present = [n for n in numbers if n in wanted]
        duplicated += len(present) - len(set(present))
        lost += len(wanted - set(present))
        failed += ExportRecord.objects.filter(organisation=org, state=ExportState.FAILED).count()
    ledger_mismatch = sum(
        1 for org, tenant in orgs for r in ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED)
        .only("xero_id")[:200] if not sandbox.document_find(tenant=tenant.tenant_id, document_id=r.xero_id))
    ceiling = len(orgs) * 60 / args.minute_seconds * 50  # documents per second the limits allow
    share, window, achieved, allowed = ceiling_share(attempts, [org for org, _ in orgs], args.minute_seconds)
    timeline = []
    for org, _ in orgs:
        calls_of = list(attempts.filter(record__organisation=org, outcome=ExportAttempt.Outcome.EXPORTED)
                        .values("idempotency_key").annotate(s=Min("started_at"), f=Max("finished_at"))
                        .order_by("s"))
        gaps = [(b["s"] - a["s"]).total_seconds() for a, b in zip(calls_of, calls_of[1:])]
        lat = [(c["f"] - c["s"]).total_seconds() for c in calls_of]
        if calls_of:
            timeline.append(f"{org.slug}: {len(calls_of)} calls, first at +{(calls_of[0]['s'] - first).total_seconds():.1f}s, "
                            f"gap mean {sum(gaps) / max(len(gaps), 1):.2f}s max {max(gaps, default=0):.2f}s, "
                            f"latency mean {sum(lat) / len(lat):.2f}s max {max(lat):.2f}s")
    outcomes = dict(attempts.values_list("outcome").annotate(n=Count("id")))
    print(f"""
documents              {total:,} ({len(orgs)} tenants × {per_tenant:,})
time-scaled minute     {args.minute_seconds}s (60 calls per tenant per minute, 50 documents per call)
elapsed                {elapsed:.1f}s to all done ({busy:.1f}s first call → last answer)
throughput             {total / busy:.1f} docs/s over the whole run (ceiling {ceiling:.1f} docs/s)
share of the ceiling   {share:.1f}% — {achieved} calls started in the {window:.1f}s steady-state window; Xero allows {allowed:.1f}
API calls              {calls} ({calls / total:.4f} per document; goal ≤ 0.021)
429s received          {c429}
idempotent replays     {after['idempotent_replays'] - before['idempotent_replays']}
faults injected        {after['faults']}
attempt outcomes       {outcomes}
lost / duplicated      {lost} / {duplicated}   (counted in the sandbox; failed in the ledger: {failed})
ledger ↔ sandbox ids   {ledger_mismatch} mismatches in a sample of {min(200, per_tenant) * len(orgs)}
pacing interval        {args.minute_seconds * 1.02 / 60:.2f}s per tenant (margin 2%)
{pacing_picture(attempts, [org for org, _ in orgs], args.minute_seconds * 1.02 / 60)}
{cpu.report(share)}
""" + "\n".join("  " + line for line in timeline))


def export_all(organisations, admin, total: int, *, timeout: float, interval: float, meter: CpuMeter):
    """Queue each organisation's whole range and wait (bounded by `timeout`) until `total`
    records are exported or failed, sampling `meter` meanwhile. Returns (when the export
    started, seconds it took)."""
    from django.utils import timezone

    from xero_connect.models import ExportRecord, ExportState
    from xero_connect.services import exports

    meter.start()
    t0 = time.monotonic()
    started_at = timezone.now()
    for org in organisations:
        t = time.monotonic()
        exports.exports_enqueue_range(organisation=org, actor=admin, date_from=None, date_to=None)
        print(f"  queued {org.slug} in {time.monotonic() - t:.2f}s", flush=True)

    def finished():
        meter.sample()
        done = ExportRecord.objects.filter(state__in=[ExportState.EXPORTED, ExportState.FAILED]).count()
        print(f"\r  {done:,}/{total:,} done after {time.monotonic() - t0:5.1f}s", end="", flush=True)
        return done >= total

    wait_for(finished, timeout=timeout, what="the export", interval=interval)
    print()
    return started_at, time.monotonic() - t0


def ceiling_share(attempts, organisations, minute_seconds: float) -> tuple[float, float, int, float]:
    """(share %, window seconds, calls achieved, calls allowed): export calls (one per
    Idempotency-Key) that STARTED in the steady-state window [every tenant has started,
    the first tenant has finished) ÷ the calls Xero allows in that same window (tenants × 60
    per minute). Half-open, so N evenly paced calls are never counted against N − 1 gaps."""
    from django.db.models import Min

    from xero_connect.models import ExportAttempt

    starts = {}
    for org in organisations:
        starts[org.pk] = sorted(row["s"] for row in attempts.filter(
            record__organisation=org, outcome=ExportAttempt.Outcome.EXPORTED).values("idempotency_key").annotate(
            s=Min("started_at")).order_by())
    starts = {k: v for k, v in starts.items() if v}
    if not starts:
        return 0.0, 0.0, 0, 0.0
    begin = max(v[0] for v in starts.values())
    end = min(v[-1] for v in starts.values())
    window = (end - begin).total_seconds()
    if window <= 0:
        return 0.0, 0.0, 0, 0.0
    achieved = sum(1 for v in starts.values() for t in v if begin <= t < end)
    allowed = len(starts) * 60 * window / minute_seconds
    return 100 * achieved / allowed, window, achieved, allowed


def pacing_picture(attempts, organisations, interval: float) -> str:
    """How far apart each organisation's export calls started, against the pacing interval:
    gaps at the interval mean the drains were waiting on Xero's pacing (idle, as they should);
    longer gaps mean our side (CPU, workers, the database) was late."""
    from django.db.models import Min

    from xero_connect.models import ExportAttempt

    gaps = []
    for org in organisations:
        starts = sorted(row["s"] for row in attempts.filter(
            record__organisation=org, outcome=ExportAttempt.Outcome.EXPORTED).values("idempotency_key").annotate(
            s=Min("started_at")).order_by())
        gaps += [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    if not gaps:
        return "calls per organisation  none"
    gaps.sort()
    mean = sum(gaps) / len(gaps)
    on_time = sum(1 for g in gaps if g <= interval * 1.1) / len(gaps)
    return (f"gaps between calls     mean {mean:.2f}s, p50 {gaps[len(gaps) // 2]:.2f}s, "
            f"p90 {gaps[int(len(gaps) * 0.9)]:.2f}s, max {gaps[-1]:.2f}s (pacing {interval:.2f}s); "
            f"{100 * on_time:.0f}% of calls within 10% of their slot")


def run_stub(args, start, api_url, meter):
    """50 organisations (say) at Xero's real minute against the instant stub (see the module
    docstring): bulk-created documents, direct connections, real django-q2 workers."""
    import json
    import urllib.request
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db.models import Count, Max, Min
    from django.utils import timezone

    from xero_connect import connection_states
    from xero_connect.models import (DocumentLine, DocumentType, ExportAttempt, ExportRecord,
                                     Membership, Organisation, Role, SourceDocument, XeroConnection)
    from xero_connect.services import exports

    def stats():
        with urllib.request.urlopen(api_url.rsplit("/api.xro", 1)[0] + "/_stats", timeout=30) as resp:
            return json.load(resp)

    wait_for(lambda: _up(stats), timeout=30, what="the stub")
    User = get_user_model()
    admin = User.objects.create_user("bench-admin", password="x", first_name="Bea", last_name="Bench")
    per_tenant = args.documents // args.tenants
    today = timezone.localdate()
    orgs = []
    print(f"creating {per_tenant * args.tenants:,} documents for {args.tenants} organisations …", flush=True)
    for i in range(args.tenants):
        org = Organisation.objects.create(name=f"Bench {i}", slug=f"bench-{i}", base_currency="NZD")
        Membership.objects.create(organisation=org, user=admin, role=Role.ADMIN)
        conn = XeroConnection(organisation=org, tenant_id=f"bench-tenant-{i:03d}", tenant_name=f"Bench {i}",
                              short_code=f"!b{i:04d}", xero_connection_id=f"00000000-0000-4000-9000-{i:012d}",
                              connected_by=admin)
        conn.set_tokens(access_token=f"bench-access-{i}", refresh_token=f"bench-refresh-{i}",
                        expires_at=timezone.now() + timedelta(hours=12))
        connection_states.establish(conn, actor=admin)
        for first in range(0, per_tenant, 5000):
            docs = SourceDocument.objects.bulk_create([SourceDocument(
                organisation=org, doc_type=DocumentType.BILL if n % 4 == 3 else DocumentType.SALES_INVOICE,
                number=f"B{i}-{n:06d}", date=today - timedelta(days=n % 28), due_date=today,
                contact_name=f"Bench Customer {n % 40}") for n in range(first, min(per_tenant, first + 5000))])
            DocumentLine.objects.bulk_create([DocumentLine(
                document=d, description="Bench line", quantity=1, unit_amount="19.90",
                account_code="429" if d.doc_type == DocumentType.BILL else "200",
                tax_type="INPUT2" if d.doc_type == DocumentType.BILL else "OUTPUT2") for d in docs])
        exports.ledger_sync(organisation=org)
        orgs.append(org)
    analyze()

    for i in range(args.clusters):
        start([PY, "manage.py", "qcluster"], f"cluster{i}")
    total = per_tenant * len(orgs)
    print(f"exporting {total:,} documents for {len(orgs)} organisations; minute = {args.minute_seconds}s; "
          f"Xero = bench/xero_stub.py (instant, NOT the validating sandbox)", flush=True)
    statements_reset(args)
    cpu = meter()
    started_at, elapsed = export_all(orgs, admin, total, timeout=args.timeout, interval=2.0, meter=cpu)
    top_statements = statements_report(args)
    got = stats()
    lost = duplicated = 0
    for i, org in enumerate(orgs):
        made = got["documents"].get(f"bench-tenant-{i:03d}", {})
        wanted = set(ExportRecord.objects.filter(organisation=org).values_list("document__number", flat=True))
        duplicated += sum(copies - 1 for number, copies in made.items() if number in wanted and copies > 1)
        lost += len(wanted - set(made))
    attempts = ExportAttempt.objects.filter(started_at__gte=started_at)
    share, window, achieved, allowed = ceiling_share(attempts, orgs, args.minute_seconds)
    span = attempts.aggregate(first=Min("started_at"), last=Max("started_at"))
    run_seconds = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    whole = 100 * got["calls"] / max(len(orgs) * 60 * run_seconds / args.minute_seconds + len(orgs), 1)
    outcomes = dict(attempts.values_list("outcome").annotate(n=Count("id")).order_by())
    print(f"""
Xero                   bench/xero_stub.py: instant answers, Xero's limits applied, NOTHING validated
organisations          {len(orgs)} × {per_tenant:,} documents = {total:,}
minute                 {args.minute_seconds}s (60 calls per organisation per minute, 50 documents per call)
elapsed                {elapsed:.1f}s to all done
share of the ceiling   {share:.1f}% — {achieved} calls started in the {window:.1f}s steady-state window; Xero allows {allowed:.1f} (goal ≥ 90%)
whole run              {whole:.1f}% — {got['calls']} calls from the first call to the last ({run_seconds:.1f}s); Xero allows {len(orgs) * 60 * run_seconds / args.minute_seconds + len(orgs):.1f} (each organisation's first call + its minute's pace)
429s received          {got['api_429']} (goal 0)
calls at the stub      {got['calls']}; idempotent replays {got['replays']}
attempt outcomes       {outcomes}
lost / duplicated      {lost} / {duplicated} (counted at the stub; goal 0 / 0)
{pacing_picture(attempts, orgs, args.minute_seconds * 1.02 / 60)}
{cpu.report(share)}
{top_statements}""")


def analyze() -> None:
    """Statistics for the tables just written, as after any bulk load (PostgreSQL's "Populating
    a Database": run ANALYZE afterwards) and as autovacuum keeps a running installation. Without
    them the planner takes a table written a moment ago for a small one and reads all of it: a
    batch's lines by sequential scan, 11 ms instead of 0.2 ms at 150,000 lines, which would make
    this bench measure a database that has never been analysed."""
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def statements_reset(args) -> None:
    """Forget the statements of the set-up, so the report covers the export only."""
    if args.pg_statements:
        from django.db import connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_statements_reset()")


def statements_report(args) -> str:
    """The N statements with the most server time during the export: share of the total, calls,
    mean ms, rows per call and the statement's start (pg_stat_statements; time, not CPU, but on
    an unloaded server with the data cached the two are close)."""
    if not args.pg_statements:
        return ""
    from django.db import connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_exec_time) FROM pg_stat_statements")
        whole = cursor.fetchone()[0] or 1.0
        cursor.execute("SELECT total_exec_time, calls, rows, query FROM pg_stat_statements "
                       "ORDER BY total_exec_time DESC LIMIT %s", [args.pg_statements])
        rows = cursor.fetchall()
    lines = [f"server time            {whole / 1000:.1f}s in statements; the top {len(rows)}:"]
    for total, calls, n, query in rows:
        lines.append(f"  {100 * total / whole:5.1f}%  {calls:>7} calls  {total / max(calls, 1):6.2f} ms  "
                     f"{n / max(calls, 1):7.1f} rows  {' '.join(query.split())[:150]}")
    return "\n".join(lines) + "\n"


def _up(stats) -> bool:
    try:
        stats()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
