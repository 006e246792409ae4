"""Operating the service: Prometheus metrics, readiness checks, structured logs, error reporting.

- `metrics`: counters and histograms recorded where things happen (the Xero HTTP seam, token
  refreshes, list refreshes). Import-safe for the seam: no ORM.
- `collectors`: gauges computed from the database at scrape time (export items by state,
  oldest waiting item, connections by status, minute budget of the busiest organisations).
- `exposition`: the registry served at /metrics (prometheus-client multiprocess mode when
  PROMETHEUS_MULTIPROC_DIR is set, so django-q2's forked workers are counted too).
- `readiness`: the checks behind /readyz.
- `logs`: JSON log lines (python-json-logger) with request, organisation, tenant and connection ids.
- `errors`: sentry-sdk set-up with a before_send that scrubs secrets.
"""
