"""The export path's SQL per batch of 50 is a constant: it does not grow with the batch's
contents (documents, contacts, bills and invoices mixed) nor with the length of the queue, and
no statement is spent per document (e.g. loading each attempt's actor). Counts, never times;
the cost itself is measured by bench/export_cost.py."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
import responses
from django.db import connection as db_connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.fakes import FakeXero
from tests.services.test_exports import FAST
from xero_connect.models import DocumentType, ExportRecord, ExportState
from xero_connect.services import exports
from xero_connect.services.documents import LineSpec, document_create

# Statements per batch of 50 on the steady path (claim, pre-flight, payloads, rate-budget
# booking, token, HTTP, outcomes, attempts) — PostgreSQL writes the ledger with fewer
# statements (data-modifying CTEs). Of these, the export ledger's own writes are
# LEDGER_PER_BATCH (the claim, the send start, the outcomes: 3 on PostgreSQL, 5 on SQLite); the
# rest are reads of the claimed batch and of its lines (2: the pre-flight reuses the lines the
# claim loaded), the rate budget (1: one UPDATE … RETURNING reserves the call's slot and gives
# the previous call's back with its limit headers) and the token (1). The pre-flight's lists and
# contacts and whether any webhook endpoint listens are read once per drain, not per batch
# (tests/services/test_export_per_drain.py); a batch naming contacts the drain has not seen yet
# reads those names (one statement more, whatever their number).
PER_BATCH = {"postgresql": 7, "sqlite": 9}
LEDGER_PER_BATCH = {"postgresql": 3, "sqlite": 5}


@pytest.fixture(autouse=True)
def fast_limits():
    # Recovery of dead claims and job counts run every XERO_EXPORT_PERIODIC_SECONDS, whatever
    # the batches: kept out of this count so it does not depend on the machine's speed.
    with override_settings(**FAST, XERO_EXPORT_PERIODIC_SECONDS=3600):
        yield


def _documents(org, n, prefix):
    for i in range(n):
        bill = i % 4 == 3
        document_create(organisation=org, doc_type=DocumentType.BILL if bill else DocumentType.SALES_INVOICE,
                        number=f"{prefix}-{i:04d}", date=date.today() - timedelta(days=i % 9),
                        due_date=date.today(), contact_name=f"Customer {i % 13}",
                        lines=[LineSpec(description="Widget", quantity=Decimal(1 + i % 3),
                                        unit_amount=Decimal("10.50"), account_code="429" if bill else "200",
                                        tax_type="INPUT2" if bill else "OUTPUT2")] * (1 + i % 2))


def _drain_statements(org, admin_user, n, prefix):
    _documents(org, n, prefix)
    exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org, state=ExportState.NOT_EXPORTED),
                            actor=admin_user)
    with CaptureQueriesContext(db_connection) as ctx:
        result = exports.exports_drain(organisation_id=org.pk, max_seconds=60)
    assert result.exported == n and result.calls == n // 50
    assert not ExportRecord.objects.filter(organisation=org).exclude(state=ExportState.EXPORTED).exists()
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]  # the test's transaction
    ledger = [s for s in sql if ("exportrecord" in s.split(" WHERE")[0] or "exportattempt" in s.split(" WHERE")[0])
              and not s.startswith("SELECT")]
    return sql, ledger


def test_sql_per_batch_is_a_small_constant_whatever_the_queue_length(admin_user):
    org = factories.make_organisation("Queue Ltd", slug="queue")
    factories.add_member(org, admin_user)
    factories.make_connection(org, actor=admin_user)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        FakeXero(rsps)
        _drain_statements(org, admin_user, 50, "warm")  # the rate budget's rows are created once
        short, short_ledger = _drain_statements(org, admin_user, 100, "short")   # 2 batches
        long, long_ledger = _drain_statements(org, admin_user, 300, "long")      # 6 batches
    per_batch = (len(long) - len(short)) / 4
    ledger_per_batch = (len(long_ledger) - len(short_ledger)) / 4
    assert per_batch == int(per_batch) and per_batch <= PER_BATCH[db_connection.vendor], (per_batch, long[-60:])
    assert ledger_per_batch <= LEDGER_PER_BATCH[db_connection.vendor], long_ledger[:20]
    # Nothing is loaded per document: no user row (the attempt's actor), no document one by one.
    assert not [s for s in long if "auth_user" in s]


def test_a_claim_takes_one_batch_and_no_more(admin_user):
    from xero_connect.services.exports import claims

    org = factories.make_organisation("Claims Ltd", slug="claims")
    factories.make_connection(org, actor=admin_user)
    _documents(org, 120, "c")
    exports.exports_enqueue(records=ExportRecord.objects.filter(organisation=org), actor=admin_user)
    first = claims._claim(organisation_id=org.pk, doc_types=[DocumentType.SALES_INVOICE, DocumentType.BILL], limit=50)
    second = claims._claim(organisation_id=org.pk, doc_types=[DocumentType.SALES_INVOICE, DocumentType.BILL], limit=50)
    assert len(first) == 50 and len(second) == 50
    assert not {r.pk for r in first} & {r.pk for r in second}
    assert ExportRecord.objects.filter(organisation=org, state=ExportState.QUEUED).count() == 20
