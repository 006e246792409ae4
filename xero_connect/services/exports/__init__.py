"""Exports and the export queue (issue 6). A package; these are its doors.

- Ledger: `ledger_sync`, `ledger_sync_missing`.
- Queue (people and the connection area): `exports_enqueue`, `exports_enqueue_selected`,
  `exports_enqueue_range`, `exports_retry_failed`, `exports_release_waiting`, `exports_release_needs_mapping`.
- Worker side (django-q2 tasks): `exports_drain`, `exports_sweep`, `exports_recover_stale`.
"""
from .claims import exports_recover_stale, idempotency_key
from .drain import exports_drain
from .enqueue import (
    exports_enqueue,
    exports_enqueue_range,
    exports_enqueue_selected,
    exports_release_needs_mapping,
    exports_release_waiting,
    exports_retry_failed,
)
from .jobs import jobs_refresh
from .ledger import ledger_sync, ledger_sync_missing
from .sweep import exports_sweep

__all__ = [
    "exports_enqueue", "exports_enqueue_range", "exports_enqueue_selected", "exports_release_waiting",
    "exports_release_needs_mapping", "exports_retry_failed", "jobs_refresh", "ledger_sync", "ledger_sync_missing",
    "exports_drain",
    "exports_recover_stale", "idempotency_key", "exports_sweep",
]
