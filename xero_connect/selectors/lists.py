"""Reads for the list pages and refresh results, always inside one organisation."""
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Q

from ..models import (
    Account,
    Contact,
    Currency,
    ExchangeRate,
    ListName,
    ListRefresh,
    ListSyncState,
    TaxRate,
    TrackingOption,
)
from .connections import lists_tenant_id

PAGE_SIZE = 50
LIST_ORDER = [ListName.ACCOUNTS, ListName.CONTACTS, ListName.TAX_RATES, ListName.TRACKING, ListName.CURRENCIES]


@dataclass(frozen=True)
class ListSpec:
    name: str
    label: str
    model: type
    search_fields: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (attribute, heading)


SPECS: dict[str, ListSpec] = {
    ListName.ACCOUNTS: ListSpec(ListName.ACCOUNTS, "Accounts", Account, ("code", "name", "type", "tax_type"),
                                (("code", "Code"), ("name", "Name"), ("type", "Type"), ("account_class", "Class"),
                                 ("tax_type", "Tax type"), ("currency_code", "Currency"),
                                 ("enable_payments", "Payments"))),
    ListName.CONTACTS: ListSpec(ListName.CONTACTS, "Contacts", Contact, ("name", "email"),
                                (("name", "Name"), ("email", "Email"), ("is_supplier", "Supplier"),
                                 ("is_customer", "Customer"), ("default_currency", "Currency"))),
    ListName.TAX_RATES: ListSpec(ListName.TAX_RATES, "Tax rates", TaxRate, ("name", "tax_type"),
                                 (("name", "Name"), ("tax_type", "Tax type"), ("effective_rate", "Rate %"))),
    ListName.TRACKING: ListSpec(ListName.TRACKING, "Tracking categories", TrackingOption, ("name", "category__name"),
                                (("category", "Category"), ("name", "Option"))),
    ListName.CURRENCIES: ListSpec(ListName.CURRENCIES, "Currencies", Currency, ("code", "description"),
                                  (("code", "Code"), ("description", "Description"))),
}
STATUS_FILTERS = {"active": "Active", "inactive": "Inactive (archived or deleted in Xero)", "all": "All"}


def list_items(*, organisation, list_name: str, search: str = "", status: str = "active", page: int | str = 1):
    """One page of a list, searched and filtered. Tracking shows options with their category;
    an archived category makes its options inactive too."""
    spec = SPECS[list_name]
    qs = spec.model.objects.filter(organisation=organisation, tenant_id=lists_tenant_id(organisation=organisation))
    if list_name == ListName.TRACKING:
        qs = qs.select_related("category").order_by("category__name", "name")
        active_q = Q(is_active=True, category__is_active=True)
    else:
        active_q = Q(is_active=True)
    if status == "active":
        qs = qs.filter(active_q)
    elif status == "inactive":
        qs = qs.exclude(active_q)
    search = (search or "").strip()
    if search:
        condition = Q()
        for name in spec.search_fields:
            condition |= Q(**{f"{name}__icontains": search})
        qs = qs.filter(condition)
    return Paginator(qs, PAGE_SIZE).get_page(page)


def list_counts(*, organisation) -> dict[str, int]:
    """Active items per list of the current Xero organisation, for the tabs."""
    tenant_id = lists_tenant_id(organisation=organisation)
    counts = {name: SPECS[name].model.objects.filter(organisation=organisation, tenant_id=tenant_id,
                                                     is_active=True).count()
              for name in LIST_ORDER if name != ListName.TRACKING}
    counts[ListName.TRACKING] = TrackingOption.objects.filter(organisation=organisation, tenant_id=tenant_id,
                                                              is_active=True, category__is_active=True).count()
    return counts


def sync_states(*, organisation) -> dict[str, ListSyncState]:
    """Per list, when it was last refreshed from the current Xero organisation (a refresh from
    an earlier one does not count)."""
    return {s.list_name: s for s in ListSyncState.objects.filter(
        organisation=organisation, tenant_id=lists_tenant_id(organisation=organisation))}


def latest_refresh(*, organisation) -> ListRefresh | None:
    return ListRefresh.objects.filter(organisation=organisation).select_related("actor").first()


def recent_refreshes(*, organisation, limit: int = 10):
    return ListRefresh.objects.filter(organisation=organisation).select_related("actor")[:limit]


def currencies_without_rate(*, organisation) -> list[str]:
    """Inactive currencies that have no valid local exchange rate (why they are off)."""
    valid = {r.currency_code.upper() for r in ExchangeRate.objects.filter(organisation=organisation) if r.is_valid}
    codes = Currency.objects.filter(organisation=organisation, tenant_id=lists_tenant_id(organisation=organisation),
                                    is_active=False).values_list("code", flat=True)
    return [c for c in codes if c.upper() not in valid and c.upper() != organisation.base_currency.upper()]


def refresh_rows(refresh: ListRefresh) -> list[dict]:
    """Per requested list: its label and result (None while it has not run), in run order."""
    labels = dict(ListName.choices)
    rows = []
    for name in refresh.lists:
        result = (refresh.results or {}).get(name)
        rows.append({"name": name, "label": labels.get(name, name), "result": result})
    return rows


def refresh_progress(refresh: ListRefresh) -> dict:
    """What the progress endpoint answers: small, no names of items."""
    running = refresh.status in (ListRefresh.Status.QUEUED, ListRefresh.Status.RUNNING)
    labels = dict(ListName.choices)
    done = [labels.get(n, n) for n in refresh.lists if n in (refresh.results or {})]
    current = next((labels.get(n, n) for n in refresh.lists if n not in (refresh.results or {})), None)
    return {
        "id": refresh.pk,
        "status": refresh.status,
        "status_display": refresh.get_status_display(),
        "finished": not running,
        "steps_done": refresh.steps_done,
        "steps_total": refresh.steps_total or len(refresh.lists),
        "percent": 100 if not running else refresh.percent,
        "done_lists": done,
        "current_list": current if running and refresh.status == ListRefresh.Status.RUNNING else None,
    }
