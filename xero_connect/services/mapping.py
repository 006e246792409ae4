"""Account mapping, write side (#15): host categories arrive with documents (or are declared),
suggestions are offered, a person confirms, the chart is checked after every list refresh.

Items that name an unmapped (or broken) category wait as "Needs mapping" — parked by the export
runner before any call to Xero — and are put back in the queue by `exports_release_needs_mapping`
whenever a mapping is confirmed or the chart is refreshed, exactly as items waiting for the
connection are released after a reconnect.
"""
import hashlib
import logging
import re

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .. import messages as words
from .. import roles
from ..models import Account, CategoryMapping, HostCategory, TaxRate, TrackingOption
from ..roles import Action
from ..selectors import mapping as selectors
from ..selectors.connections import current_connection, lists_tenant_id
from ..xero import errors
from .exports import exports_release_needs_mapping
from .list_rows import account_fields
from .xero_access import NoCallSlot, api_for, connection_usable, record_xero_failure

log = logging.getLogger("xero.mapping")
Kind = HostCategory.Kind


class MappingRefused(ValueError):
    """A mapping that does not fit (wrong class, archived, another Xero organisation): the
    message says which and why."""


def categories_register(*, organisation, found) -> int:
    """Make sure the host categories in `found` — an iterable of (kind, code) — exist for the
    organisation (names default to the code). Returns how many were new. Two queries."""
    wanted = {(kind, code) for kind, code in found if kind and code}
    if not wanted:
        return 0
    have = set(HostCategory.objects.filter(organisation=organisation, code__in={c for _, c in wanted})
               .values_list("kind", "code"))
    new = [HostCategory(organisation=organisation, kind=kind, code=code, name=code) for kind, code in wanted - have]
    HostCategory.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def categories_declare(*, organisation, declared) -> dict[str, int]:
    """Declare host categories up front (the API's POST /categories/): `declared` is an iterable
    of (kind, code, name) — `name` "" keeps the current name (the code, for a new category).
    New ones are created, a changed name is updated, and suggestions are made for the Xero
    organisation linked now. Returns {"created", "renamed", "unchanged"} counts. A handful of
    queries however many categories."""
    wanted: dict[tuple[str, str], str] = {}
    for kind, code, name in declared:
        wanted[(kind, code)] = name or wanted.get((kind, code), "")
    have = {(c.kind, c.code): c for c in HostCategory.objects.filter(
        organisation=organisation, code__in={code for _, code in wanted})}
    new, renamed, unchanged = [], [], 0
    for (kind, code), name in wanted.items():
        found = have.get((kind, code))
        if found is None:
            new.append(HostCategory(organisation=organisation, kind=kind, code=code, name=name or code))
        elif name and found.name != name:
            found.name = name
            renamed.append(found)
        else:
            unchanged += 1
    with transaction.atomic():
        HostCategory.objects.bulk_create(new, ignore_conflicts=True)
        HostCategory.objects.bulk_update(renamed, ["name"])
    if new:
        mapping_suggest(organisation=organisation)
    log.info("xero.mapping.categories_declared organisation=%s created=%s renamed=%s", organisation.pk, len(new),
             len(renamed))
    return {"created": len(new), "renamed": len(renamed), "unchanged": unchanged}


# --- suggestions -------------------------------------------------------------------------------

_DEFAULT_NAMES = {
    Kind.SALES: ("sales", "revenue"),
    Kind.PURCHASE: ("purchases", "cost of goods sold", "general expenses"),
    Kind.PAYMENT_METHOD: ("business bank account", "bank"),
}


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", (text or "").lower()) if len(t) > 2}


def _best(candidates, category: HostCategory, label, defaults=()):
    """The candidate sharing most words with the category's code and name; else the first
    whose label is one of `defaults` (in that order); else None."""
    want = _tokens(category.code) | _tokens(category.name)
    scored = [(len(want & _tokens(label(c))), c) for c in candidates]
    scored = [s for s in scored if s[0] > 0]
    if scored:
        return max(scored, key=lambda s: s[0])[1]
    for name in defaults:
        for c in candidates:
            if label(c).lower() == name:
                return c
    return None


def suggestion_for(category: HostCategory, *, accounts, tax_rates, options) -> dict:
    """{"account"|"tax_rate"|"tracking_option": row} suggested for `category`, from already
    filtered choices: by name first, then by type (e.g. "Sales" for a sales category, the bank
    account for a payment method). {} when nothing fits."""
    kind = category.kind
    if kind in (Kind.SALES, Kind.PURCHASE, Kind.PAYMENT_METHOD):
        fitting = accounts[kind]
        account = _best(fitting, category, lambda a: a.name, _DEFAULT_NAMES[kind])
        if account is None and kind == Kind.PAYMENT_METHOD:
            account = next((a for a in fitting if a.type == "BANK"), None)
        if account is None:
            return {}
        out = {"account": account}
        if account.tax_type and kind in (Kind.SALES, Kind.PURCHASE):
            tax = next((t for t in tax_rates[kind] if t.tax_type == account.tax_type), None)
            if tax:
                out["tax_rate"] = tax
        return out
    if kind == Kind.TAX_CODE:
        exact = next((t for t in tax_rates[Kind.TAX_CODE] if t.tax_type.lower() == category.code.lower()), None)
        tax = exact or _best(tax_rates[Kind.TAX_CODE], category, lambda t: t.name)
        return {"tax_rate": tax} if tax else {}
    option = _best(options, category, lambda o: o.name)
    return {"tracking_option": option} if option else {}


def mapping_suggest(*, organisation) -> int:
    """Suggestions for every host category that has no mapping for the Xero organisation linked
    now (after a first connect, a switch of Xero organisation, or new categories). They are
    shown as suggestions and never used until a person confirms them. Returns how many were
    made. Nothing is suggested before the organisation was ever connected."""
    tenant_id = lists_tenant_id(organisation=organisation)
    if not tenant_id:
        return 0
    mapped = set(CategoryMapping.objects.filter(organisation=organisation, tenant_id=tenant_id)
                 .values_list("category_id", flat=True))
    todo = list(HostCategory.objects.filter(organisation=organisation).exclude(pk__in=mapped))
    if not todo:
        return 0
    accounts, tax_rates, options = selectors.choices(organisation=organisation, tenant_id=tenant_id)
    made = []
    for category in todo:
        found = suggestion_for(category, accounts=accounts, tax_rates=tax_rates, options=options)
        if found:
            made.append(CategoryMapping(organisation=organisation, tenant_id=tenant_id, category=category,
                                        is_suggestion=True, **found))
    CategoryMapping.objects.bulk_create(made, ignore_conflicts=True)
    return len(made)


# --- confirming -------------------------------------------------------------------------------

def _check(category: HostCategory, tenant_id: str, account, tax_rate, tracking_option) -> None:
    kind = category.kind
    label = category.get_kind_display().lower()
    for row in (account, tax_rate, tracking_option):
        if row is not None and (row.organisation_id != category.organisation_id or row.tenant_id != tenant_id):
            raise MappingRefused("That choice belongs to another Xero organisation than the one linked now.")
        if row is not None and not row.is_active:
            raise MappingRefused(f"{row} is archived in Xero: choose an active one.")
    if kind in (Kind.SALES, Kind.PURCHASE, Kind.PAYMENT_METHOD):
        if account is None:
            raise MappingRefused(f"Choose the Xero account for the {label} {category.code}.")
        if not selectors.account_row_fits(kind, account):
            raise MappingRefused(f"{account} ({account.type}) does not fit a {label}.")
    if tax_rate is not None and kind in (Kind.SALES, Kind.PURCHASE):
        if not TaxRate.objects.filter(pk=tax_rate.pk).filter(selectors.tax_fits(kind)).exists():
            raise MappingRefused(f"The tax rate {tax_rate} cannot be used on a {label}'s account in Xero.")
    if kind == Kind.TAX_CODE and tax_rate is None:
        raise MappingRefused(f"Choose the Xero tax rate for the tax code {category.code}.")
    if kind == Kind.DIMENSION and tracking_option is None:
        raise MappingRefused(f"Choose the Xero tracking option for the dimension {category.code}.")


@transaction.atomic
def mapping_save(*, organisation, actor, category: HostCategory, account: Account | None = None,
                 tax_rate: TaxRate | None = None, tracking_option: TrackingOption | None = None) -> CategoryMapping:
    """Confirm what `category` means in the Xero organisation linked now (checked: active, of
    that Xero organisation, of a fitting class — else MappingRefused). Items waiting as "Needs
    mapping" go back in the queue (and out, once they resolve). AdminRequired (a
    PermissionDenied) unless the actor may MAP (roles.require_actor: an Admin, an API key of
    the organisation, or None for the app itself)."""
    roles.require_actor(actor=actor, organisation=organisation, action=Action.MAP)
    if category.organisation_id != organisation.pk:
        raise MappingRefused("That category belongs to another organisation.")
    tenant_id = lists_tenant_id(organisation=organisation)
    if not tenant_id:
        raise MappingRefused(words.CONNECT_BEFORE_MAPPING)
    _check(category, tenant_id, account, tax_rate, tracking_option)
    mapping, _ = CategoryMapping.objects.update_or_create(
        category=category, tenant_id=tenant_id, defaults={
            "organisation": organisation, "account": account, "tax_rate": tax_rate,
            "tracking_option": tracking_option, "is_suggestion": False, "confirmed_by": actor,
            "confirmed_at": timezone.now(), "problem": "", "flagged_at": None})
    log.info("xero.mapping.saved organisation=%s category=%s", organisation.pk, category.pk)
    _release(organisation, actor)
    return mapping


@transaction.atomic
def mapping_accept_suggestions(*, organisation, actor) -> int:
    """Confirm every suggestion of the Xero organisation linked now in one go (each checked as
    in `mapping_save`; one that no longer fits is left as a suggestion). Returns how many.
    AdminRequired unless the actor may MAP, as in `mapping_save`."""
    roles.require_actor(actor=actor, organisation=organisation, action=Action.MAP)
    tenant_id = lists_tenant_id(organisation=organisation)
    confirmed = 0
    for m in CategoryMapping.objects.filter(organisation=organisation, tenant_id=tenant_id, is_suggestion=True
                                            ).select_related("category", "account", "tax_rate", "tracking_option"):
        try:
            _check(m.category, tenant_id, m.account, m.tax_rate, m.tracking_option)
        except MappingRefused:
            continue
        m.is_suggestion, m.confirmed_by, m.confirmed_at = False, actor, timezone.now()
        m.save(update_fields=["is_suggestion", "confirmed_by", "confirmed_at", "updated_at"])
        confirmed += 1
    if confirmed:
        _release(organisation, actor)
    return confirmed


def _release(organisation, actor) -> int:
    return exports_release_needs_mapping(organisation=organisation, actor=actor)


# --- when the chart changes ---------------------------------------------------------------------

def _gone(status: str) -> str:
    return "deleted" if (status or "").upper() == "DELETED" else "archived"


def mappings_check_chart(*, organisation, notify: bool = True) -> int:
    """After a list refresh: confirmed mappings of the Xero organisation linked now whose
    account, tax rate or tracking option was archived or deleted in Xero are flagged (shown on
    the mapping page and in the portal's needs-attention queue); a flag whose cause was restored
    is cleared. Admins get ONE email listing the newly flagged ones. Items naming a flagged
    category wait "Needs mapping" at pre-flight instead of failing against Xero; items waiting
    go back in the queue when a flag clears. Returns how many were newly flagged."""
    tenant_id = lists_tenant_id(organisation=organisation)
    if not tenant_id:
        return 0
    now = timezone.now()
    newly, cleared = [], 0
    for m in CategoryMapping.objects.filter(organisation=organisation, tenant_id=tenant_id, is_suggestion=False
                                            ).select_related("category", "account", "tax_rate",
                                                             "tracking_option__category"):
        problem = ""
        for row, what in ((m.account, "The account {}"), (m.tax_rate, "The tax rate {}"),
                          (m.tracking_option, "The tracking option {}")):
            if row is not None and not row.is_active:
                problem = words.mapping_flag(what=what.format(row), gone=_gone(row.status))
                break
        if problem and not m.problem:
            m.problem, m.flagged_at = problem[:300], now
            m.save(update_fields=["problem", "flagged_at", "updated_at"])
            newly.append(m)
        elif not problem and m.problem:
            m.problem, m.flagged_at = "", None
            m.save(update_fields=["problem", "flagged_at", "updated_at"])
            cleared += 1
    if newly:
        log.warning("xero.mapping.flagged organisation=%s mappings=%s", organisation.pk, len(newly))
        if notify:
            _email_admins(organisation, newly)
    if cleared:
        _release(organisation, None)
    return len(newly)


def _email_admins(organisation, flagged) -> int:
    url = settings.SITE_URL.rstrip("/") + reverse("mapping_index", args=[organisation.slug])
    body = words.mapping_flagged_email_body(
        organisation_name=organisation.name, url=url,
        flagged_lines=[f"{m.category.code} ({m.category.get_kind_display().lower()}): {m.problem}" for m in flagged])
    subject = words.mapping_flagged_email_subject(organisation.name, len(flagged))
    sent = 0
    for admin in roles.admins_of(organisation):
        if not admin.email:
            continue
        try:
            sent += send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [admin.email])
        except Exception:  # noqa: BLE001 - a mail server hiccup must not break the refresh
            log.exception("xero.mapping.notify.failed organisation=%s", organisation.pk)
    return sent


# --- creating a missing account in Xero ---------------------------------------------------------

# The account types a person may create for a category, by kind (a bank account needs bank
# details Xero asks for in its own screens, so payment methods are mapped to existing ones).
CREATABLE_TYPES = {Kind.SALES: ("REVENUE", "SALES", "OTHERINCOME"),
                   Kind.PURCHASE: ("EXPENSE", "DIRECTCOSTS", "OVERHEADS")}
CREATE_ACCOUNT_MAX_WAIT = 10.0  # seconds the mapping page waits for a call slot to create an account
ACCOUNT_CODE_MAX = 10  # Xero: "Account Code is too long. Maximum of 10 characters allowed"


def mapping_create_account(*, organisation, actor, category: HostCategory, code: str, name: str,
                           account_type: str) -> CategoryMapping:
    """Create the account in Xero (PUT /Accounts, one per request, one call booked in the shared
    rate budget) after the person confirmed its code, name and type, keep it in the chart here,
    and map `category` to it. Refused before any call (MappingRefused) when the type does not
    fit the category or the code or name is already in the chart; Xero's own refusal comes back
    as MappingRefused with Xero's message verbatim; other Xero failures (connection, limits,
    outage) as MappingRefused in messages.py's words. AdminRequired before anything else
    unless the actor may MAP, as in `mapping_save`."""
    roles.require_actor(actor=actor, organisation=organisation, action=Action.MAP)
    code, name, account_type = (code or "").strip(), " ".join((name or "").split()), (account_type or "").strip()
    if category.organisation_id != organisation.pk:
        raise MappingRefused("That category belongs to another organisation.")
    if account_type not in CREATABLE_TYPES.get(category.kind, ()):
        raise MappingRefused(f"A {category.get_kind_display().lower()} needs an account of type "
                             f"{', '.join(CREATABLE_TYPES.get(category.kind, ())) or '(none: map an existing one)'}.")
    if not code or len(code) > ACCOUNT_CODE_MAX:
        raise MappingRefused(f"Give the account a code of 1 to {ACCOUNT_CODE_MAX} characters.")
    if not name or len(name) > 150:
        raise MappingRefused("Give the account a name of 1 to 150 characters.")
    connection = current_connection(organisation=organisation)
    if not connection_usable(connection):
        raise MappingRefused("Xero is not connected: connect it first, then create the account.")
    tenant_id = connection.tenant_id
    taken = Account.objects.filter(organisation=organisation, tenant_id=tenant_id)
    if taken.filter(code__iexact=code).exists():
        raise MappingRefused(f"The code {code} is already in your Xero chart of accounts: choose it, or another code.")
    if taken.filter(name__iexact=name).exists():
        raise MappingRefused(f"An account named {name} is already in your Xero chart of accounts.")
    key = "xc1-acct-" + hashlib.sha256(f"{tenant_id}|{code}|{name}|{account_type}".encode()).hexdigest()
    try:  # one call, in the shared budget like every other (services.xero_access)
        row = api_for(connection, max_wait=CREATE_ACCOUNT_MAX_WAIT).create_account(
            {"Code": code, "Name": name, "Type": account_type}, idempotency_key=key)
    except NoCallSlot:
        raise MappingRefused("Xero's call limit for this organisation is used up for now: try again in a minute.") \
            from None
    except errors.ValidationFailed as exc:
        raise MappingRefused("Xero refused the account: " + " ".join(exc.messages or [str(exc)])) from None
    except errors.XeroError as exc:  # connection, limits, outage: the words and next step of messages.py
        if isinstance(exc, (errors.ReauthorisationRequired, errors.ConnectionRevoked)):
            record_xero_failure(connection=connection, error=exc, actor=actor)
        raise MappingRefused(str(words.message_for(exc))) from exc
    fields = account_fields(row)
    account, _ = Account.objects.update_or_create(
        organisation=organisation, tenant_id=tenant_id, xero_id=str(row.get("AccountID") or ""), defaults=fields)
    log.info("xero.mapping.account_created organisation=%s code=%s", organisation.pk, code)
    return mapping_save(organisation=organisation, actor=actor, category=category, account=account)
