"""The queue's statements read what they need, not the whole queue, even when PostgreSQL's
statistics are older than the queue — the usual picture: autovacuum analyses the ledger while
the queue is empty, then a large range is enqueued. Believing that one record is queued, the
planner took any index holding the state as good as the right one, and each claim read every
organisation's queued records (28 ms a batch at 150,000 queued: half the database's time in
bench/export_throughput.py). Counted in rows the plan touched (EXPLAIN ANALYZE), not in time."""
import json
from datetime import date, timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories
from xero_connect.models import DocumentLine, DocumentType, ExportRecord, ExportState, SourceDocument
from xero_connect.services import exports
from xero_connect.services.exports.claims import (NEXT_RESOURCE_LOOKAHEAD, _claim, _next_resource,
                                                   exports_recover_stale)
from xero_connect.services.exports.enqueue import due_filter, organisations_with

postgresql_only = pytest.mark.skipif(db_connection.vendor != "postgresql",
                                     reason="the planner's statistics are PostgreSQL's")

OTHERS_QUEUED = 2000   # another organisation's queue, which a claim must not read
OURS_QUEUED = 60


def _ledger(org, n, doc_type=DocumentType.SALES_INVOICE):
    docs = SourceDocument.objects.bulk_create([SourceDocument(
        organisation=org, doc_type=doc_type, number=f"{org.slug}-{doc_type}-{i:05d}",
        date=date.today() - timedelta(days=i % 28), due_date=date.today(), contact_name="Customer")
        for i in range(n)])
    DocumentLine.objects.bulk_create([DocumentLine(document=d, description="Line", quantity=1, unit_amount="10.00",
                                                   account_code="200", tax_type="OUTPUT2") for d in docs])
    exports.ledger_sync(organisation=org)


def _rows_touched(sql: str, params) -> int:
    """Rows the ledger's scan nodes produced or threw away, from EXPLAIN (ANALYZE, FORMAT JSON)."""
    with db_connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    total = 0

    def walk(node):
        nonlocal total
        if node.get("Relation Name") == ExportRecord._meta.db_table:
            loops = node.get("Actual Loops", 1)
            total += (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                      + node.get("Rows Removed by Index Recheck", 0)) * loops
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return total


@pytest.fixture
def stale_statistics(admin_user):
    """Two organisations' ledgers analysed while nothing was queued, then queued."""
    big = factories.make_organisation("Big Queue Ltd", slug="big-queue")
    ours = factories.make_organisation("Small Queue Ltd", slug="small-queue")
    _ledger(big, OTHERS_QUEUED)
    _ledger(ours, OURS_QUEUED)
    with db_connection.cursor() as cursor:  # the documents as they are; the ledger with no queue
        for model in (SourceDocument, DocumentLine, ExportRecord):
            cursor.execute(f"ANALYZE {model._meta.db_table}")  # (SQLite too: its sqlite_stat1)
    ExportRecord.objects.update(state=ExportState.QUEUED, next_attempt_at=timezone.now())
    return big, ours


def _statements(run) -> list[tuple[str, list]]:
    with CaptureQueriesContext(db_connection) as ctx:
        run()
    return [(q["sql"], []) for q in ctx.captured_queries
            if ExportRecord._meta.db_table in q["sql"] and q["sql"].startswith(("SELECT", "UPDATE", "WITH"))]


@postgresql_only
def test_a_claim_reads_its_own_batch_not_every_queue(stale_statistics):
    _, ours = stale_statistics
    claimed = []
    statements = _statements(lambda: claimed.extend(
        _claim(organisation_id=ours.pk, doc_types=[DocumentType.SALES_INVOICE], limit=50)))
    assert len(claimed) == 50 and {r.organisation_id for r in claimed} == {ours.pk}
    assert statements
    for sql, params in statements:  # run again: the claim takes the 10 left; the plan is the same
        touched = _rows_touched(sql, params)
        assert touched <= 4 * 50, (touched, sql[:300])


@postgresql_only
def test_looking_across_organisations_goes_organisation_by_organisation(stale_statistics):
    big, ours = stale_statistics
    due = ExportRecord.objects.filter(state=ExportState.QUEUED).filter(due_filter(timezone.now()))
    assert organisations_with(due) == sorted([big.pk, ours.pk])
    statements = _statements(lambda: organisations_with(due)) + _statements(exports_recover_stale)
    assert statements
    for sql, params in statements:
        touched = _rows_touched(sql, params)
        assert touched <= 10, (touched, sql[:300])


@pytest.mark.skipif(db_connection.vendor != "sqlite", reason="SQLite's planner")
def test_on_sqlite_a_claim_walks_the_queue_index_in_order(stale_statistics):
    """SQLite takes a partial index only when the query holds its very condition (`state =
    'queued'`); otherwise the claim read and sorted the organisation's whole queue at each batch
    (the export's cost per document doubled between 10,000 and 100,000 queued)."""
    _, ours = stale_statistics
    statements = _statements(lambda: _claim(organisation_id=ours.pk, doc_types=[DocumentType.SALES_INVOICE],
                                            limit=50))
    claim = next(sql for sql, _ in statements if sql.startswith("WITH c AS MATERIALIZED"))
    with db_connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + claim)
        plan = " | ".join(row[-1] for row in cursor.fetchall())
    assert "exportrecord_queue_idx" in plan and "TEMP B-TREE" not in plan, plan


@postgresql_only
def test_choosing_the_next_resource_reads_a_bounded_part_of_the_queue(stale_statistics):
    """The big organisation's queue holds only invoices; asked first for invoices, a queue of
    payments was read whole before payments were tried."""
    big, ours = stale_statistics
    _ledger(ours, OTHERS_QUEUED, doc_type=DocumentType.PAYMENT)
    ExportRecord.objects.filter(organisation=ours).update(state=ExportState.QUEUED, next_attempt_at=timezone.now())
    ExportRecord.objects.filter(organisation=ours, doc_type=DocumentType.SALES_INVOICE).update(
        state=ExportState.EXPORTED)
    found = []
    statements = _statements(lambda: found.append(_next_resource(organisation_id=ours.pk)))
    assert found == [("Payments", [DocumentType.PAYMENT])]
    for sql, params in statements:
        touched = _rows_touched(sql, params)
        assert touched <= NEXT_RESOURCE_LOOKAHEAD + 10, (touched, sql[:300])


def test_invoices_go_before_payments_and_a_queue_of_payments_is_still_found(admin_user):
    org = factories.make_organisation("Order Ltd", slug="order")
    _ledger(org, 5, doc_type=DocumentType.PAYMENT)
    ExportRecord.objects.filter(organisation=org).update(state=ExportState.QUEUED, next_attempt_at=None)
    assert _next_resource(organisation_id=org.pk) == ("Payments", [DocumentType.PAYMENT])
    _ledger(org, 5, doc_type=DocumentType.BILL)
    ExportRecord.objects.filter(organisation=org, doc_type=DocumentType.BILL).update(
        state=ExportState.QUEUED, next_attempt_at=timezone.now())
    resource, _ = _next_resource(organisation_id=org.pk)
    assert resource == "Invoices"
    ExportRecord.objects.filter(organisation=org).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert _next_resource(organisation_id=org.pk) is None  # nothing due yet
