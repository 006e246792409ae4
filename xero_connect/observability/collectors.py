"""Gauges computed from the database when Prometheus scrapes (a custom collector).

Each is one indexed, grouped query, so a scrape costs the same handful of queries whatever the
number of organisations or ledger rows:
- xero_export_items{state}: ledger rows by export state (index on state, next_attempt_at);
- xero_export_oldest_waiting_seconds{state}: age of the oldest item still to go out, per state
  (queued, exporting, waiting for connection), measured from when it was queued; 0 when none;
- xero_connections{status}: current connections by status (index on status, is_current);
- xero_minute_budget_used_ratio{organisation}: share of Xero's per-tenant minute limit used in the
  last minute, for the XERO_METRICS_BUDGET_TOP_N busiest organisations only (bounded labels);
- xero_tenants_rate_blocked: tenants Xero told to wait (a 429's Retry-After not yet over);
- xero_connect_metrics_database_up: 0 when the database could not be read for this scrape.
"""
import logging
from datetime import timedelta

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from ..config import xero_config

log = logging.getLogger("xero_connect.metrics")

WAITING_STATES = ("queued", "exporting", "waiting")


def budget_top(*, now, limit: int) -> list[tuple[str, float]]:
    """[(organisation slug, share of the minute limit used, 0..1+)], busiest first, at most `limit`.

    The share is the larger of what we booked in the current minute window and what Xero last
    reported as used (limit − X-MinLimit-Remaining) in the last minute.
    """
    from ..models import RateBudget, XeroConnection

    minute = timedelta(seconds=xero_config().limit_minute_seconds)
    per_minute = max(xero_config().limit_tenant_minute, 1)
    shares: dict[str, float] = {}
    rows = RateBudget.objects.filter(scope__startswith="tenant:", updated_at__gte=now - minute).values_list(
        "scope", "minute_window_start", "minute_count", "reported_minute_remaining")
    for scope, window_start, count, remaining in rows:
        booked = count / per_minute if window_start and window_start >= now - minute else 0.0
        reported = (per_minute - remaining) / per_minute if remaining is not None else 0.0
        share = max(booked, reported)
        if share > 0:
            shares[scope.split(":", 1)[1]] = share
    top = sorted(shares.items(), key=lambda item: (-item[1], item[0]))[:limit]
    slugs = dict(XeroConnection.objects.filter(is_current=True, tenant_id__in=[t for t, _ in top])
                 .values_list("tenant_id", "organisation__slug"))
    return [(slugs.get(tenant, f"tenant:{tenant[:12]}"), share) for tenant, share in top]


class DatabaseCollector:
    """prometheus-client custom collector: see the module docstring for what it exports."""

    def describe(self):
        return []  # computed at scrape time; nothing to describe up front

    def collect(self):
        up = GaugeMetricFamily("xero_connect_metrics_database_up",
                               "1 when the database could be read for this scrape, else 0.")
        try:
            families = list(self._families())
        except Exception as exc:  # a scrape during an outage says so instead of failing
            log.warning("metrics.collect.failed error=%s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        from ..models import ConnectionStatus, ExportRecord, ExportState, RateBudget, XeroConnection

        now = timezone.now()
        items = GaugeMetricFamily("xero_export_items", "Export ledger items by state.", labels=["state"])
        counts = dict(ExportRecord.objects.order_by().values_list("state").annotate(n=Count("id")))
        for state in ExportState.values:
            items.add_metric([state], counts.get(state, 0))
        yield items

        oldest = GaugeMetricFamily("xero_export_oldest_waiting_seconds",
                                   "Age in seconds of the oldest item still to go out, per state (from when it "
                                   "was queued); 0 when none.", labels=["state"])
        firsts = dict(ExportRecord.objects.filter(state__in=WAITING_STATES).order_by().values_list("state")
                      .annotate(first=Min("queued_at")))
        for state in WAITING_STATES:
            first = firsts.get(state)
            oldest.add_metric([state], max((now - first).total_seconds(), 0.0) if first else 0.0)
        yield oldest

        connections = GaugeMetricFamily("xero_connections", "Current Xero connections by status.", labels=["status"])
        by_status = dict(XeroConnection.objects.filter(is_current=True).order_by().values_list("status")
                         .annotate(n=Count("id")))
        for status in ConnectionStatus.values:
            connections.add_metric([status], by_status.get(status, 0))
        yield connections

        budget = GaugeMetricFamily(
            "xero_minute_budget_used_ratio",
            "Share of Xero's per-organisation minute limit used in the last minute (1 = the whole limit), "
            "for the busiest organisations only.", labels=["organisation"])
        for slug, share in budget_top(now=now, limit=xero_config().metrics_budget_top_n):
            budget.add_metric([slug], round(share, 4))
        yield budget

        blocked = GaugeMetricFamily("xero_tenants_rate_blocked",
                                    "Xero tenants waiting out a 429's Retry-After right now.")
        blocked.add_metric([], RateBudget.objects.filter(scope__startswith="tenant:", blocked_until__gt=now).count())
        yield blocked
