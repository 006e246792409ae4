"""Xero's call limits as one budget shared by all processes (rows of RateBudget).

This module books what Xero reports (X-*-Remaining headers, 429 Retry-After). The export
queue builds its pacing on it.
"""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..models import RateBudget
from ..xero.http import Limits


def _scope(tenant_id: str) -> str:
    return f"tenant:{tenant_id}"


def record_limits(*, tenant_id: str, limits: Limits) -> None:
    if limits.minute_remaining is None and limits.day_remaining is None:
        return
    RateBudget.objects.update_or_create(
        scope=_scope(tenant_id),
        defaults={"reported_minute_remaining": limits.minute_remaining,
                  "reported_day_remaining": limits.day_remaining},
    )


def record_rate_limited(*, tenant_id: str, retry_after: float, problem: str) -> None:
    """A 429: nobody calls this tenant (or, for appminute, anybody) before Retry-After."""
    until = timezone.now() + timedelta(seconds=max(retry_after, 0))
    scope = "app" if problem == "appminute" else _scope(tenant_id)
    with transaction.atomic():
        budget, _ = RateBudget.objects.select_for_update().get_or_create(scope=scope)
        if budget.blocked_until is None or budget.blocked_until < until:
            budget.blocked_until = until
        budget.last_problem = problem or ""
        budget.save(update_fields=["blocked_until", "last_problem", "updated_at"])


def blocked_until(*, tenant_id: str):
    now = timezone.now()
    rows = RateBudget.objects.filter(scope__in=[_scope(tenant_id), "app"], blocked_until__gt=now)
    return max((r.blocked_until for r in rows), default=None)
