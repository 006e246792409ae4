"""Counters and histograms of what matters to an operator, recorded where it happens.

Every Xero call passes `xero_connect.xero.http._request`, which calls `xero_call_observed`
once per call with the outcome (`xero_connect.xero.observed`); token refreshes and list refreshes are recorded by their
services. Label values come from code (event names, a fixed outcome set), never from data, so
cardinality stays bounded: no per-organisation or per-tenant label here (see `collectors` for
the bounded top-N budget gauge).

In one process the metrics live in prometheus-client's default registry. With
PROMETHEUS_MULTIPROC_DIR set (before this module is imported), prometheus-client writes each
process's values to files in that directory, so the web process serves the sum over itself and
every django-q2 worker it shares the directory with (see `exposition`).

This module never imports the ORM: the HTTP seam imports it.
"""
from prometheus_client import Counter, Histogram

# The outcomes of one HTTP call to Xero (label `outcome` of xero_api_calls_total).
OK = "ok"                      # 2xx, and 304 Not Modified
VALIDATION = "validation"      # 400 with Xero's validation elements, other 4xx Xero refused
UNAUTHORIZED = "401"           # access token rejected (refreshed once and retried by the caller)
FORBIDDEN = "403"              # AuthenticationUnsuccessful (app removed in Xero) or a missing scope
NOT_FOUND = "404"
RATE_LIMITED = "429"
SERVER_ERROR = "5xx"
TIMEOUT = "timeout"            # no answer within XERO_HTTP_TIMEOUT
NETWORK = "network"            # connection refused or dropped before an answer
INVALID_GRANT = "invalid_grant"
OAUTH_ERROR = "oauth_error"    # another OAuth error body (invalid_client, unauthorized_client…)
UNREADABLE = "unreadable"      # 2xx whose body could not be read (HTML, truncated)
ERROR = "error"                # anything else the seam raised (a bug)
OUTCOMES = (OK, VALIDATION, UNAUTHORIZED, FORBIDDEN, NOT_FOUND, RATE_LIMITED, SERVER_ERROR, TIMEOUT, NETWORK,
            INVALID_GRANT, OAUTH_ERROR, UNREADABLE, ERROR)

XERO_CALLS = Counter(
    "xero_api_calls", "HTTP calls to Xero by resource and outcome.", ["resource", "method", "outcome"])
XERO_RATE_LIMITED = Counter(
    "xero_rate_limited", "429 answers from Xero by the limit Xero named (X-Rate-Limit-Problem).", ["problem"])
XERO_RETRY_AFTER = Histogram(
    "xero_retry_after_seconds", "Retry-After of Xero's 429 answers, in seconds.",
    buckets=(1, 5, 10, 30, 60, 120, 300, 900, 3600, 86400))
TOKEN_REFRESHES = Counter(
    "xero_token_refreshes", "Access-token refreshes by outcome (ok, invalid_grant, failed).", ["outcome"])
LIST_REFRESH_SECONDS = Histogram(
    "xero_list_refresh_duration_seconds", "Wall time of one Refresh lists run, by final status.", ["status"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800))


def resource_for_event(event: str) -> str:
    """The resource label for a seam event name: "xero.invoices.save" → "invoices",
    "xero.token.revoke" → "token"; anything else → "other". Event names are code constants."""
    parts = (event or "").split(".")
    if len(parts) >= 2 and parts[0] == "xero" and parts[1].isidentifier():
        return parts[1][:40]
    return "other"


def xero_call_observed(*, event: str, method: str, outcome: str, retry_after: float | None = None,
                       problem: str = "") -> None:
    """Count one HTTP call to Xero. `retry_after` (seconds) and `problem` only for a 429."""
    XERO_CALLS.labels(resource_for_event(event), method.upper(), outcome).inc()
    if outcome == RATE_LIMITED:
        XERO_RATE_LIMITED.labels((problem or "unknown")[:20]).inc()
        if retry_after is not None:
            XERO_RETRY_AFTER.observe(max(float(retry_after), 0.0))


def token_refresh_observed(*, outcome: str) -> None:
    """Count one token refresh attempt: "ok", "invalid_grant" (needs reconnect) or "failed"."""
    TOKEN_REFRESHES.labels(outcome).inc()


def list_refresh_observed(*, status: str, seconds: float) -> None:
    """Record how long one Refresh lists run took (seconds, wall time) and how it ended."""
    LIST_REFRESH_SECONDS.labels(status).observe(max(seconds, 0.0))
