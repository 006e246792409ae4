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
from decimal import Decimal, InvalidOperation
import logging
import re


from ..config import xero_config
from . import errors
from .http import Limits, XeroResponse, _request

log = logging.getLogger("xero.accounting")
PAGED = {"Contacts", "Invoices", "CreditNotes", "Payments", "ManualJournals"}
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
# Numbers read from Xero that the product stores, with the range they must lie in; an element
# whose value is outside (or not a finite number) is refused, with a logged reason, before
# anything stores it. Rates are percentages (TaxRate.EffectiveRate, xero_accounting.yaml).
BOUNDED_NUMBERS: dict[str, dict[str, tuple[Decimal, Decimal]]] = {
    "TaxRates": {"EffectiveRate": (Decimal(0), Decimal(100)), "DisplayTaxRate": (Decimal(0), Decimal(100))},
}
ID_FIELDS = {"Accounts": "AccountID", "Contacts": "ContactID", "TaxRates": "TaxType",
             "TrackingCategories": "TrackingCategoryID", "Currencies": "Code"}


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


def modified_since_value(moment: datetime) -> str:
    """If-Modified-Since as xero_accounting.yaml types it (ISO 8601 date-time), in UTC and to
    the whole second, rounded down so nothing changed in that second is missed:
    `2026-03-02T11:30:00Z`. Xero compares "accurate to the second" (requests-and-responses)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt_timezone.utc)
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def refuse_out_of_range(resource: str, items: list) -> list[dict]:
    """The elements of a list answer the product may store: objects whose bounded numbers
    (BOUNDED_NUMBERS) are finite and in range. Each refused element is logged with its id and
    the reason; the others are returned in order."""
    bounds = BOUNDED_NUMBERS.get(resource, {})
    kept = []
    for item in items or []:
        if not isinstance(item, dict):
            log.warning("xero.list.element_refused resource=%s reason=not-an-object", resource)
            continue
        reason = ""
        for name, (low, high) in bounds.items():
            value = item.get(name)
            if value is None:
                continue
            try:
                number = Decimal(str(value)) if not isinstance(value, bool) else None
            except (InvalidOperation, ValueError):
                number = None
            if number is None or not number.is_finite() or not low <= number <= high:
                reason = f"{name}={str(value)[:40]} outside {low}..{high}"
                break
        if reason:
            log.warning("xero.list.element_refused resource=%s id=%s reason=%s", resource,
                        str(item.get(ID_FIELDS.get(resource, ""), ""))[:60], reason)
            continue
        kept.append(item)
    return kept


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
        ims = modified_since_value(if_modified_since) if if_modified_since else None
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
        return refuse_out_of_range(resource, (data if isinstance(data, dict) else {}).get(resource) or [])

    def pages(self, resource: str, *, params=None, if_modified_since: datetime | None = None,
              page_size: int = 1000, max_pages: int = 10_000) -> Iterator[list[dict]]:
        """Yield pages of a paged list (bounded by max_pages).

        When Xero gives `pagination.pageCount` it decides: pages 1..pageCount are read, a short
        or empty page before the last included (xero_accounting.yaml Pagination). Without it,
        a page shorter than `page_size` is the last."""
        for page in range(1, max_pages + 1):
            p = {**(params or {}), "page": page, "pageSize": page_size}
            data = self.call("GET", resource, params=p, if_modified_since=if_modified_since,
                             event=f"xero.{resource.lower()}.page").data
            data = data if isinstance(data, dict) else {}
            raw = data.get(resource) or []
            yield refuse_out_of_range(resource, raw)
            pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
            page_count = pagination.get("pageCount")
            if isinstance(page_count, int) and not isinstance(page_count, bool) and page_count >= 0:
                if page >= page_count:
                    return
            elif len(raw) < page_size:
                return

    # --- writes ------------------------------------------------------------------------
    def save_batch(self, resource: str, items: list[dict], *, idempotency_key: str, method: str = "PUT",
                   params: dict | None = None) -> list[dict]:
        """PUT (create) or POST (create or update) up to 50 elements with summarizeErrors=false
        (plus `params`, e.g. {"unitdp": 4}).

        Returns Xero's elements in order, each with StatusAttributeString / ValidationErrors.
        """
        resp = self.call(method, resource, params={"summarizeErrors": "false", **(params or {})}, json={resource: items},
                         idempotency_key=idempotency_key, event=f"xero.{resource.lower()}.save")
        out = (resp.data or {}).get(resource) if isinstance(resp.data, dict) else None
        if not isinstance(out, list) or len(out) != len(items):
            raise errors.XeroUnavailable("Xero's answer to a batch could not be matched to what was sent.",
                                         maybe_committed=True)
        return out

    def create_account(self, account: dict, *, idempotency_key: str) -> dict:
        """PUT /Accounts with ONE account ({"Code", "Name", "Type", optional "TaxType"}): Xero
        creates accounts one per request and answers with {"Accounts": [the new account]}
        (xero_accounting.yaml createAccount). A refusal raises errors.ValidationFailed with
        Xero's messages verbatim (e.g. "Please enter a unique Code.")."""
        resp = self.call("PUT", "Accounts", json=account, idempotency_key=idempotency_key,
                         event="xero.accounts.create")
        out = (resp.data or {}).get("Accounts") if isinstance(resp.data, dict) else None
        if not isinstance(out, list) or len(out) != 1 or not isinstance(out[0], dict):
            raise errors.XeroUnavailable("Xero's answer to creating an account could not be read.",
                                         maybe_committed=True)
        return out[0]

    def find(self, resource: str, *, where: str | None = None, params: dict | None = None, page: int = 1,
             page_size: int = 100) -> list[dict]:
        """One page of a paged resource matching `params` (Xero's documented filters such as
        InvoiceNumbers=, IDs=) and/or a `where` filter (e.g. to look up documents after an
        interrupted write)."""
        query = {**(params or {}), "page": page, "pageSize": page_size}
        if where:
            query["where"] = where
        data = self.call("GET", resource, params=query, event=f"xero.{resource.lower()}.find").data or {}
        return (data.get(resource) or []) if isinstance(data, dict) else []
