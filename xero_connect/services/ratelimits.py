"""Xero's call limits as one budget shared by all processes and machines (rows of RateBudget).

Two parts:
- booking what Xero reports (X-*-Remaining headers, a 429's Retry-After): `record_limits`,
  `record_rate_limited`, `blocked_until`;
- pacing our own calls so that Xero never has to say 429: `reserve_call` / `release_call`.

Pacing is a GCRA with a burst of one per tenant: calls start at least
(window + margin) / limit seconds apart. Evenly spaced calls keep *any* window of Xero's
length — sliding or fixed, wherever Xero's clock starts it — at or under the limit, which a
count per window of our own could not promise (our window and Xero's would not line up).
Concurrency is a list of leases with an expiry, so a process that dies mid-call frees its
slot when the lease runs out. The daily cap is a count per day window, also capped by what
Xero last reported as remaining. The per-app limit (10,000 a minute over all tenants) is
paced the same way at booking time.

Every decision is taken inside one transaction holding the budget rows (select_for_update on
PostgreSQL; SQLite takes the write lock at BEGIN), so two workers on two machines can never
book the same slot.

Window lengths and limits are settings (config/settings.py, env-driven) so benchmarks can time-scale them to the
sandbox's scaled minute: XERO_LIMIT_MINUTE_SECONDS, XERO_LIMIT_DAY_SECONDS,
XERO_LIMIT_TENANT_MINUTE, XERO_LIMIT_TENANT_CONCURRENT, XERO_LIMIT_TENANT_DAY,
XERO_LIMIT_APP_MINUTE, XERO_LIMIT_MARGIN.
"""
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..config import xero_config
from ..models import RateBudget
from ..xero.http import Limits

APP_SCOPE = "app"

def tenant_scope(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"



# --- what Xero reports ---------------------------------------------------------------------

def record_limits(*, tenant_id: str, limits: Limits) -> None:
    if limits.minute_remaining is None and limits.day_remaining is None:
        return
    # Called after every API answer: one UPDATE, no row lock (nothing is decided on the old value).
    values = {"reported_minute_remaining": limits.minute_remaining, "reported_day_remaining": limits.day_remaining,
              "updated_at": timezone.now()}
    rows = RateBudget.objects.filter(scope=tenant_scope(tenant_id))
    if not rows.update(**values):
        _ensure_rows([tenant_scope(tenant_id)])
        rows.update(**values)


def record_rate_limited(*, tenant_id: str, retry_after: float, problem: str) -> datetime:
    """A 429: nobody calls this tenant (or, for appminute, anybody) before Retry-After."""
    until = timezone.now() + timedelta(seconds=max(retry_after, 0))
    scope = APP_SCOPE if problem == "appminute" else tenant_scope(tenant_id)
    _ensure_rows([scope])
    with transaction.atomic():
        budget = RateBudget.objects.select_for_update().get(scope=scope)
        if budget.blocked_until is None or budget.blocked_until < until:
            budget.blocked_until = until
        if budget.next_call_at is None or budget.next_call_at < until:
            budget.next_call_at = until
        budget.last_problem = problem or ""
        budget.save(update_fields=["blocked_until", "next_call_at", "last_problem", "updated_at"])
    return until


def blocked_until(*, tenant_id: str):
    now = timezone.now()
    rows = RateBudget.objects.filter(scope__in=[tenant_scope(tenant_id), APP_SCOPE], blocked_until__gt=now)
    return max((r.blocked_until for r in rows), default=None)


# --- pacing our own calls ------------------------------------------------------------------

@dataclass
class Reservation:
    """Either a booked slot (`ok`, start at `start_at`, holding lease `lease_id`) or, when not
    `ok`, the moment to come back (`retry_at`) and why (`reason`: rate_limited, day, concurrent,
    pacing)."""

    ok: bool
    tenant_id: str
    start_at: datetime | None = None
    lease_id: str = ""
    retry_at: datetime | None = None
    reason: str = ""

    def wait_seconds(self, now=None) -> float:
        moment = self.start_at if self.ok else self.retry_at
        if moment is None:
            return 0.0
        return max(0.0, (moment - (now or timezone.now())).total_seconds())


def tenant_interval() -> float:
    window = xero_config().limit_minute_seconds
    return window * (1 + xero_config().limit_margin) / max(xero_config().limit_tenant_minute, 1)


def app_interval() -> float:
    window = xero_config().limit_minute_seconds
    return window * (1 + xero_config().limit_margin) / max(xero_config().limit_app_minute, 1)


def _ensure_rows(scopes) -> None:
    existing = set(RateBudget.objects.filter(scope__in=scopes).values_list("scope", flat=True))
    for scope in set(scopes) - existing:
        try:
            with transaction.atomic():
                RateBudget.objects.create(scope=scope)
        except IntegrityError:  # created by another process meanwhile
            pass


def _live(leases, now_epoch: float) -> list[dict]:
    return [lease for lease in (leases or []) if float(lease.get("until", 0)) > now_epoch]


def reserve_call(*, tenant_id: str, max_wait: float = 10.0) -> Reservation:
    """Book the next call for a tenant, starting no later than `max_wait` seconds from now.

    On success the caller waits until `start_at`, makes exactly one call, then calls
    `release_call`. Otherwise nothing is booked and `retry_at` says when to come back.
    """
    scope = tenant_scope(tenant_id)
    _ensure_rows([scope, APP_SCOPE])
    lease_seconds = float(xero_config().http_timeout) + xero_config().limit_lease_slack + max_wait
    with transaction.atomic():
        rows = {b.scope: b for b in RateBudget.objects.select_for_update().filter(scope__in=[scope, APP_SCOPE])}
        tenant, app = rows[scope], rows[APP_SCOPE]
        now = timezone.now()
        now_epoch = time.time()

        blocked = max((b.blocked_until for b in (tenant, app) if b.blocked_until and b.blocked_until > now),
                      default=None)
        if blocked:
            return Reservation(False, tenant_id, retry_at=blocked, reason="rate_limited")

        day = timedelta(seconds=xero_config().limit_day_seconds)
        if tenant.day_window_start is None or now >= tenant.day_window_start + day:
            tenant.day_window_start, tenant.day_count = now, 0
            tenant.reported_day_remaining = None
        day_spent = tenant.day_count >= xero_config().limit_tenant_day or (
            tenant.reported_day_remaining is not None and tenant.reported_day_remaining <= 0)
        if day_spent:
            tenant.save(update_fields=["day_window_start", "day_count", "reported_day_remaining", "updated_at"])
            return Reservation(False, tenant_id, retry_at=tenant.day_window_start + day, reason="day")

        leases = _live(tenant.leases, now_epoch)
        if len(leases) >= xero_config().limit_tenant_concurrent:
            return Reservation(False, tenant_id, reason="concurrent",
                               retry_at=now + timedelta(seconds=xero_config().limit_poll_seconds))

        start = max(now, tenant.next_call_at or now)
        app_next = max(now, app.next_call_at or now)
        if (start - now).total_seconds() > max_wait or (app_next - now).total_seconds() > max_wait:
            return Reservation(False, tenant_id, retry_at=max(start, app_next), reason="pacing")
        start = max(start, app_next)

        lease_id = uuid.uuid4().hex[:12]
        leases.append({"id": lease_id, "until": now_epoch + lease_seconds})
        tenant.leases = leases
        tenant.in_flight = len(leases)
        tenant.next_call_at = start + timedelta(seconds=tenant_interval())
        tenant.day_count += 1
        if tenant.minute_window_start is None or now >= tenant.minute_window_start + timedelta(
                seconds=xero_config().limit_minute_seconds):
            tenant.minute_window_start, tenant.minute_count = now, 0
        tenant.minute_count += 1
        tenant.save(update_fields=["leases", "in_flight", "next_call_at", "day_count", "day_window_start",
                                   "reported_day_remaining", "minute_window_start", "minute_count", "updated_at"])
        app.next_call_at = app_next + timedelta(seconds=app_interval())
        app.save(update_fields=["next_call_at", "updated_at"])
    return Reservation(True, tenant_id, start_at=start, lease_id=lease_id)


def release_call(reservation: Reservation, *, used: bool = True) -> None:
    """Give the concurrency slot back. `used=False` when the booked call was never made: the
    pacing slot is handed back too if nobody booked after it."""
    if not reservation.ok or not reservation.lease_id:
        return
    with transaction.atomic():
        budget = RateBudget.objects.select_for_update().filter(scope=tenant_scope(reservation.tenant_id)).first()
        if budget is None:
            return
        budget.leases = [lease for lease in _live(budget.leases, time.time())
                         if lease.get("id") != reservation.lease_id]
        budget.in_flight = len(budget.leases)
        fields = ["leases", "in_flight", "updated_at"]
        if not used:
            expected_next = reservation.start_at + timedelta(seconds=tenant_interval())
            if budget.next_call_at and abs((budget.next_call_at - expected_next).total_seconds()) < 1e-3:
                budget.next_call_at = reservation.start_at
                budget.day_count = max(0, budget.day_count - 1)
                fields += ["next_call_at", "day_count"]
        budget.save(update_fields=fields)


def budget_snapshot(*, tenant_id: str) -> dict:
    """What the budget looks like now, for pages and benchmarks."""
    budget = RateBudget.objects.filter(scope=tenant_scope(tenant_id)).first()
    if budget is None:
        return {"in_flight": 0, "day_count": 0, "blocked_until": None}
    return {"in_flight": len(_live(budget.leases, time.time())), "day_count": budget.day_count,
            "blocked_until": budget.blocked_until, "next_call_at": budget.next_call_at,
            "reported_day_remaining": budget.reported_day_remaining}
