"""Xero's API limits, counted in the database so they hold across processes.

Minute and day limits use fixed windows whose length is time-scaled (MINUTE_SECONDS,
DAY_SECONDS). A call takes one unit of the tenant's minute and day budgets and of the
app's minute budget with conditional UPDATEs inside one transaction: either all three
are taken or none (a refused call does not consume). The concurrent-call limit counts
InFlightCall rows under a lock on the tenant's row.
"""
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from . import conf
from .models import Counter, InFlightCall, RateWindow, SandboxOrganisation

STALE_IN_FLIGHT = timedelta(minutes=5)  # a crashed process's slot is ignored after this


class LimitExceeded(Exception):
    def __init__(self, problem: str, retry_after: int):
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


@dataclass
class Remaining:
    day: int
    minute: int
    app_minute: int

    def headers(self):
        return {"X-DayLimit-Remaining": str(max(0, self.day)), "X-MinLimit-Remaining": str(max(0, self.minute)),
                "X-AppMinLimit-Remaining": str(max(0, self.app_minute))}


def _windows(cfg, now):
    """Window lengths and indexes; `now` is seconds since LIMITS_EPOCH."""
    minute, day = float(cfg["MINUTE_SECONDS"]), float(cfg["DAY_SECONDS"])
    return minute, day, int(now // minute), int(now // day)


NAMES = ("MINUTE_SECONDS", "DAY_SECONDS", "LIMIT_MINUTE", "LIMIT_DAY", "LIMIT_APP_MINUTE", "LIMITS_EPOCH")


def _keys(app_id, org_id):
    return f"tenant:{org_id}:minute", f"tenant:{org_id}:day", f"app:{app_id}:minute"


def take(*, app_id: int, org_id: int) -> Remaining:
    """Count one call, or raise LimitExceeded(problem, retry_after seconds)."""
    cfg = conf.get_many(*NAMES)
    now = time.time() - float(cfg["LIMITS_EPOCH"])
    minute_len, day_len, minute_w, day_w = _windows(cfg, now)
    tenant_minute, tenant_day, app_minute = _keys(app_id, org_id)
    checks = [
        (app_minute, minute_w, int(cfg["LIMIT_APP_MINUTE"]), "appminute", minute_len),
        (tenant_day, day_w, int(cfg["LIMIT_DAY"]), "day", day_len),
        (tenant_minute, minute_w, int(cfg["LIMIT_MINUTE"]), "minute", minute_len),
    ]
    counts = {}
    with transaction.atomic():
        for key, window, limit, problem, length in checks:
            _ensure_row(key, window)
            if not RateWindow.objects.filter(key=key, window=window, count__lt=limit).update(count=F("count") + 1):
                retry = max(1, math.ceil((window + 1) * length - now))
                raise LimitExceeded(problem, retry)
            counts[problem] = (limit, RateWindow.objects.values_list("count", flat=True).get(key=key, window=window))
    return Remaining(day=counts["day"][0] - counts["day"][1], minute=counts["minute"][0] - counts["minute"][1],
                     app_minute=counts["appminute"][0] - counts["appminute"][1])


def admit(*, app_id: int, org_id: int, tenant_key: str) -> tuple[Remaining, int]:
    """Everything a call does before it is answered, in one transaction (one commit):
    count it, take the minute/day/app budgets and a concurrent slot. Raises
    LimitExceeded (after counting the call and the 429)."""
    refused = None
    with transaction.atomic():
        count("api_calls")
        count(f"api_calls:{tenant_key}")
        try:
            with transaction.atomic():
                remaining = take(app_id=app_id, org_id=org_id)
                slot = slot_acquire(org_id=org_id)
        except LimitExceeded as exc:
            count(f"api_429:{tenant_key}")
            refused = exc
    if refused is not None:
        raise refused
    return remaining, slot


def peek(*, app_id: int, org_id: int) -> Remaining:
    """Remaining budgets without counting (for answers that did not count)."""
    cfg = conf.get_many(*NAMES)
    _, _, minute_w, day_w = _windows(cfg, time.time() - float(cfg["LIMITS_EPOCH"]))
    tenant_minute, tenant_day, app_minute = _keys(app_id, org_id)

    def used(key, window):
        return RateWindow.objects.filter(key=key, window=window).values_list("count", flat=True).first() or 0

    return Remaining(day=int(cfg["LIMIT_DAY"]) - used(tenant_day, day_w),
                     minute=int(cfg["LIMIT_MINUTE"]) - used(tenant_minute, minute_w),
                     app_minute=int(cfg["LIMIT_APP_MINUTE"]) - used(app_minute, minute_w))


def _ensure_row(key, window):
    if RateWindow.objects.filter(key=key, window=window).exists():
        return
    try:
        with transaction.atomic():
            RateWindow.objects.create(key=key, window=window, count=0)
    except IntegrityError:
        return  # another process made it first
    RateWindow.objects.filter(key=key, window__lt=window).delete()


def slot_acquire(*, org_id: int) -> int:
    """Take one of the tenant's concurrent-call slots; returns its id (release it)."""
    limit = int(conf.get("LIMIT_CONCURRENT"))
    now = timezone.now()
    with transaction.atomic():
        # The row lock serialises acquirers of one tenant on PostgreSQL; SQLite's
        # IMMEDIATE transactions serialise all writers anyway.
        list(SandboxOrganisation.objects.select_for_update().filter(pk=org_id).values_list("pk", flat=True))
        busy = InFlightCall.objects.filter(organisation_id=org_id, started_at__gt=now - STALE_IN_FLIGHT).count()
        if busy >= limit:
            raise LimitExceeded("concurrent", 1)
        return InFlightCall.objects.create(organisation_id=org_id, started_at=now).pk


def slot_release(slot_id: int):
    InFlightCall.objects.filter(pk=slot_id).delete()


def count(name: str, by: int = 1):
    """Add to a named total (api calls received, 429s answered, ...)."""
    if not Counter.objects.filter(name=name).update(value=F("value") + by):
        try:
            with transaction.atomic():
                Counter.objects.create(name=name, value=by)
        except IntegrityError:
            Counter.objects.filter(name=name).update(value=F("value") + by)
