"""The database goes away for a moment in the middle of a real worker's export run: every one of
the worker's database connections is cut (repeatedly, for a couple of seconds) while a batch is
at Xero. Nothing may be marked exported that is not in Xero; afterwards the run resumes and
Xero holds every document exactly once, with the ledger agreeing."""
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from tests import factories
from tests.processes import database_url_for_children
from tests.workers import wait_for
from tests.xero_live import connect
from xero_connect.models import DocumentType, ExportRecord, ExportState, Role
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
NZ = "!kWh4R"
DOCUMENTS = 80
APP_NAME = "xc-blip-worker"


def worker_connections() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        return cur.fetchone()[0]


def cut_worker_connections() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                    [APP_NAME])
        return cur.fetchone()[0]


def test_a_database_blip_mid_run_loses_nothing_and_marks_nothing_falsely(xero, worker, transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")
    org = factories.make_organisation("Kiwi Kitchenware", slug="kiwi", base_currency="NZD")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    connect(org, alice, NZ)
    for i in range(DOCUMENTS):
        document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"B-{i:04d}",
                        date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Te Aro Kitchen",
                        lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("21"),
                                        account_code="200", tax_type="OUTPUT2")])
    # The first batch stays at Xero for 3 s: that is when the database goes away for the worker.
    fault = xero.set_fault(kind="slow", delay=3.0, tenant=NZ, methods="PUT,POST", count=1)
    # The claim lease must outlast any call still at Xero (as in production: 120 s lease, 20 s
    # timeout), or recovery could look up a batch Xero has not committed yet.
    worker(DATABASE_URL=f"{database_url_for_children()}?application_name={APP_NAME}", XERO_EXPORT_CLAIM_LEASE="6",
           XERO_EXPORT_BACKOFF_BASE="0.2", XERO_EXPORT_MAX_INLINE_WAIT="1")
    wait_for(lambda: worker_connections() > 0, timeout=30, what="the worker to connect")
    exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org), actor=alice)
    wait_for(lambda: type(fault).objects.filter(pk=fault.pk, remaining=0).exists(), timeout=30,
             what="the first batch to reach Xero")

    # Nothing marked exported may be missing from Xero — checked all along, while the blip lasts.
    violations = []

    def watch(stop):
        try:
            while not stop.is_set():
                in_xero = {d["InvoiceNumber"] for d in xero.documents(tenant=NZ, kind="invoice")}
                marked = set(ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED)
                             .values_list("document__number", flat=True))
                if marked - in_xero:
                    violations.append(sorted(marked - in_xero))
                time.sleep(0.25)
        finally:
            connections.close_all()  # this thread's own connection must not outlive the test

    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(stop,), daemon=True)
    watcher.start()
    cut = 0
    blip_ends = time.monotonic() + 2.5
    while time.monotonic() < blip_ends:  # the database is "down" for the worker for 2.5 s
        cut += cut_worker_connections()
        time.sleep(0.05)
    assert cut > 0

    settled = (ExportState.EXPORTED, ExportState.FAILED)
    wait_for(lambda: ExportRecord.objects.filter(organisation=org, state__in=settled).count() == DOCUMENTS,
             timeout=240, interval=1.0, tick=exports.exports_sweep, what="the run to resume and finish")
    stop.set()
    watcher.join(timeout=5)
    failed = list(ExportRecord.objects.filter(organisation=org, state=ExportState.FAILED)
                  .values_list("document__number", "last_error"))
    assert failed == []

    assert violations == []
    in_xero = xero.documents(tenant=NZ, kind="invoice")
    numbers = [d["InvoiceNumber"] for d in in_xero]
    assert len(numbers) == DOCUMENTS and len(set(numbers)) == DOCUMENTS
    ledger = dict(ExportRecord.objects.filter(organisation=org).values_list("document__number", "xero_id"))
    assert ledger == {d["InvoiceNumber"]: d["InvoiceID"] for d in in_xero}
