"""The seam counts its own calls: every `_request` is wrapped by `observe_xero_calls`, which
turns the typed error it raised (or its success) into the outcome label of
`observability.metrics`. Here, not in `observability`, because it reads the seam's error
taxonomy: the seam imports the counters, the counters never import the seam."""
import functools

import requests

from ..observability import metrics
from . import errors


def outcome_for_error(exc: Exception) -> str:
    """The outcome label for the typed error the seam raised (see xero_connect.xero.errors)."""
    if isinstance(exc, errors.XeroUnavailable):
        if isinstance(exc.__cause__, requests.Timeout):
            return metrics.TIMEOUT
        if exc.status is None:
            return metrics.NETWORK
        return metrics.UNREADABLE if 200 <= exc.status < 300 else metrics.SERVER_ERROR
    by_type = ((errors.RateLimited, metrics.RATE_LIMITED), (errors.ReauthorisationRequired, metrics.INVALID_GRANT),
               (errors.OAuthError, metrics.OAUTH_ERROR), (errors.TokenExpired, metrics.UNAUTHORIZED),
               (errors.ConnectionRevoked, metrics.FORBIDDEN), (errors.AccessDenied, metrics.FORBIDDEN),
               (errors.NotFound, metrics.NOT_FOUND), (errors.ValidationFailed, metrics.VALIDATION))
    return next((outcome for kind, outcome in by_type if isinstance(exc, kind)), metrics.ERROR)


def observe_xero_calls(request_fn):
    """Decorate the seam's `_request(method, url, *, event=…, …)`: count every call once, by
    resource (from `event`), method and outcome, and every 429 with its Retry-After."""

    @functools.wraps(request_fn)
    def observed(method, url, *args, **kwargs):
        event = kwargs.get("event", "xero.api")
        try:
            response = request_fn(method, url, *args, **kwargs)
        except Exception as exc:
            outcome = outcome_for_error(exc)
            metrics.xero_call_observed(event=event, method=method, outcome=outcome,
                                       retry_after=getattr(exc, "retry_after", None),
                                       problem=getattr(exc, "problem", ""))
            raise
        metrics.xero_call_observed(event=event, method=method, outcome=metrics.OK)
        return response

    return observed
