"""The status card's quick look at Xero: when someone opens the card, ask Xero once whether
it still lists the organisation in this app's connections, so that a removal on Xero's side
("connected here but disconnected there") shows when the user looks, not 30 minutes later.

One `GET /connections` (Xero's identity API, developer.xero.com/documentation/guides/oauth2/
auth-flow "Check the tenants you're authorized to access"), at most once per connection per
`XERO_GLANCE_SECONDS` (cached), booked in the shared rate budget
(`xero_access.granted_connections`); when no slot is free within about a call spacing, the card shows what it last knew instead of waiting.
"""
import logging

from django.core.cache import cache
from django.utils import timezone

from ..config import xero_config
from ..models import ConnectionStatus, XeroConnection
from ..xero import errors
from . import ratelimits, xero_access
from .connection_problems import connection_mark_problem

log = logging.getLogger("xero.glance")

MAX_SLOT_WAIT_SECONDS = 2.0  # never hold a page longer than this for a budget slot


def _slot_wait() -> float:
    """One pacing interval (Xero's 60 calls a minute: about a second), so the look waits at
    most for the next free slot, never behind a queue of exports."""
    return min(MAX_SLOT_WAIT_SECONDS, ratelimits.tenant_interval() + 0.1)


def connection_glance(connection: XeroConnection | None, *, actor=None) -> str:
    """Check a current, connected connection against GET /connections, at most once per
    XERO_GLANCE_SECONDS (xero_config().glance_seconds) per connection. Returns what happened: "listed", "removed"
    (the connection moved to REMOVED_IN_XERO), "skipped" (not due, not connected, or no
    budget slot), or "unknown" (Xero did not answer; nothing changes). Never raises a Xero error.
    Updates `last_health_check_at` when Xero answered."""
    if connection is None or not connection.is_current or connection.status != ConnectionStatus.CONNECTED:
        return "skipped"
    ttl = xero_config().glance_seconds
    now = timezone.now()
    if connection.last_health_check_at and (now - connection.last_health_check_at).total_seconds() < ttl:
        return "skipped"
    if ttl <= 0 or not cache.add(f"xero.glance.{connection.pk}", 1, timeout=ttl):
        return "skipped"  # someone else is looking (or looked) within the window
    try:
        granted = xero_access.granted_connections(connection, max_wait=_slot_wait())
    except xero_access.NoCallSlot:
        return "skipped"
    except errors.XeroError as exc:  # tokens.py moves the state on invalid_grant itself
        log.info("xero.glance.unknown connection=%s error=%s", connection.pk, exc.__class__.__name__)
        return "unknown"
    checked_at = timezone.now()
    XeroConnection.objects.filter(pk=connection.pk).update(last_health_check_at=checked_at)
    connection.last_health_check_at = checked_at
    if any(c.get("tenantId") == connection.tenant_id for c in granted):
        return "listed"
    connection.refresh_from_db()
    connection_mark_problem(
        connection, status=ConnectionStatus.REMOVED_IN_XERO, actor=actor, details={"checks": {"listed": False}},
        reason="Quick check on opening the status card: the organisation is no longer listed in this app's "
               "connections in Xero.")
    connection.refresh_from_db()
    log.info("xero.glance.removed connection=%s tenant=%s", connection.pk, connection.tenant_id)
    return "removed"
