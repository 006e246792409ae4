"""Typed calls to Xero's Accounting API for one tenant.

`token_provider(stale_token)` returns a usable access token; it is called again with the
token that got a 401, so the caller can refresh once (under its lock) and the call is retried
once.

Around every HTTP request to the Accounting API the client calls two hooks, in the spirit of
Sentry's `BaseApiClient.finalize_request` / `track_response_data`: `finalize_request()` before
(it may wait, or raise to refuse the call) and `track_response(ticket, limits=, error=)` after,
whatever happened. They do nothing here; `services.xero_access` subclasses the client to spend
and book the shared rate budget there, once for every caller. This module stays free of the ORM.
"""
from collections.abc import Callable, Iterator
from datetime import datetime, timezone as dt_timezone
from email.utils import format_datetime
import re


from ..config import xero_config
from . import errors
from .http import Limits, XeroResponse, _request

PAGED = {"Contacts", "Invoices", "CreditNotes", "Payments", "ManualJournals"}
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def parse_xero_date(value) -> datetime | None:
    """'/Date(1552262400000+0000)/' or ISO 8601 → aware datetime (UTC)."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    m = _MS_DATE.match(str(value))
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, tz=dt_timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(dt_timezone.utc), usegmt=True)


class AccountingApi:
    def __init__(self, *, tenant_id: str, token_provider: Callable[[str | None], str], base_url: str | None = None):
        self.tenant_id = tenant_id
        self.token_provider = token_provider
        self.base_url = (base_url or xero_config().api_url).rstrip("/")
        self.calls = 0
        self.last_limits: Limits | None = None  # Xero's X-*-Remaining headers of the latest answer

    # --- hooks around every request (no-ops here) ---------------------------------------
    def finalize_request(self) -> object:
        """Called before each HTTP request; returns a ticket handed to track_response. May
        wait, or raise to refuse the request (then nothing is sent)."""
        return None

    def track_response(self, ticket: object, *, limits: Limits | None, error: errors.XeroError | None) -> None:
        """Called after each request that finalize_request let through: with Xero's limit
        headers when it answered 2xx/304, with the typed error otherwise (error=None and
        limits=None when the request ended in something else)."""

    def _tracked_request(self, method: str, url: str, **kwargs) -> XeroResponse:
        ticket = self.finalize_request()
        try:
            resp = _request(method, url, **kwargs)
        except errors.XeroError as exc:
            self.track_response(ticket, limits=None, error=exc)
            raise
        except BaseException:
            self.track_response(ticket, limits=None, error=None)
            raise
        self.track_response(ticket, limits=resp.limits, error=None)
        self.last_limits = resp.limits
        return resp

    def call(self, method: str, resource: str, *, params=None, json=None, idempotency_key=None,
             if_modified_since: datetime | None = None, event: str = "xero.api") -> XeroResponse:
        url = f"{self.base_url}/{resource.lstrip('/')}"
        token = self.token_provider(None)
        ims = http_date(if_modified_since) if if_modified_since else None
        for attempt in (1, 2):
            self.calls += 1
            try:
                resp = self._tracked_request(method, url, access_token=token, tenant_id=self.tenant_id, params=params,
                                             json=json, idempotency_key=idempotency_key, if_modified_since=ims,
                                             event=event)
            except errors.TokenExpired:
                if attempt == 2:
                    raise
                token = self.token_provider(token)
                continue
            return resp
        raise AssertionError("unreachable")

    # --- reads -------------------------------------------------------------------------
    def organisation(self) -> dict:
        data = self.call("GET", "Organisation", event="xero.organisation.get").data or {}
        orgs = data.get("Organisations") or []
        if not orgs:
            raise errors.XeroUnavailable("Xero's Organisation answer was empty.")
        return orgs[0]

    def read_list(self, resource: str, *, params=None, if_modified_since: datetime | None = None) -> list[dict]:
        """A list that Xero does not page (Accounts, Currencies, TaxRates, TrackingCategories)."""
        data = self.call("GET", resource, params=params, if_modified_since=if_modified_since,
                         event=f"xero.{resource.lower()}.list").data
        return (data or {}).get(resource) or []

    def pages(self, resource: str, *, params=None, if_modified_since: datetime | None = None,
              page_size: int = 1000, max_pages: int = 10_000) -> Iterator[list[dict]]:
        """Yield pages of a paged list until a short page (bounded by max_pages)."""
        for page in range(1, max_pages + 1):
            p = {**(params or {}), "page": page, "pageSize": page_size}
            data = self.call("GET", resource, params=p, if_modified_since=if_modified_since,
                             event=f"xero.{resource.lower()}.page").data or {}
            items = data.get(resource) or []
            yield items
            pagination = data.get("pagination") or {}
            page_count = pagination.get("pageCount")
            if (page_count is not None and page >= page_count) or len(items) < page_size:
                return

    # --- writes ------------------------------------------------------------------------
    def save_batch(self, resource: str, items: list[dict], *, idempotency_key: str, method: str = "PUT") -> list[dict]:
        """PUT (create) or POST (create or update) up to 50 elements with summarizeErrors=false.

        Returns Xero's elements in order, each with StatusAttributeString / ValidationErrors.
        """
        resp = self.call(method, resource, params={"summarizeErrors": "false"}, json={resource: items},
                         idempotency_key=idempotency_key, event=f"xero.{resource.lower()}.save")
        out = (resp.data or {}).get(resource) if isinstance(resp.data, dict) else None
        if not isinstance(out, list) or len(out) != len(items):
            raise errors.XeroUnavailable("Xero's answer to a batch could not be matched to what was sent.",
                                         maybe_committed=True)
        return out

    def find(self, resource: str, *, where: str, page_size: int = 100) -> list[dict]:
        """One page of a paged resource matching Xero's `where` filter (e.g. to look up
        documents by number after an interrupted write)."""
        data = self.call("GET", resource, params={"where": where, "page": 1, "pageSize": page_size},
                         event=f"xero.{resource.lower()}.find").data or {}
        return (data.get(resource) or []) if isinstance(data, dict) else []
