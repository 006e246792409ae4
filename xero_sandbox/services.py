"""In-process helpers for tests, benchmarks, the control endpoint and the sandbox pages.

Every helper that names a tenant takes `tenant` as a tenant id (UUID or string), a
ShortCode (e.g. "!kWh4R") or an organisation's name, so tests can write whichever they
have at hand. These functions change the sandbox's Xero, never the product.
"""
import time
import uuid
from datetime import date
from urllib.parse import parse_qs, urlencode, urlsplit

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import conf, identity
from . import serializers as s
from .formats import parse_date
from .models import (AccessToken, Account, AuthorisationCode, Connection, Contact, Counter, Currency, Document,
                     Fault, Grant, IdempotencyRecord, InFlightCall, RateWindow, RefreshToken, RuntimeSetting,
                     SandboxApp, SandboxOrganisation, SandboxUser, TaxRate, TrackingCategory)
from .seed import CURRENCY_NAMES, seed_sandbox

__all__ = [
    "sandbox_reset", "limits_reset", "organisation_get", "tenants", "set_fault", "clear_faults", "configure",
    "expire_access_tokens", "documents_count", "documents", "document_find", "archive_account", "restore_account",
    "add_contact", "add_tax_rate", "archive_tax_rate", "disconnect_app", "connected_apps", "lists_summary",
    "set_period_lock_date", "currency_enable", "currency_disable", "counts", "consent_redirect", "seed_sandbox",
]


def organisation_get(tenant) -> SandboxOrganisation:
    if isinstance(tenant, SandboxOrganisation):
        return tenant
    text = str(tenant).strip()
    try:
        return SandboxOrganisation.objects.get(tenant_id=uuid.UUID(text))
    except (ValueError, SandboxOrganisation.DoesNotExist):
        pass
    return SandboxOrganisation.objects.get(Q(short_code=text) | Q(name=text))


def tenants() -> list[dict]:
    """[{tenant_id, name, short_code, base_currency}] of every sandbox organisation."""
    return [{"tenant_id": str(o.tenant_id), "name": o.name, "short_code": o.short_code,
             "base_currency": o.base_currency} for o in SandboxOrganisation.objects.order_by("name")]


@transaction.atomic
def sandbox_reset(*, reseed: bool = True) -> dict:
    """Forget everything (documents, tokens, connections, counters, faults, runtime
    settings, organisations and users) and, by default, seed the demo data again."""
    for model in (IdempotencyRecord, InFlightCall, RateWindow, Counter, Fault, RuntimeSetting, AccessToken,
                  RefreshToken, AuthorisationCode, Connection, Grant):
        model.objects.all().delete()
    Document.objects.filter(target__isnull=False).delete()
    Document.objects.all().delete()
    SandboxUser.objects.all().delete()
    SandboxOrganisation.objects.all().delete()
    SandboxApp.objects.all().delete()
    from . import webhooks

    webhooks.discard()  # events of the Xero just forgotten are never delivered
    return seed_sandbox() if reseed else {}


# --- faults and runtime settings --------------------------------------------------------------


def set_fault(*, kind: str, tenant=None, endpoint: str = "api", path_contains: str = "", methods: str = "",
              count: int | None = None, probability: float = 1.0, delay: float = 0.0, status: int | None = None,
              problem: str = "", retry_after: int | None = None) -> Fault:
    """Inject a fault. kind: maintenance | slow | html | truncated | drop | rate_limit | error.
    count=None → until cleared; count=N → the next N matching calls. endpoint: api | token |
    connections | any. methods: e.g. "PUT,POST"."""
    if kind not in Fault.Kind.values:
        raise ValueError(f"Unknown fault kind {kind!r}; one of {', '.join(Fault.Kind.values)}")
    if endpoint not in {"api", "token", "connections", "any"}:
        raise ValueError("endpoint must be api, token, connections or any")
    return Fault.objects.create(
        kind=kind, organisation=organisation_get(tenant) if tenant else None, endpoint=endpoint,
        path_contains=path_contains or "", methods=methods or "", remaining=count, probability=float(probability),
        delay=float(delay), status=status, problem=problem or "", retry_after=retry_after,
    )


def clear_faults() -> int:
    return Fault.objects.all().delete()[0]


def configure(**values) -> dict:
    """Override XERO_SANDBOX_* tunables at run time, e.g. configure(MINUTE_SECONDS=2,
    ACCESS_TOKEN_TTL=5). A value of None removes the override. Returns the current values."""
    conf.set_many({k.upper(): v for k, v in values.items()})
    return conf.get_many(*conf.NAMES)


def expire_access_tokens(*, tenant=None) -> int:
    """Make access tokens expire now (all, or those whose user+app reach `tenant`)."""
    qs = AccessToken.objects.filter(expires_at__gt=timezone.now())
    if tenant is not None:
        org = organisation_get(tenant)
        pairs = Connection.objects.filter(organisation=org).values_list("app_id", "user_id")
        q = Q(pk__in=[])
        for app_id, user_id in pairs:
            q |= Q(grant__app_id=app_id, grant__user_id=user_id)
        qs = qs.filter(q)
    return qs.update(expires_at=timezone.now())


def limits_reset() -> None:
    """Forget the calls counted so far and start a fresh (time-scaled) minute and day now."""
    RateWindow.objects.all().delete()
    InFlightCall.objects.all().delete()
    conf.set_many({"LIMITS_EPOCH": time.time()})


# --- documents ---------------------------------------------------------------------------------

KIND_ALIASES = {"invoice": "invoice", "invoices": "invoice", "creditnote": "creditnote", "creditnotes": "creditnote",
                "payment": "payment", "payments": "payment", "manualjournal": "manualjournal",
                "manualjournals": "manualjournal"}


def _documents_qs(tenant=None, kind=None, doc_type=None, status=None, include_deleted=True):
    qs = Document.objects.all()
    if tenant is not None:
        qs = qs.filter(organisation=organisation_get(tenant))
    if kind:
        qs = qs.filter(kind=KIND_ALIASES[kind.lower()])
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    if status:
        qs = qs.filter(status=status)
    if not include_deleted:
        qs = qs.exclude(status__in=["DELETED", "VOIDED"])
    return qs


def documents_count(*, tenant=None, kind: str | None = None, doc_type: str | None = None,
                    status: str | None = None) -> int:
    """How many documents the sandbox holds. kind: invoice | creditnote | payment |
    manualjournal; doc_type: ACCREC, ACCPAY, ACCRECCREDIT, ..."""
    return _documents_qs(tenant, kind, doc_type, status).count()


def documents(*, tenant, kind: str | None = None, doc_type: str | None = None) -> list[dict]:
    """The documents as the API would return them (Xero JSON)."""
    qs = _documents_qs(tenant, kind, doc_type).select_related("contact", "target").prefetch_related("payments")
    return [s.document(d, unit_dp=4) for d in qs]


def document_find(*, tenant, number: str | None = None, reference: str | None = None,
                  document_id: str | None = None, kind: str | None = None) -> dict | None:
    qs = _documents_qs(tenant, kind)
    if number is not None:
        qs = qs.filter(number=number)
    if reference is not None:
        qs = qs.filter(reference=reference)
    if document_id is not None:
        qs = qs.filter(document_id=document_id)
    found = qs.select_related("contact", "target").first()
    return s.document(found, unit_dp=4) if found else None


# --- lists -------------------------------------------------------------------------------------


def archive_account(*, tenant, code: str) -> None:
    _account_status(tenant, code, "ARCHIVED")


def restore_account(*, tenant, code: str) -> None:
    _account_status(tenant, code, "ACTIVE")


def _account_status(tenant, code, status):
    account = Account.objects.get(organisation=organisation_get(tenant), code=code)
    account.status = status
    account.save()


def add_contact(*, tenant, name: str, email: str = "", is_customer: bool = True, is_supplier: bool = False,
                default_currency: str = "") -> dict:
    contact = Contact.objects.create(organisation=organisation_get(tenant), name=name, email=email,
                                     is_customer=is_customer, is_supplier=is_supplier,
                                     default_currency=default_currency, updated_at=timezone.now())
    from . import webhooks

    webhooks.notify(contact.organisation, "CONTACT", contact.contact_id, event_type="CREATE")
    return s.contact(contact)


def add_tax_rate(*, tenant, name: str, tax_type: str, rate, for_revenue: bool = True,
                 for_expenses: bool = True, report_tax_type: str = "") -> dict:
    from decimal import Decimal
    row = TaxRate.objects.create(organisation=organisation_get(tenant), name=name, tax_type=tax_type,
                                 rate=Decimal(str(rate)), for_revenue=for_revenue, for_expenses=for_expenses,
                                 report_tax_type=report_tax_type)
    return s.tax_rate(row)


def archive_tax_rate(*, tenant, tax_type: str) -> None:
    TaxRate.objects.filter(organisation=organisation_get(tenant), tax_type=tax_type).update(status="ARCHIVED")


def set_period_lock_date(*, tenant, lock_date) -> None:
    org = organisation_get(tenant)
    org.period_lock_date = parse_date(lock_date) if isinstance(lock_date, str) else lock_date
    org.save(update_fields=["period_lock_date"])


def currency_enable(*, tenant, code: str) -> None:
    Currency.objects.get_or_create(organisation=organisation_get(tenant), code=code.upper(),
                                   defaults={"description": CURRENCY_NAMES.get(code.upper(), code.upper())})


def currency_disable(*, tenant, code: str) -> None:
    Currency.objects.filter(organisation=organisation_get(tenant), code=code.upper()).delete()


# --- connections ---------------------------------------------------------------------------------


def disconnect_app(*, tenant, client_id: str | None = None) -> int:
    """What a Xero user does on the Connected Apps page: remove the app from the
    organisation. The tenant leaves GET /connections and API calls for it answer 403
    AuthenticationUnsuccessful; refreshing the token still works. Returns how many
    connections were removed."""
    qs = Connection.objects.filter(organisation=organisation_get(tenant), removed_at__isnull=True)
    if client_id:
        qs = qs.filter(app__client_id=client_id)
    return qs.update(removed_at=timezone.now(), removed_by="xero-user")


def connected_apps(*, tenant) -> list[dict]:
    org = organisation_get(tenant)
    rows = (Connection.objects.filter(organisation=org, removed_at__isnull=True)
            .values("app__client_id", "app__name").annotate(users=Count("user")).order_by("app__name"))
    return [{"client_id": r["app__client_id"], "name": r["app__name"], "users": r["users"]} for r in rows]


def consent_redirect(authorize_url: str, *, email: str = "demo@xero.example", tenants=None,
                     cancel: bool = False) -> str:
    """Play the Xero user's part without a browser: given the product's authorize URL,
    return the URL Xero would redirect to (redirect_uri?code=…&state=…, or
    error=access_denied when cancel=True). `tenants` defaults to all the user's
    organisations."""
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    app = SandboxApp.objects.get(client_id=params["client_id"])
    redirect_uri = params["redirect_uri"]
    if not app.allows_redirect(redirect_uri):
        raise ValueError(f"redirect_uri {redirect_uri} is not registered for {app.client_id}")
    state = params.get("state")
    sep = "&" if "?" in redirect_uri else "?"
    if cancel:
        return f"{redirect_uri}{sep}{urlencode({'error': 'access_denied', 'state': state or ''})}"
    user = SandboxUser.objects.get(email=email)
    orgs = list(user.organisations.all())
    if tenants is not None:
        wanted = {organisation_get(t).pk for t in tenants}
        orgs = [o for o in orgs if o.pk in wanted]
    code = identity.consent_grant(app=app, user=user, organisations=orgs, scope=params.get("scope", ""),
                                  redirect_uri=redirect_uri, code_challenge=params.get("code_challenge", ""),
                                  nonce=params.get("nonce", ""))
    query = {"code": code, "scope": params.get("scope", "")}
    if state is not None:
        query["state"] = state
    return f"{redirect_uri}{sep}{urlencode(query)}"


# --- counts ------------------------------------------------------------------------------------


def counts(*, tenant=None) -> dict:
    """Totals for tests and benchmarks: API calls received, 429s, replays, documents by
    kind and type, connections."""
    totals = dict(Counter.objects.values_list("name", "value"))
    out = {"api_calls": totals.get("api_calls", 0), "idempotent_replays": totals.get("idempotent_replays", 0),
           "faults": {k.split(":", 1)[1]: v for k, v in totals.items() if k.startswith("faults:")}}
    orgs = [organisation_get(tenant)] if tenant is not None else list(SandboxOrganisation.objects.all())
    out["tenants"] = {}
    for org in orgs:
        by_type = {}
        for row in (Document.objects.filter(organisation=org).values("kind", "doc_type")
                    .annotate(n=Count("id")).order_by()):
            by_type[row["doc_type"] or row["kind"]] = row["n"]
        out["tenants"][str(org.tenant_id)] = {
            "name": org.name,
            "api_calls": totals.get(f"api_calls:{org.tenant_id}", 0),
            "api_429": totals.get(f"api_429:{org.tenant_id}", 0),
            "invoices": Document.objects.filter(organisation=org, kind="invoice").count(),
            "credit_notes": Document.objects.filter(organisation=org, kind="creditnote").count(),
            "payments": Document.objects.filter(organisation=org, kind="payment").count(),
            "manual_journals": Document.objects.filter(organisation=org, kind="manualjournal").count(),
            "documents_by_type": by_type,
            "contacts": Contact.objects.filter(organisation=org).count(),
            "connections": Connection.objects.filter(organisation=org, removed_at__isnull=True).count(),
        }
    return out


def lists_summary(org) -> dict:
    return {"accounts": Account.objects.filter(organisation=org).count(),
            "tax_rates": TaxRate.objects.filter(organisation=org).count(),
            "currencies": list(Currency.objects.filter(organisation=org).values_list("code", flat=True)),
            "tracking_categories": TrackingCategory.objects.filter(organisation=org).count(),
            "contacts": Contact.objects.filter(organisation=org).count()}


def today() -> date:
    return timezone.localdate()


# --- what a Xero user does to a document, and the webhooks it sends (#16) ---------------------

class DocumentActionRefused(ValueError):
    """Xero would not allow this on the document in its current state (the message says why)."""


# Xero's status rules (xero_accounting.yaml Invoice Status, "Invoice status codes"): DRAFT and
# SUBMITTED documents can be DELETED, AUTHORISED ones with nothing paid can be VOIDED.
STATUS_ACTIONS = {"delete": ("DELETED", {"DRAFT", "SUBMITTED"}), "void": ("VOIDED", {"AUTHORISED"})}


def document_actions(doc: Document) -> list[str]:
    """The actions the document page offers for `doc` ("void", "delete", "amount")."""
    if doc.kind not in (Document.Kind.INVOICE, Document.Kind.CREDIT_NOTE) or doc.amount_paid:
        return []
    allowed = [name for name, (_, states) in STATUS_ACTIONS.items() if doc.status in states]
    if doc.status in {"DRAFT", "SUBMITTED", "AUTHORISED"}:
        allowed.append("amount")
    return allowed


def _document(tenant, document_id) -> Document:
    org = organisation_get(tenant)
    return Document.objects.select_related("created_by_app").get(organisation=org, document_id=uuid.UUID(str(document_id)))


def _notify(doc: Document) -> None:
    from . import webhooks

    category = "INVOICE" if doc.kind == Document.Kind.INVOICE else "CREDITNOTE"
    data = {"Type": doc.doc_type, "Status": doc.status} if category == "CREDITNOTE" else None
    webhooks.notify(doc.organisation, category, doc.document_id, event_type="UPDATE", data=data)


@transaction.atomic
def document_set_status(*, tenant, document_id, action: str) -> dict:
    """Void ("void") or delete ("delete") a document as a Xero user would; refused as Xero
    refuses it (wrong status, or a payment applied). Sends the webhook. Returns the document."""
    doc = _document(tenant, document_id)
    if action not in STATUS_ACTIONS or action not in document_actions(doc):
        raise DocumentActionRefused(f"A {doc.status} document with {doc.amount_paid} paid cannot be "
                                    f"{'voided' if action == 'void' else 'deleted'} in Xero.")
    doc.status = STATUS_ACTIONS[action][0]
    doc.updated_at = timezone.now()
    doc.save(update_fields=["status", "updated_at"])
    _notify(doc)
    return s.document(doc, unit_dp=4)


@transaction.atomic
def document_set_amount(*, tenant, document_id, unit_amount) -> dict:
    """Change the first line's UnitAmount (the simple amount edit of the document page) and
    work the totals out again through the same writer the API uses. Sends the webhook."""
    from . import writes

    doc = _document(tenant, document_id)
    if "amount" not in document_actions(doc):
        raise DocumentActionRefused(f"A {doc.status} document with {doc.amount_paid} paid cannot be edited in Xero.")
    try:
        from decimal import Decimal, InvalidOperation
        amount = Decimal(str(unit_amount).strip())
        if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -4:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise DocumentActionRefused(f"“{str(unit_amount)[:20]}” is not an amount (up to 4 decimals).") from None
    source = dict(doc.data.get("Input") or {})
    lines = [dict(line) for line in source.get("LineItems") or []]
    if not lines:
        raise DocumentActionRefused("This document has no lines to change.")
    lines[0]["UnitAmount"] = str(amount)
    lines[0].pop("LineAmount", None)
    id_field = "InvoiceID" if doc.kind == Document.Kind.INVOICE else "CreditNoteID"
    ctx = writes.Context.load(doc.organisation, doc.created_by_app, unit_dp=4)
    writer = writes.write_invoice if doc.kind == Document.Kind.INVOICE else writes.write_credit_note
    try:
        with transaction.atomic():
            saved = writer(ctx, {id_field: str(doc.document_id), "LineItems": lines}, str(doc.document_id))
    except writes.ElementInvalid as exc:
        raise DocumentActionRefused("; ".join(exc.messages)) from None
    _notify(saved)
    return s.document(saved, unit_dp=4)


def webhooks_flush() -> list:
    """Deliver the webhooks waiting in this process (XERO_SANDBOX_WEBHOOK_DELIVERY "manual")."""
    from . import webhooks

    return webhooks.flush()


def webhook_configure(*, client_id: str | None = None, url: str = "", key: str = "") -> dict:
    """Set the webhook URL and key of a sandbox app (default: the app seeded from settings) and
    run Xero's intent-to-receive check. Returns {"url", "verified"}."""
    from django.conf import settings

    from . import webhooks

    return webhooks.configure(client_id=client_id or settings.XERO_CLIENT_ID, url=url, key=key)
