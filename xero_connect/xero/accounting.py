"""Typed calls to Xero's Accounting API for one tenant.

`token_provider(stale_token)` returns a usable access token; it is called again with the
token that got a 401, so the caller can refresh once (under its lock) and the call is retried
once. `on_response(limits)` lets the caller book Xero's remaining-limit headers.
"""
from collections.abc import Callable, Iterator
from datetime import datetime, timezone as dt_timezone
from email.utils import format_datetime
import re

from django.conf import settings

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
    def __init__(self, *, tenant_id: str, token_provider: Callable[[str | None], str],
                 on_response: Callable[[Limits], None] | None = None, base_url: str | None = None):
        self.tenant_id = tenant_id
        self.token_provider = token_provider
        self.on_response = on_response
        self.base_url = (base_url or settings.XERO_API_URL).rstrip("/")
        self.calls = 0

    def call(self, method: str, resource: str, *, params=None, json=None, idempotency_key=None,
             if_modified_since: datetime | None = None, event: str = "xero.api") -> XeroResponse:
        url = f"{self.base_url}/{resource.lstrip('/')}"
        token = self.token_provider(None)
        ims = http_date(if_modified_since) if if_modified_since else None
        for attempt in (1, 2):
            self.calls += 1
            try:
                resp = _request(method, url, access_token=token, tenant_id=self.tenant_id, params=params, json=json,
                                idempotency_key=idempotency_key, if_modified_since=ims, event=event)
            except errors.TokenExpired:
                if attempt == 2:
                    raise
                token = self.token_provider(token)
                continue
            if self.on_response:
                self.on_response(resp.limits)
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
