"""Scale-out on real engines: two django-q2 clusters (separate process groups, as on two
machines) share one PostgreSQL database and a Redis broker (Debian's redis-server, started
here) and export for the same Xero organisations at once. Xero's limits are one budget across
both: no 429 beyond the first, and every document goes out exactly once."""
import shutil
import socket
import subprocess
import tempfile
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from tests import factories
from tests.processes import PYTHON, child_env
from tests.workers import Cluster, wait_for, xero_env
from tests.xero_live import connect
from xero_connect.models import DocumentType, ExportRecord, ExportState, Role
from xero_connect.services.documents import LineSpec, document_create

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TENANTS = {"kiwi": "!kWh4R", "brolly": "!wG7oS"}
SALES_TAX = {"!kWh4R": ("NZD", "OUTPUT2"), "!wG7oS": ("AUD", "OUTPUT")}  # GST on income, NZ and AU
PER_TENANT = 400
# Time-scaled limits, the same for the sandbox and for the product: 6 calls per 3-second "minute".
MINUTE_SECONDS, PER_MINUTE = 3, 6


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url():
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server is not installed (scripts/test installs it as root)")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="xc-redis-")
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answers():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    wait_for(answers, timeout=15, what="redis-server to listen")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


def test_two_clusters_one_budget_each_document_once(xero, redis_url, settings, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")
    orgs = {}
    for slug, tenant in TENANTS.items():
        currency, tax_type = SALES_TAX[tenant]
        org = factories.make_organisation(slug.title(), slug=slug, base_currency=currency)
        admin = factories.make_user(f"{slug}-admin")
        factories.add_member(org, admin, Role.ADMIN)
        connect(org, admin, tenant)
        for i in range(PER_TENANT):
            document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"S-{i:04d}",
                            date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Te Aro Kitchen",
                            lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("12"),
                                            account_code="200", tax_type=tax_type)])
        orgs[slug] = org
    xero.configure(MINUTE_SECONDS=MINUTE_SECONDS, LIMIT_MINUTE=PER_MINUTE)
    xero.limits_reset()
    before = {t: xero.counts(tenant=t)["tenants"] for t in TENANTS.values()}

    env = child_env(REDIS_URL=redis_url, Q_CLUSTER_NAME="xc-scale-out", Q_WORKERS="3", Q_SYNC="false",
                    XERO_LIMIT_MINUTE_SECONDS=MINUTE_SECONDS, XERO_LIMIT_TENANT_MINUTE=PER_MINUTE,
                    XERO_EXPORT_MAX_INLINE_WAIT="5", **xero_env(settings))
    clusters = [Cluster({**env}, log_name="scale-out-a"), Cluster({**env}, log_name="scale-out-b")]
    try:
        for slug in TENANTS:  # queue through the broker, as a web process on a third machine would
            queued = subprocess.run([PYTHON, "manage.py", "export_documents", "--org", slug, "--no-wait"], env=env,
                                    cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60)
            assert queued.returncode == 0, queued.stderr[-2000:]

        def all_exported():
            return ExportRecord.objects.filter(state=ExportState.EXPORTED).count() == PER_TENANT * len(TENANTS)

        wait_for(all_exported, timeout=240, interval=1.0, what="both clusters to export everything")
    finally:
        for cluster in clusters:
            cluster.kill()

    for slug, tenant in TENANTS.items():
        numbers = [d["InvoiceNumber"] for d in xero.documents(tenant=tenant, kind="invoice")]
        assert len(numbers) == PER_TENANT and len(set(numbers)) == PER_TENANT  # each once
        after = xero.counts(tenant=tenant)["tenants"]
        (tid, now), = after.items()
        assert now["api_429"] - before[tenant][tid]["api_429"] <= 1  # the shared budget held
