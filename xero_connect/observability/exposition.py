"""The text served at /metrics.

Two ways of counting, chosen by the environment:
- PROMETHEUS_MULTIPROC_DIR unset: one process; the default registry (process metrics and the
  counters of `metrics`) plus the database gauges.
- PROMETHEUS_MULTIPROC_DIR set (web and django-q2 workers on one machine share the directory):
  every process — the web server's and each forked worker — writes its counters to its own
  files there; the web process sums them at scrape time (prometheus-client's multiprocess mode).
  The directory must be emptied before the processes start (scripts/demo does).

Why not counters in the database: a write per Xero call would compete with the rate budget's
rows for locks, and the HTTP seam never imports the ORM. Why not in-process only: django-q2's
workers are forked processes, and the calls that matter (exports) happen there.
"""
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess

from .collectors import DatabaseCollector

_database = CollectorRegistry(auto_describe=False)
_database.register(DatabaseCollector())


def multiprocess_dir() -> str:
    """The shared directory of prometheus-client's multiprocess mode, or "" when off."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def render() -> tuple[bytes, str]:
    """(body, content type) of one scrape in Prometheus's text format."""
    path = multiprocess_dir()
    if path:
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted, path=path)
    else:
        counted = REGISTRY
    return generate_latest(counted) + generate_latest(_database), CONTENT_TYPE_LATEST
