"""One budget around every Xero call: a Refresh lists and an export of the same organisation,
running at the same time against the sandbox (live_server, real HTTP), stay under Xero's
per-minute and concurrent-call limits — the sandbox counts 0 answers of 429 — and every
document goes out exactly once.

The limits are time-scaled the same way in the sandbox and in the product (6 calls per
3-second "minute", 2 calls at once) and every sandbox answer is slowed down, so that calls of
the three threads overlap. A control run through the bare seam client (no budget) shows the
same load does get 429s from the sandbox, so the assertion is not vacuous.
"""
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from tests import xero_live
from tests.e2e.test_export_sandbox import kowhai  # noqa: F401  (fixture: Kōwhai Coffee and its Admin)
from xero_connect.models import DocumentType, ExportRecord, ExportState, ListRefresh
from xero_connect.services import exports, lists, tokens
from xero_connect.services.documents import LineSpec, document_create
from xero_connect.xero import errors
from xero_connect.xero.accounting import AccountingApi

pytestmark = pytest.mark.slow
KOWHAI = "!kWh4R"
MINUTE_SECONDS, PER_MINUTE, CONCURRENT = 3, 6, 2
SLOW_ANSWER = 0.8  # seconds each sandbox answer takes: several calls are in flight at once
INVOICES = 8


@pytest.fixture
def budgeted(xero, settings, async_queue):
    """Sandbox and product agree on the (time-scaled) limits; tasks wait in the broker, so the
    test runs the drain and the refresh itself, in threads."""
    settings.XERO_LIMIT_MINUTE_SECONDS = MINUTE_SECONDS
    settings.XERO_LIMIT_TENANT_MINUTE = PER_MINUTE
    settings.XERO_LIMIT_TENANT_CONCURRENT = CONCURRENT
    settings.XERO_EXPORT_BATCH_SIZE = 1  # one call per document: the export spends many calls
    settings.XERO_EXPORT_MAX_INLINE_WAIT = 20.0
    xero.configure(MINUTE_SECONDS=MINUTE_SECONDS, LIMIT_MINUTE=PER_MINUTE, LIMIT_CONCURRENT=CONCURRENT)
    return xero


def _tenant_counts(xero) -> dict:
    (counts,) = xero.counts(tenant=KOWHAI)["tenants"].values()
    return counts


def _in_threads(*targets) -> list[Exception]:
    failures: list[Exception] = []

    def run(target):
        try:
            target()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return failures


def _slow_sandbox(xero) -> None:
    xero.limits_reset()
    xero.set_fault(kind="slow", delay=SLOW_ANSWER)


def test_a_list_refresh_and_an_export_at_once_stay_under_xeros_limits(budgeted, kowhai):
    org, admin = kowhai
    connection = xero_live.connect(org, admin, KOWHAI)
    for i in range(INVOICES):
        document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"KB-{i:03d}",
                        date=timezone.localdate(), contact_name="Cuba Street Café",
                        lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("12.50"),
                                        account_code="200", tax_type="OUTPUT2")])
    exports.exports_enqueue_range(organisation=org, actor=admin, date_from=timezone.localdate() - timedelta(days=1),
                                  date_to=timezone.localdate())
    refresh = lists.lists_refresh_enqueue(organisation=org, actor=admin, lists=lists.ORDER)
    tokens.access_token(connection.pk)  # fresh before the race: the test is about call slots
    _slow_sandbox(budgeted)
    before = _tenant_counts(budgeted)

    failures = _in_threads(
        lambda: lists.lists_refresh_run(refresh_id=refresh.pk),
        lambda: exports.exports_drain(organisation_id=org.pk, max_seconds=90),
        lambda: exports.exports_drain(organisation_id=org.pk, max_seconds=90),
    )

    after = _tenant_counts(budgeted)
    assert failures == []
    assert after["api_429"] - before["api_429"] == 0  # neither the minute nor the concurrent limit was hit
    spent = after["api_calls"] - before["api_calls"]
    assert spent >= INVOICES + len(lists.ORDER)  # both really ran against the sandbox, side by side
    refresh.refresh_from_db()
    assert refresh.status == ListRefresh.Status.DONE, refresh.results
    numbers = [d["InvoiceNumber"] for d in budgeted.documents(tenant=KOWHAI, kind="invoice")
               if d["InvoiceNumber"].startswith("KB-")]
    assert sorted(numbers) == [f"KB-{i:03d}" for i in range(INVOICES)]  # each exactly once
    assert ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED).count() == INVOICES


def test_without_the_budget_the_same_load_gets_429s(budgeted, kowhai):
    """The control: the seam's bare client (no budget) under the same load is refused."""
    org, admin = kowhai
    connection = xero_live.connect(org, admin, KOWHAI)
    token = tokens.access_token(connection.pk)
    _slow_sandbox(budgeted)
    before = _tenant_counts(budgeted)
    refused = []

    def reader():
        api = AccountingApi(tenant_id=connection.tenant_id, token_provider=lambda stale: token)
        for _ in range(3):
            try:
                api.read_list("Currencies")
            except errors.RateLimited:
                refused.append(1)

    _in_threads(*[reader] * 3)
    assert refused and _tenant_counts(budgeted)["api_429"] - before["api_429"] == len(refused)
