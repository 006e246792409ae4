"""/metrics: who may read it, and that it tells the truth after real work.

The export test runs the product against the sandbox over real HTTP (like tests/e2e): 12 invoices
exported with one injected 429, then a connection whose sign-in Xero revoked meets invalid_grant.
The scrape then shows exactly those counts. Counters are process-wide, so each test compares a
scrape before with one after."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.workers import wait_for
from tests.xero_live import connect
from xero_connect.models import (ConnectionStatus, DocumentType, ExportRecord, ExportState, RateBudget, Role,
                                 XeroConnection)
from xero_connect.services import exports, tokens
from xero_connect.services.documents import LineSpec, document_create
from xero_connect.xero import errors, oauth

KOWHAI, SOLO = "!kWh4R", "!tL2bK"
TOKEN = "metrics-test-token-0123456789"


def scrape(client=None, **extra) -> dict:
    """{(name, frozenset(labels.items())): value} of one scrape from loopback."""
    response = (client or Client()).get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples, name, **labels) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


def kowhai_with_invoices(count: int, prefix: str):
    """Kōwhai Coffee connected to the sandbox's Kōwhai through the product's own sign-in, with
    `count` sales invoices to export; returns (organisation, its Admin)."""
    org = factories.make_organisation("Kōwhai Coffee", slug="kowhai", base_currency="NZD")
    alice = factories.make_user("alice", first_name="Alice", last_name="Admin")
    factories.add_member(org, alice, Role.ADMIN)
    connect(org, alice, KOWHAI)
    for i in range(count):
        document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number=f"{prefix}-{i:03d}",
                        date=timezone.localdate(), contact_name="Te Aro Kitchen",
                        lines=[LineSpec(description="Beans", quantity=Decimal(2), unit_amount=Decimal("30"),
                                        account_code="200", tax_type="OUTPUT2")])
    return org, alice


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.mark.django_db
def test_an_anonymous_remote_request_is_refused_and_the_token_is_accepted(metrics_token):
    client = Client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    anonymous = client.get("/metrics", **remote)
    assert anonymous.status_code == 401 and b"xero_" not in anonymous.content
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token", **remote).status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN, **remote).status_code == 401  # not "Bearer …"
    accepted = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **remote)
    assert accepted.status_code == 200 and b"xero_export_items" in accepted.content
    assert accepted["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_loopback_may_read_without_token_unless_relayed_by_a_proxy(settings):
    settings.METRICS_TOKEN = ""
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    # A reverse proxy on the same machine relays outside requests from 127.0.0.1.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 401
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_FORWARDED="for=198.51.100.7").status_code == 401
    settings.METRICS_ALLOW_LOOPBACK = False
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    # No token configured means no token opens it (an empty bearer never matches).
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_the_oldest_waiting_item_is_measured_from_when_it_was_queued(org):
    doc = document_create(organisation=org, doc_type=DocumentType.SALES_INVOICE, number="OLD-1",
                          date=timezone.localdate(), contact_name="Cuba Street Café",
                          lines=[LineSpec(description="Beans", quantity=Decimal(1), unit_amount=Decimal("10"),
                                          account_code="200", tax_type="OUTPUT2")])
    ExportRecord.objects.filter(document=doc).update(state=ExportState.WAITING_FOR_CONNECTION,
                                                     queued_at=timezone.now() - timedelta(hours=2))
    samples = scrape()
    age = total(samples, "xero_export_oldest_waiting_seconds", state="waiting")
    assert 7200 <= age < 7300
    assert total(samples, "xero_export_oldest_waiting_seconds", state="queued") == 0
    assert total(samples, "xero_export_items", state="waiting") == 1
    assert total(samples, "xero_connect_metrics_database_up") == 1


@pytest.mark.django_db
def test_the_minute_budget_gauge_names_only_the_busiest_organisations(settings, django_assert_num_queries):
    settings.XERO_METRICS_BUDGET_TOP_N = 3
    now = timezone.now()
    for i in range(15):
        org = factories.make_organisation(f"Busy {i}", slug=f"busy-{i:02d}")
        factories.make_connection(org, tenant_id=f"tenant-{i:02d}")
        RateBudget.objects.create(scope=f"tenant:tenant-{i:02d}", minute_window_start=now, minute_count=i + 1)
    with django_assert_num_queries(6):  # the same handful of queries whatever the number of organisations
        samples = scrape()
    shown = {dict(ls)["organisation"]: v for (n, ls), v in samples.items() if n == "xero_minute_budget_used_ratio"}
    per_minute = settings.XERO_LIMIT_TENANT_MINUTE
    assert shown == {"busy-14": round(15 / per_minute, 4), "busy-13": round(14 / per_minute, 4),
                     "busy-12": round(13 / per_minute, 4)}


def test_after_a_real_export_run_the_counts_are_right(xero, settings, transactional_db):
    settings.XERO_LIMIT_MINUTE_SECONDS = 1.0
    settings.XERO_EXPORT_MAX_INLINE_WAIT = 3.0
    settings.XERO_EXPORT_BACKOFF_BASE = 0.2
    before = scrape()
    org, alice = kowhai_with_invoices(12, "M")
    other = factories.make_organisation("Thistle Lane", slug="thistle", base_currency="GBP")
    factories.add_member(other, alice, Role.ADMIN)
    xero.set_fault(kind="rate_limit", problem="minute", retry_after=1, count=1, tenant=KOWHAI,
                   path_contains="Invoices", methods="PUT,POST")
    exports.exports_enqueue_range(organisation=org, actor=alice, date_from=None, date_to=None)
    wait_for(lambda: ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED).count() == 12,
             timeout=60, interval=0.5, tick=exports.exports_sweep, what="the 12 invoices to be exported")
    assert xero.documents_count(tenant=KOWHAI, kind="invoice") == 12

    # Another organisation's sign-in is revoked at Xero: its next refresh meets invalid_grant.
    solo = connect(other, alice, SOLO)
    oauth.revoke(refresh_token=solo.get_refresh_token())
    XeroConnection.objects.filter(pk=solo.pk).update(access_token_expires_at=timezone.now())
    with pytest.raises(errors.ReauthorisationRequired):
        tokens.access_token(solo.pk)

    settings.XERO_LIMIT_MINUTE_SECONDS = 60.0  # the budget gauge looks back one real minute, not the test's 1 s
    after = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    def delta(name, **labels):
        return total(after, name, **labels) - total(before, name, **labels)

    assert total(after, "xero_export_items", state="exported") == 12
    assert total(after, "xero_export_items", state="queued") == 0
    assert delta("xero_api_calls_total", resource="invoices", outcome="429") == 1
    assert delta("xero_api_calls_total", resource="invoices", outcome="ok") >= 1
    assert delta("xero_api_calls_total", outcome="5xx") == 0
    assert delta("xero_rate_limited_total", problem="minute") == 1
    assert delta("xero_retry_after_seconds_count") == 1 and delta("xero_retry_after_seconds_sum") == 1
    assert delta("xero_token_refreshes_total", outcome="invalid_grant") == 1
    assert delta("xero_token_refreshes_total", outcome="failed") == 0
    assert total(after, "xero_connections", status=ConnectionStatus.NEEDS_RECONNECT) == 1
    assert total(after, "xero_connections", status=ConnectionStatus.CONNECTED) == 1
    assert delta("xero_list_refresh_duration_seconds_count") >= 1  # the imports after each connect
    assert total(after, "xero_minute_budget_used_ratio", organisation="kowhai") > 0


@pytest.mark.slow
def test_counts_made_in_forked_django_q_workers_reach_the_scrape(xero, worker, tmp_path, monkeypatch,
                                                                 transactional_db):
    """Multiprocess mode: the worker cluster (and each process it forks) writes its counters
    under PROMETHEUS_MULTIPROC_DIR; the web process serves their sum."""
    org, alice = kowhai_with_invoices(3, "MP")
    worker(Q_WORKERS="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path), XERO_LIMIT_MINUTE_SECONDS="1")
    exports.exports_enqueue_range(organisation=org, actor=alice, date_from=None, date_to=None)
    wait_for(lambda: ExportRecord.objects.filter(organisation=org, state=ExportState.EXPORTED).count() == 3,
             timeout=60, interval=0.5, what="the worker to export the 3 invoices")

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    assert total(samples, "xero_api_calls_total", resource="invoices", outcome="ok") == 1  # one batch of 3
    assert total(samples, "xero_export_items", state="exported") == 3
