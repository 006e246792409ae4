"""The one `_request` that speaks HTTP to Xero: timeouts, headers, and every failure turned
into a typed error. Never imports the ORM; never logs tokens."""
import json as jsonlib
import logging
import threading
from dataclasses import dataclass, field

import requests

from ..config import xero_config
from . import errors
from .observed import observe_xero_calls

log = logging.getLogger("xero.http")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_local = threading.local()


def session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = _local.session = requests.Session()
    return s


@dataclass
class Limits:
    """Xero's X-*-Remaining headers, when present."""

    day_remaining: int | None = None
    minute_remaining: int | None = None
    app_minute_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers) -> "Limits":
        def num(name):
            try:
                return int(headers.get(name))
            except (TypeError, ValueError):
                return None

        return cls(num("X-DayLimit-Remaining"), num("X-MinLimit-Remaining"), num("X-AppMinLimit-Remaining"))


@dataclass
class XeroResponse:
    status: int
    data: object
    headers: dict = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


def _json_or_none(resp):
    try:
        return resp.json()
    except ValueError:
        return None


def _detail(payload, resp) -> str:
    if isinstance(payload, dict):
        for key in ("Detail", "detail", "Message", "message", "error_description", "error", "Title"):
            if payload.get(key):
                return str(payload[key])
    return (resp.text or "")[:300]


def _validation_messages(payload) -> list[str]:
    messages = []
    if isinstance(payload, dict):
        for element in payload.get("Elements") or []:
            for err in (element or {}).get("ValidationErrors") or []:
                if err.get("Message"):
                    messages.append(err["Message"])
        if not messages and payload.get("Message"):
            messages.append(str(payload["Message"]))
    return messages


def raise_for_response(resp, *, method: str, event: str) -> None:
    """Map a non-2xx response to a typed error."""
    status = resp.status_code
    payload = _json_or_none(resp)
    detail = _detail(payload, resp)
    if status == 429:
        try:
            retry_after = float(resp.headers.get("Retry-After", "60"))
        except ValueError:
            retry_after = 60.0
        raise errors.RateLimited(retry_after=retry_after, problem=resp.headers.get("X-Rate-Limit-Problem", ""))
    if status == 400 and isinstance(payload, dict) and payload.get("error") == "invalid_grant":
        raise errors.ReauthorisationRequired(errors.ReauthorisationRequired.INVALID_GRANT,
                                             status=status, detail=detail)
    if status in (400, 401) and isinstance(payload, dict) and payload.get("error") and "Elements" not in payload:
        raise errors.OAuthError(detail, error=str(payload.get("error")), status=status)
    if status == 401:
        raise errors.TokenExpired(detail or "Unauthorized", status=status, detail=detail)
    if status == 403:
        if "AuthenticationUnsuccessful" in (resp.text or ""):
            raise errors.ConnectionRevoked("Xero refused access to this organisation (AuthenticationUnsuccessful).",
                                           status=status, detail=detail)
        raise errors.AccessDenied(detail or "Forbidden", status=status, detail=detail)
    if status == 404:
        raise errors.NotFound(detail or "Not found", status=status, detail=detail)
    if 400 <= status < 500:
        raise errors.ValidationFailed(elements=(payload or {}).get("Elements") if isinstance(payload, dict) else [],
                                      messages=_validation_messages(payload) or [detail], status=status, detail=detail)
    raise errors.XeroUnavailable(f"Xero answered {status}: {detail[:200]}", status=status,
                                 maybe_committed=method in WRITE_METHODS and status not in (502, 503), detail=detail)


@observe_xero_calls  # counts every call by resource and outcome (xero_api_calls_total)
def _request(method: str, url: str, *, access_token: str | None = None, tenant_id: str | None = None,
             params=None, json=None, data=None, auth=None, headers=None, idempotency_key: str | None = None,
             if_modified_since: str | None = None, timeout: float | None = None, event: str = "xero.api") -> XeroResponse:
    method = method.upper()
    hdrs = {"Accept": "application/json"}
    if access_token:
        hdrs["Authorization"] = f"Bearer {access_token}"
    if tenant_id:
        hdrs["xero-tenant-id"] = tenant_id
    if idempotency_key:
        hdrs["Idempotency-Key"] = idempotency_key[:128]
    if if_modified_since:
        hdrs["If-Modified-Since"] = if_modified_since
    if headers:
        hdrs.update(headers)
    body = None
    if json is not None:
        body = jsonlib.dumps(json, default=str)
        hdrs["Content-Type"] = "application/json"
    try:
        resp = session().request(method, url, params=params, data=body if body is not None else data, auth=auth,
                                 headers=hdrs, timeout=timeout or xero_config().http_timeout)
    except requests.Timeout as exc:
        log.warning("%s.timeout method=%s tenant=%s", event, method, tenant_id)
        raise errors.XeroUnavailable("Xero did not answer in time.", maybe_committed=method in WRITE_METHODS) from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        log.warning("%s.connection_error method=%s tenant=%s", event, method, tenant_id)
        raise errors.XeroUnavailable("The connection to Xero broke before an answer arrived.",
                                     maybe_committed=method in WRITE_METHODS) from exc
    except requests.RequestException as exc:
        raise errors.XeroUnavailable(f"Could not reach Xero: {exc.__class__.__name__}",
                                     maybe_committed=method in WRITE_METHODS) from exc
    limits = Limits.from_headers(resp.headers)
    if resp.status_code == 304:
        # If-Modified-Since and nothing changed: an empty answer, not a failure.
        return XeroResponse(status=304, data=None, headers=dict(resp.headers), limits=limits)
    if not 200 <= resp.status_code < 300:
        log.info("%s.failed method=%s status=%s tenant=%s", event, method, resp.status_code, tenant_id)
        raise_for_response(resp, method=method, event=event)
    if resp.status_code == 204 or not resp.content:
        data_out = None
    else:
        try:
            data_out = resp.json()
        except ValueError as exc:
            raise errors.XeroUnavailable("Xero sent an answer that could not be read.", status=resp.status_code,
                                         maybe_committed=method in WRITE_METHODS) from exc
        if "json" not in resp.headers.get("Content-Type", "json") and not isinstance(data_out, (dict, list)):
            raise errors.XeroUnavailable("Xero sent an answer that could not be read.", status=resp.status_code,
                                         maybe_committed=method in WRITE_METHODS)
    return XeroResponse(status=resp.status_code, data=data_out, headers=dict(resp.headers), limits=limits)
