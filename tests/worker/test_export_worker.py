"""A real django-q2 worker (`manage.py qcluster` subprocess) is killed in the middle of a batch:
Xero (the sandbox) has created the documents but the worker never recorded the answer. A
second worker recovers the claim (older than the lease), looks the documents up in Xero before
sending anything, and the sandbox holds each document exactly once — and the ledger agrees."""
from decimal import Decimal

import pytest
from django.utils import timezone

from tests import factories
from tests.workers import wait_for
from tests.xero_live import connect
from xero_connect.models import DocumentType, ExportAttempt, ExportRecord, ExportState, Role
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create

from xero_sandbox import services as sandbox
pytestmark = pytest.mark.slow
KOWHAI = "!kWh4R"
LEASE = 2.0


def test_a_worker_killed_mid_batch_leaves_each_document_exactly_once(transactional_db, xero, worker):
    def start_worker():
        return worker(Q_WORKERS="2", XERO_EXPORT_CLAIM_LEASE=LEASE, XERO_LIMIT_MINUTE_SECONDS="1",
                      XERO_EXPORT_MAX_INLINE_WAIT="1", XERO_EXPORT_BACKOFF_BASE="0.2")

    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai", base_currency="NZD")
    admin = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, admin, Role.ADMIN)
    connect(org, admin, KOWHAI)
    for i in range(60):
        document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"W-{i:03d}",
                        date=timezone.localdate(), due_date=timezone.localdate(), contact_name="Te Aro Kitchen",
                        lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("30"),
                                        account_code="200", tax_type="OUTPUT2")])
    # The first batch call is slow at Xero: it is still being processed when the worker dies.
    fault = sandbox.set_fault(kind="slow", delay=3.0, methods="PUT", count=1)
    first = start_worker()
    exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org), actor=admin)

    wait_for(lambda: type(fault).objects.filter(pk=fault.pk, remaining=0).exists(), timeout=60,
             what="the first batch to reach the sandbox")
    first.kill()
    # The slow batch (50), and maybe the other worker's batch of the last 10, were in flight.
    assert ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTING).count() >= 50
    # The sandbox finishes the call it was given: the 50 documents now exist in Xero,
    # although the worker that sent them never heard back.
    wait_for(lambda: sandbox.documents_count(tenant=KOWHAI, kind="invoice") >= 50, timeout=30,
             what="the sandbox to commit the batch")

    start_worker()  # a new worker; the periodic sweeper (or anyone) starts the recovery

    def sweep():
        from django_q.tasks import async_task

        async_task("xero_connect.tasks.exports.export_sweep")

    wait_for(lambda: ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED).count() == 60,
             timeout=90, interval=1.0, tick=sweep, what="all 60 documents to be exported")

    numbers = [d["InvoiceNumber"] for d in sandbox.documents(tenant=KOWHAI, kind="invoice")]
    assert len(numbers) == 60 and len(set(numbers)) == 60  # each once: none lost, none duplicated
    xero_ids = {d["InvoiceID"] for d in sandbox.documents(tenant=KOWHAI, kind="invoice")}
    ledger_ids = set(ExportRecord.objects.filter(organisation=org).values_list("xero_id", flat=True))
    assert ledger_ids == xero_ids  # the ledger agrees with Xero, document by document
    recovered = ExportAttempt.objects.filter(record__organisation=org, outcome=ExportAttempt.Outcome.RECOVERED)
    assert recovered.count() >= 50  # found in Xero, not sent again
