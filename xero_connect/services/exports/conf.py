"""Settings of the export queue: a Django setting if defined, else the environment, else the
default. See README (configuration) for each."""
import os

from django.conf import settings

DEFAULTS = {
    # Elements per call (Xero's advice: up to 50).
    "XERO_EXPORT_BATCH_SIZE": 50,
    # A claim older than this (seconds) belongs to a worker that died: the items are recovered.
    "XERO_EXPORT_CLAIM_LEASE": 120.0,
    # Xero unavailable (5xx, timeouts): automatic attempts before an item is marked failed.
    "XERO_EXPORT_MAX_ATTEMPTS": 5,
    # Backoff after a failure: base * 2^(attempt-1), capped; seconds.
    "XERO_EXPORT_BACKOFF_BASE": 5.0,
    "XERO_EXPORT_BACKOFF_MAX": 300.0,
    # Waits up to this long happen inside the worker; longer ones become a scheduled run.
    "XERO_EXPORT_MAX_INLINE_WAIT": 10.0,
    # One worker task drains a tenant for at most this long, then hands over to a new task.
    "XERO_EXPORT_DRAIN_SECONDS": 240.0,
    # Worker tasks draining one tenant at once (Xero allows 5 concurrent calls).
    "XERO_EXPORT_DRAINS_PER_TENANT": 2,
    # A payment whose invoice is still on its way looks again after this many seconds.
    "XERO_EXPORT_PAYMENT_DEFER": 2.0,
}


def setting(name: str):
    default = DEFAULTS[name]
    if hasattr(settings, name):
        return type(default)(getattr(settings, name))
    raw = os.environ.get(name)
    return type(default)(raw) if raw not in (None, "") else default
