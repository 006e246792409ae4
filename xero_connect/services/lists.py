"""Lists: the imports after every (re)connect and Refresh lists.

Each list is read from Xero first — no database transaction is held while Xero answers — and
then applied in one transaction: upsert by Xero id (tax rates by TaxType, currencies by code),
mark inactive what Xero archived or deleted, never delete a row. Documents and export records
are never touched. A failure in one list leaves that list as it was and the other lists still
run; a connection problem stops the run with the reason and moves the connection's state.

`ListRefresh.results` holds, per list name, {added, updated, archived, unchanged, calls,
error, error_title, next_step, full_read, changes: {added: [...], updated: [...], archived:
[...]}} and for currencies also `skipped: [{code, description, reason}]` and `in_list` (the
codes the currency list holds afterwards). When the run stops
before reading anything (not connected, or the connection broke) the reason is under the key
"_failure" as {title, explanation, next_step}.

Incremental reads: Accounts and Contacts take If-Modified-Since. The mark (largest
UpdatedDateUTC seen) is kept per list in ListSyncState together with the tenant it belongs
to; a new tenant means a full read. An incremental answer holds only changed items, so an
item is archived from its Status in the answer, never from its absence; only a full read
marks absent items inactive (Xero deleted them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import messages as words
from .. import task_queue
from ..messages import UserMessage, message_for
from ..models import (
    Account,
    Contact,
    Currency,
    ExchangeRate,
    ListName,
    ListRefresh,
    ListSyncState,
    Organisation,
    TaxRate,
    TrackingCategory,
    TrackingOption,
    WebhookEvent,
    XeroConnection,
)
from ..names import contact_name_key
from ..observability import metrics
from ..selectors.connections import current_connection
from ..xero import errors
from ..xero.accounting import AccountingApi, parse_xero_date
from . import mapping, xero_access
from .list_rows import account_fields, is_active
from .webhooks_out import webhooks_emit

log = logging.getLogger("xero_connect.lists")

# The order lists are refreshed in (and shown in).
ORDER: list[str] = [ListName.CURRENCIES, ListName.ACCOUNTS, ListName.TAX_RATES, ListName.CONTACTS,
                    ListName.TRACKING]
CONNECT_LISTS: list[str] = [ListName.CURRENCIES, ListName.ACCOUNTS]
CONTACTS_PAGE_SIZE = 1000
# A queued refresh younger than this answers a second request for the same lists; a refresh
# "running" for longer than this is taken to have lost its worker and may be run again.
STALE_AFTER = timedelta(minutes=15)
CHANGES_SHOWN = 50  # names kept per kind of change, for the result page
_CHUNK = 500
FINISHED = {ListRefresh.Status.DONE, ListRefresh.Status.PARTIAL, ListRefresh.Status.FAILED}


def product_name() -> str:
    return settings.PRODUCT_NAME


# --- enqueue ------------------------------------------------------------------------------

def ordered_lists(lists=None) -> list[str]:
    """The requested list names in refresh order; all lists when none are named."""
    if not lists:
        return list(ORDER)
    wanted = {str(name) for name in lists}
    unknown = wanted - set(ORDER)
    if unknown:
        raise ValueError(f"Unknown list(s): {', '.join(sorted(unknown))}. Known: {', '.join(ORDER)}.")
    return [name for name in ORDER if name in wanted]


def _create_refresh(*, organisation: Organisation, actor, trigger: str, lists) -> ListRefresh:
    names = ordered_lists(lists)
    return ListRefresh.objects.create(organisation=organisation, actor=actor, trigger=trigger, lists=names,
                                      steps_total=len(names))


def lists_refresh_enqueue(*, organisation: Organisation, actor=None, trigger: str = ListRefresh.Trigger.MANUAL,
                          lists=None) -> ListRefresh:
    """Record a refresh and run it in the background once this transaction commits.

    A refresh of the same organisation that is still queued and covers these lists answers
    instead (pressing the button twice does not read Xero twice).
    """
    names = ordered_lists(lists)
    waiting = ListRefresh.objects.filter(organisation=organisation, status=ListRefresh.Status.QUEUED,
                                         created_at__gte=timezone.now() - STALE_AFTER)
    for refresh in waiting:
        if set(names) <= set(refresh.lists):
            return refresh
    refresh = _create_refresh(organisation=organisation, actor=actor, trigger=trigger, lists=names)
    task_queue.enqueue_on_commit(task_queue.LISTS_REFRESH_RUN, refresh.pk)
    log.info("lists.refresh.queued refresh=%s org=%s trigger=%s lists=%s", refresh.pk, organisation.pk, trigger,
             ",".join(names))
    return refresh


def lists_import_on_connect(*, organisation: Organisation, actor=None) -> ListRefresh:
    """Currencies and account codes, imported automatically after every (re)connect."""
    return lists_refresh_enqueue(organisation=organisation, actor=actor, trigger=ListRefresh.Trigger.CONNECT,
                                 lists=CONNECT_LISTS)


def lists_refresh_now(*, organisation: Organisation, actor=None, trigger: str = ListRefresh.Trigger.COMMAND,
                      lists=None) -> ListRefresh:
    """Record a refresh and run it here and now (management command, bulk jobs)."""
    refresh = _create_refresh(organisation=organisation, actor=actor, trigger=trigger, lists=lists)
    return lists_refresh_run(refresh_id=refresh.pk)


# --- run ----------------------------------------------------------------------------------

def _claim(refresh_id: int) -> bool:
    """Queued → running, once; a refresh whose worker died long ago may be claimed again."""
    now = timezone.now()
    claimed = ListRefresh.objects.filter(pk=refresh_id, status=ListRefresh.Status.QUEUED).update(
        status=ListRefresh.Status.RUNNING, started_at=now)
    if not claimed:
        claimed = ListRefresh.objects.filter(pk=refresh_id, status=ListRefresh.Status.RUNNING,
                                             started_at__lt=now - STALE_AFTER).update(started_at=now)
    return bool(claimed)


def _words(message: UserMessage) -> dict:
    return {"title": message.title, "explanation": message.explanation, "next_step": message.next_step,
            "action": message.action}


def not_connected_message(connection: XeroConnection | None) -> UserMessage:
    """Why lists cannot be read, titled with the connection state's one name, with the next step."""
    code = connection.status if connection is not None and connection.is_current else words.NOT_CONNECTED
    return words.not_connected_message(code)


def _error_result(message: UserMessage, *, calls: int = 0) -> dict:
    return {"added": 0, "updated": 0, "archived": 0, "unchanged": 0, "calls": calls,
            "error": f"{message.title}. {message.explanation}", "error_title": message.title,
            "next_step": message.next_step, "changes": {"added": [], "updated": [], "archived": []}}


def _finish(refresh: ListRefresh, status: str) -> ListRefresh:
    refresh.status = status
    refresh.finished_at = timezone.now()
    refresh.save(update_fields=["status", "finished_at", "results", "steps_done", "steps_total"])
    webhooks_emit(organisation=refresh.organisation, event_type=WebhookEvent.LISTS_REFRESHED, items=[{"refresh": {
        "id": refresh.pk, "status": status, "lists": {name: {k: (result or {}).get(k) for k in (
            "added", "updated", "archived", "unchanged", "error")} for name, result in (refresh.results or {}).items()}}}])
    log.info("lists.refresh.finished refresh=%s org=%s status=%s", refresh.pk, refresh.organisation_id, status)
    if refresh.started_at:
        metrics.list_refresh_observed(status=status, seconds=(refresh.finished_at - refresh.started_at).total_seconds())
    return refresh


def lists_refresh_run(*, refresh_id: int) -> ListRefresh:
    """Read each requested list from Xero in turn, saving progress and results after each."""
    if not _claim(refresh_id):
        return ListRefresh.objects.get(pk=refresh_id)
    refresh = ListRefresh.objects.select_related("organisation").get(pk=refresh_id)
    organisation = refresh.organisation
    names = ordered_lists(refresh.lists)
    refresh.steps_total, refresh.steps_done, refresh.results = len(names), 0, {}
    refresh.save(update_fields=["steps_total", "steps_done", "results"])
    log.info("lists.refresh.started refresh=%s org=%s lists=%s", refresh.pk, organisation.pk, ",".join(names))

    connection = current_connection(organisation=organisation)
    if not xero_access.connection_usable(connection):
        refresh.results = {"_failure": _words(not_connected_message(connection))}
        return _finish(refresh, ListRefresh.Status.FAILED)

    api = xero_access.api_for(connection)
    succeeded = failed = 0
    for index, name in enumerate(names):
        calls_before = api.calls
        try:
            tally = IMPORTERS[name](organisation=organisation, connection=connection, api=api)
            result = tally.as_result()
            succeeded += 1
        except (errors.ReauthorisationRequired, errors.ConnectionRevoked) as exc:
            log.warning("lists.refresh.connection_problem refresh=%s org=%s list=%s error=%s", refresh.pk,
                        organisation.pk, name, exc.__class__.__name__)
            xero_access.record_xero_failure(connection=connection, error=exc, actor=refresh.actor)
            message = message_for(exc)
            refresh.results[name] = _error_result(message, calls=api.calls - calls_before)
            for rest in names[index + 1:]:
                refresh.results[rest] = _error_result(UserMessage(
                    "Not refreshed", f"The refresh stopped before this list: {message.title.lower()}.",
                    message.next_step, message.action))
            refresh.results["_failure"] = _words(message)
            refresh.steps_done = len(names)
            return _finish(refresh, ListRefresh.Status.PARTIAL if succeeded else ListRefresh.Status.FAILED)
        except errors.XeroError as exc:  # a 429 is already booked in the shared budget by the client
            log.warning("lists.refresh.list_failed refresh=%s org=%s list=%s error=%s", refresh.pk,
                        organisation.pk, name, exc.__class__.__name__)
            result = _error_result(message_for(exc))
            failed += 1
        except xero_access.NoCallSlot as slot:
            log.warning("lists.refresh.no_call_slot refresh=%s org=%s list=%s reason=%s", refresh.pk,
                        organisation.pk, name, slot.reason)
            result = _error_result(message_for(slot.as_rate_limited(), retry_at=slot.retry_at))
            failed += 1
        except Exception:  # a bug must not leave the refresh "running" forever, nor stop the other lists
            log.exception("lists.refresh.list_crashed refresh=%s org=%s list=%s", refresh.pk, organisation.pk, name)
            result = _error_result(UserMessage(
                "Something went wrong", "This list could not be refreshed because of an unexpected error.",
                "Press Refresh lists again; if it keeps failing, contact support.", "retry", "bad"))
            failed += 1
        result["calls"] = api.calls - calls_before
        refresh.results[name] = result
        refresh.steps_done = index + 1
        refresh.save(update_fields=["results", "steps_done"])
    if not failed:
        status = ListRefresh.Status.DONE
    else:
        status = ListRefresh.Status.PARTIAL if succeeded else ListRefresh.Status.FAILED
    if succeeded:
        _check_mappings(organisation)
    return _finish(refresh, status)


def _check_mappings(organisation) -> None:
    """The chart may have changed: flag the mappings it broke (one email to the Admins) and
    suggest for categories the Xero organisation linked now has no mapping for (#15)."""
    try:
        mapping.mappings_check_chart(organisation=organisation)
        mapping.mapping_suggest(organisation=organisation)
    except Exception:  # noqa: BLE001 - the refresh itself succeeded; the check runs again next time
        log.exception("lists.refresh.mapping_check_failed org=%s", organisation.pk)


# --- applying a list ----------------------------------------------------------------------

@dataclass
class Tally:
    added: int = 0
    updated: int = 0
    archived: int = 0
    unchanged: int = 0
    calls: int = 0
    full_read: bool = True
    changes: dict = field(default_factory=lambda: {"added": [], "updated": [], "archived": []})
    skipped: list | None = None
    in_list: list | None = None  # currencies: the codes the organisation's list holds after the import

    def note(self, kind: str, label: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if kind in self.changes and len(self.changes[kind]) < CHANGES_SHOWN:
            self.changes[kind].append(label)

    def as_result(self) -> dict:
        out = {"added": self.added, "updated": self.updated, "archived": self.archived,
               "unchanged": self.unchanged, "calls": self.calls, "error": None, "full_read": self.full_read,
               "changes": self.changes}
        if self.skipped is not None:
            out["skipped"] = self.skipped
        if self.in_list is not None:
            out["in_list"] = self.in_list
        return out


def _upsert(*, model, existing: dict, incoming: dict, make, label, tally: Tally, now, full_read: bool,
            absent_status: str = "DELETED") -> None:
    """Upsert `incoming` {key: fields} against `existing` {key: obj}; with a full read, mark
    absent active rows inactive. Bulk writes, so tens of thousands of rows stay few queries."""
    to_create, to_update, unchanged_pks, changed_fields = [], [], [], set()
    for key, fields in incoming.items():
        obj = existing.get(key)
        if obj is None:
            to_create.append(make(key, fields, now))
            tally.note("added", label(key, fields))
            continue
        diff = {name: value for name, value in fields.items() if getattr(obj, name) != value}
        if not diff:
            unchanged_pks.append(obj.pk)
            tally.note("unchanged", "")
            continue
        was_active = obj.is_active
        for name, value in diff.items():
            setattr(obj, name, value)
        obj.last_seen_at = now
        changed_fields.update(diff)
        to_update.append(obj)
        tally.note("archived" if was_active and not obj.is_active else "updated", label(key, fields))
    if full_read:
        for key, obj in existing.items():
            if key not in incoming and obj.is_active:
                obj.is_active = False
                obj.status = absent_status
                changed_fields.update({"is_active", "status"})
                to_update.append(obj)
                tally.note("archived", label(key, {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}))
    if to_create:
        model.objects.bulk_create(to_create, batch_size=_CHUNK)
    if to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields | {"last_seen_at"}), batch_size=_CHUNK)
    for start in range(0, len(unchanged_pks), _CHUNK):
        model.objects.filter(pk__in=unchanged_pks[start:start + _CHUNK]).update(last_seen_at=now)


def _sync_state(organisation, list_name) -> ListSyncState:
    state, _ = ListSyncState.objects.get_or_create(organisation=organisation, list_name=list_name)
    return state


def _mark_for(organisation, list_name, connection):
    """The If-Modified-Since mark, or None for a full read (never read, or another tenant)."""
    state = ListSyncState.objects.filter(organisation=organisation, list_name=list_name).first()
    if state is None or state.tenant_id != connection.tenant_id or state.last_refreshed_at is None:
        return None
    return state.modified_since


def _save_state(organisation, list_name, connection, *, now, mark=None, keep_mark=False) -> None:
    state = ListSyncState.objects.select_for_update().filter(organisation=organisation, list_name=list_name).first()
    if state is None:
        state = _sync_state(organisation, list_name)
    if keep_mark and state.tenant_id == connection.tenant_id:
        if mark is not None and (state.modified_since is None or mark > state.modified_since):
            state.modified_since = mark
    else:
        state.modified_since = mark
    state.tenant_id = connection.tenant_id
    state.last_refreshed_at = now
    state.save()


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    except (InvalidOperation, ValueError):
        return None


_active = is_active


def _max_updated(items, current):
    mark = current
    for item in items:
        moment = item.get("updated_in_xero_at")
        if moment is not None and (mark is None or moment > mark):
            mark = moment
    return mark


# Accounts ---------------------------------------------------------------------------------

_account_fields = account_fields


def import_accounts(*, organisation, connection, api: AccountingApi) -> Tally:
    tenant_id = connection.tenant_id  # lists belong to one Xero organisation
    mark = _mark_for(organisation, ListName.ACCOUNTS, connection)
    before = api.calls
    rows = api.read_list("Accounts", if_modified_since=mark)
    incoming = {row["AccountID"]: _account_fields(row) for row in rows if row.get("AccountID")}
    tally = Tally(full_read=mark is None, calls=api.calls - before)
    now = timezone.now()
    with transaction.atomic():
        existing = {a.xero_id: a for a in Account.objects.filter(organisation=organisation, tenant_id=tenant_id)}
        _upsert(model=Account, existing=existing, incoming=incoming,
                make=lambda key, f, now: Account(organisation=organisation, tenant_id=tenant_id, xero_id=key, first_seen_at=now,
                                                  last_seen_at=now, **f),
                label=lambda key, f: f"{f['code']} {f['name']}".strip(), tally=tally, now=now, full_read=mark is None)
        _save_state(organisation, ListName.ACCOUNTS, connection, now=now,
                    mark=_max_updated(incoming.values(), mark), keep_mark=mark is not None)
    return tally


# Contacts ---------------------------------------------------------------------------------

def _contacts_upsert(*, organisation, tenant_id: str, incoming: dict, tally: Tally, now, full_read: bool) -> None:
    """Upsert contacts {ContactID: fields} into the tenant's list; a full read also marks the
    absent ones inactive. Reads the existing rows in chunks, writes in bulk."""
    if full_read:
        existing = {c.xero_id: c for c in Contact.objects.filter(organisation=organisation, tenant_id=tenant_id)}
    else:
        existing = {}
        keys = list(incoming)
        for start in range(0, len(keys), _CHUNK):
            existing.update({c.xero_id: c for c in Contact.objects.filter(
                organisation=organisation, tenant_id=tenant_id, xero_id__in=keys[start:start + _CHUNK])})
    _upsert(model=Contact, existing=existing, incoming=incoming,
            make=lambda key, f, now: Contact(organisation=organisation, tenant_id=tenant_id, xero_id=key,
                                              first_seen_at=now, last_seen_at=now, **f),
            label=lambda key, f: f["name"], tally=tally, now=now, full_read=full_read)


def contacts_store(*, organisation, tenant_id: str, rows: list[dict]) -> int:
    """Store Xero Contact elements (e.g. read by `IDs=` after a webhook) in the tenant's list,
    the same way a refresh does, without marking any other contact inactive. Returns how many
    elements with a ContactID were stored."""
    incoming = {row["ContactID"]: _contact_fields(row) for row in rows if row.get("ContactID")}
    _contacts_upsert(organisation=organisation, tenant_id=tenant_id, incoming=incoming,
                     tally=Tally(full_read=False), now=timezone.now(), full_read=False)
    return len(incoming)


def _contact_fields(row: dict) -> dict:
    status = (row.get("ContactStatus") or "ACTIVE").upper()
    return {
        "name": (row.get("Name") or "")[:255], "email": (row.get("EmailAddress") or "")[:255],
        "is_supplier": bool(row.get("IsSupplier")), "is_customer": bool(row.get("IsCustomer")),
        "default_currency": (row.get("DefaultCurrency") or "")[:3], "status": status[:20],
        "match_key": contact_name_key(row.get("Name"))[:255],
        "is_active": _active(status), "updated_in_xero_at": parse_xero_date(row.get("UpdatedDateUTC")),
    }


def import_contacts(*, organisation, connection, api: AccountingApi) -> Tally:
    """Suppliers and customers, 1,000 a page; archived ones are asked for explicitly so an
    incremental read sees a contact being archived."""
    tenant_id = connection.tenant_id  # lists belong to one Xero organisation
    mark = _mark_for(organisation, ListName.CONTACTS, connection)
    before = api.calls
    incoming: dict[str, dict] = {}
    for page in api.pages("Contacts", params={"includeArchived": "true"}, if_modified_since=mark,
                          page_size=CONTACTS_PAGE_SIZE):
        for row in page:
            if row.get("ContactID"):
                incoming[row["ContactID"]] = _contact_fields(row)
    tally = Tally(full_read=mark is None, calls=api.calls - before)
    now = timezone.now()
    with transaction.atomic():
        _contacts_upsert(organisation=organisation, tenant_id=tenant_id, incoming=incoming, tally=tally, now=now,
                         full_read=mark is None)
        _save_state(organisation, ListName.CONTACTS, connection, now=now,
                    mark=_max_updated(incoming.values(), mark), keep_mark=mark is not None)
    return tally


# Tax rates --------------------------------------------------------------------------------

def import_tax_rates(*, organisation, connection, api: AccountingApi) -> Tally:
    tenant_id = connection.tenant_id  # lists belong to one Xero organisation
    before = api.calls
    rows = api.read_list("TaxRates")
    incoming = {}
    for row in rows:
        tax_type = (row.get("TaxType") or "")[:50]
        if not tax_type:
            continue
        status = (row.get("Status") or "ACTIVE").upper()
        incoming[tax_type] = {"name": (row.get("Name") or tax_type)[:255], "status": status[:20],
                              "is_active": _active(status),
                              "effective_rate": _decimal(row.get("EffectiveRate", row.get("DisplayTaxRate"))),
                              # Which account classes the rate fits (TaxRate.CanApplyTo*,
                              # xero_accounting.yaml); unknown (absent) counts as fitting.
                              "can_apply_to_revenue": row.get("CanApplyToRevenue") is not False,
                              "can_apply_to_expenses": row.get("CanApplyToExpenses") is not False}
    tally = Tally(calls=api.calls - before)
    now = timezone.now()
    with transaction.atomic():
        existing = {t.tax_type: t for t in TaxRate.objects.filter(organisation=organisation, tenant_id=tenant_id)}
        _upsert(model=TaxRate, existing=existing, incoming=incoming,
                make=lambda key, f, now: TaxRate(organisation=organisation, tenant_id=tenant_id, tax_type=key, first_seen_at=now,
                                                  last_seen_at=now, **f),
                label=lambda key, f: f"{f['name']} ({key})",
                tally=tally, now=now, full_read=True)
        _save_state(organisation, ListName.TAX_RATES, connection, now=now)
    return tally


# Tracking categories ----------------------------------------------------------------------

def import_tracking(*, organisation, connection, api: AccountingApi) -> Tally:
    """Categories and their options (both counted); archived ones included so they can be
    marked inactive."""
    tenant_id = connection.tenant_id  # lists belong to one Xero organisation
    before = api.calls
    rows = api.read_list("TrackingCategories", params={"includeArchived": "true"})
    categories, options = {}, {}
    for row in rows:
        cat_id = row.get("TrackingCategoryID")
        if not cat_id:
            continue
        status = (row.get("Status") or "ACTIVE").upper()
        categories[cat_id] = {"name": (row.get("Name") or "")[:255], "status": status[:20],
                              "is_active": _active(status)}
        for opt in row.get("Options") or []:
            if opt.get("TrackingOptionID"):
                opt_status = (opt.get("Status") or "ACTIVE").upper()
                options[(cat_id, opt["TrackingOptionID"])] = {
                    "name": (opt.get("Name") or "")[:255], "status": opt_status[:20],
                    # An option of an archived category cannot be used either.
                    "is_active": _active(opt_status) and _active(status)}
    tally = Tally(calls=api.calls - before)
    now = timezone.now()
    with transaction.atomic():
        existing = {c.xero_id: c for c in TrackingCategory.objects.filter(organisation=organisation,
                                                                          tenant_id=tenant_id)}
        _upsert(model=TrackingCategory, existing=existing, incoming=categories,
                make=lambda key, f, now: TrackingCategory(organisation=organisation, tenant_id=tenant_id, xero_id=key, first_seen_at=now,
                                                          last_seen_at=now, **f),
                label=lambda key, f: f["name"], tally=tally, now=now, full_read=True)
        category_by_xero_id = {c.xero_id: c for c in TrackingCategory.objects.filter(organisation=organisation,
                                                                                     tenant_id=tenant_id)}
        existing_options = {(o.category.xero_id, o.xero_id): o for o in
                            TrackingOption.objects.filter(organisation=organisation, tenant_id=tenant_id)
                            .select_related("category")}

        def make_option(key, f, now):
            return TrackingOption(organisation=organisation, tenant_id=tenant_id, category=category_by_xero_id[key[0]], xero_id=key[1],
                                  first_seen_at=now, last_seen_at=now, **f)

        def option_label(key, f):
            category = category_by_xero_id.get(key[0])
            return f"{category.name}: {f['name']}" if category else f["name"]

        _upsert(model=TrackingOption, existing=existing_options, incoming=options, make=make_option,
                label=option_label, tally=tally, now=now, full_read=True)
        _save_state(organisation, ListName.TRACKING, connection, now=now)
    return tally


# Currencies -------------------------------------------------------------------------------

def currency_skip_reason(code: str, rate: ExchangeRate | None) -> str | None:
    """Why a currency enabled in Xero is not added to the organisation's list (None: it is)."""
    if rate is None:
        return f"no exchange rate set up for {code} in {product_name()}"
    if not rate.is_valid:
        return f"the exchange rate for {code} in {product_name()} is not above zero"
    return None


def import_currencies(*, organisation, connection, api: AccountingApi) -> Tally:
    """Xero's enabled currencies that also have a valid local exchange rate (the base currency
    always counts as valid). The rest are reported as skipped, with the reason."""
    tenant_id = connection.tenant_id  # lists belong to one Xero organisation
    before = api.calls
    rows = api.read_list("Currencies")
    rates = {r.currency_code.upper(): r for r in ExchangeRate.objects.filter(organisation=organisation)}
    base = (organisation.base_currency or "").upper()
    incoming, skipped = {}, []
    for row in rows:
        code = (row.get("Code") or "").upper()[:3]
        if not code:
            continue
        description = (row.get("Description") or "")[:100]
        status = (row.get("Status") or "ACTIVE").upper()
        if not _active(status):
            reason = f"{code} is not enabled in Xero"
        else:
            reason = None if code == base else currency_skip_reason(code, rates.get(code))
        if reason:
            skipped.append({"code": code, "description": description, "reason": reason})
        incoming[code] = {"description": description, "is_active": reason is None, "status": ""}
    tally = Tally(calls=api.calls - before, skipped=skipped)
    now = timezone.now()
    with transaction.atomic():
        existing = {c.code: c for c in Currency.objects.filter(organisation=organisation, tenant_id=tenant_id)}
        # A skipped currency gets no row; one that lost its rate keeps its row, inactive.
        incoming = {code: f for code, f in incoming.items() if f["is_active"] or code in existing}
        _upsert(model=Currency, existing=existing, incoming=incoming,
                make=lambda key, f, now: Currency(organisation=organisation, tenant_id=tenant_id, code=key, first_seen_at=now,
                                                  last_seen_at=now, **f),
                label=lambda key, f: key, tally=tally, now=now,
                full_read=True, absent_status="")
        _save_state(organisation, ListName.CURRENCIES, connection, now=now)
    tally.in_list = sorted(code for code, f in incoming.items() if f["is_active"])
    return tally


IMPORTERS = {
    ListName.CURRENCIES: import_currencies,
    ListName.ACCOUNTS: import_accounts,
    ListName.TAX_RATES: import_tax_rates,
    ListName.CONTACTS: import_contacts,
    ListName.TRACKING: import_tracking,
}
