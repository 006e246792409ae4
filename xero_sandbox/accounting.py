"""The Accounting API's resources: reading lists and items, writing batches.

Pure functions of (organisation, query) → (status, JSON body); the HTTP pipeline
(auth, limits, faults, idempotency) is in gateway.py.
"""
import math
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch

from . import contract, writes
from . import serializers as s
from .formats import HeaderInvalid, envelope_now, parse_modified_since
from .models import Account, Contact, Currency, Document, SandboxOrganisation, TaxRate, TrackingCategory
from .where import WhereError, compile_where

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"


@dataclass(frozen=True)
class Resource:
    name: str  # path segment, e.g. "Invoices"
    plural: str  # envelope key
    scope: str  # granular scope family
    id_field: str = ""
    number_field: str = ""
    kind: str = ""  # Document.Kind for documents
    paged: bool = False
    modified_since: bool = False
    writer: object = None
    # query param → column. Only the parameters xero_accounting.yaml lists for GET /<name> are
    # honoured (contract.list_parameters); any other parameter is ignored, as Xero ignores it.
    list_filters: dict = field(default_factory=dict)


RESOURCES = {r.name.lower(): r for r in [
    Resource("Organisation", "Organisations", "accounting.settings"),
    Resource("Accounts", "Accounts", "accounting.settings", id_field="AccountID", modified_since=True,
             writer=writes.write_account),
    Resource("Currencies", "Currencies", "accounting.settings"),
    Resource("TaxRates", "TaxRates", "accounting.settings"),
    Resource("TrackingCategories", "TrackingCategories", "accounting.settings", id_field="TrackingCategoryID"),
    Resource("Contacts", "Contacts", "accounting.contacts", id_field="ContactID", paged=True, modified_since=True,
             writer=writes.write_contact, list_filters={"IDs": "contact_id"}),
    Resource("Invoices", "Invoices", "accounting.invoices", id_field="InvoiceID", number_field="InvoiceNumber",
             kind=Document.Kind.INVOICE, paged=True, modified_since=True, writer=writes.write_invoice,
             list_filters={"IDs": "document_id", "InvoiceNumbers": "number", "ContactIDs": "contact__contact_id",
                           "Statuses": "status"}),
    Resource("CreditNotes", "CreditNotes", "accounting.invoices", id_field="CreditNoteID",
             number_field="CreditNoteNumber", kind=Document.Kind.CREDIT_NOTE, paged=True, modified_since=True,
             writer=writes.write_credit_note,
             list_filters={"IDs": "document_id", "CreditNoteNumbers": "number", "ContactIDs": "contact__contact_id",
                           "Statuses": "status"}),
    Resource("Payments", "Payments", "accounting.payments", id_field="PaymentID", kind=Document.Kind.PAYMENT,
             paged=True, modified_since=True, writer=writes.write_payment, list_filters={"IDs": "document_id"}),
    Resource("ManualJournals", "ManualJournals", "accounting.manualjournals", id_field="ManualJournalID",
             kind=Document.Kind.MANUAL_JOURNAL, paged=True, modified_since=True, writer=writes.write_manual_journal,
             list_filters={"IDs": "document_id"}),
]}


def envelope(provider: str, plural: str, items: list, **extra) -> dict:
    return {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": provider, "DateTimeUTC": envelope_now(),
            **extra, plural: items}


def validation_error(elements: list) -> dict:
    return {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
            "Elements": elements}


def bad_request(message: str, number=14, type_="PostDataInvalidException") -> dict:
    return {"ErrorNumber": number, "Type": type_, "Message": message}


# --- reading ---------------------------------------------------------------------------


def _documents(org, kind):
    return (Document.objects.filter(organisation=org, kind=kind)
            .select_related("contact", "target", "target__contact")
            .prefetch_related(Prefetch("payments", queryset=Document.objects.order_by("date", "id"))))


def _base_queryset(resource: Resource, org: SandboxOrganisation):
    if resource.kind:
        return _documents(org, resource.kind), s.document, "updated_at"
    return {
        "Accounts": (Account.objects.filter(organisation=org), s.account, "updated_at"),
        "Currencies": (Currency.objects.filter(organisation=org), s.currency, None),
        "TaxRates": (TaxRate.objects.filter(organisation=org), s.tax_rate, None),
        "TrackingCategories": (TrackingCategory.objects.filter(organisation=org).prefetch_related("options"),
                               s.tracking_category, None),
        "Contacts": (Contact.objects.filter(organisation=org), s.contact, "updated_at"),
    }[resource.name]


def _split(value):
    return [part.strip() for part in value.split(",") if part.strip()]


def unit_dp(resource: Resource, query) -> int:
    """4 when the request opts in with `unitdp=4` on an endpoint the file gives `unitdp`, else 2
    ("Rounding in Xero": UnitAmount is kept and shown to two decimals unless unitdp=4)."""
    return 4 if contract.takes_unitdp(resource.name) and (query.get("unitdp") or "").strip() == "4" else 2


def read(resource: Resource, org: SandboxOrganisation, *, provider: str, query, headers,
         item_id: str | None = None) -> tuple[int, dict | str]:
    if resource.name == "Organisation":
        return 200, envelope(provider, "Organisations", [s.organisation(org)])
    qs, base_serialize, modified_field = _base_queryset(resource, org)
    dp = unit_dp(resource, query)
    serialize = (lambda doc: base_serialize(doc, unit_dp=dp)) if resource.kind else base_serialize

    if item_id is not None:
        found = None
        as_uuid = _uuid(item_id)
        id_column = "document_id" if resource.kind else {
            "Accounts": "account_id", "Contacts": "contact_id", "TrackingCategories": "tracking_category_id",
        }.get(resource.name)
        if as_uuid and id_column:
            found = qs.filter(**{id_column: as_uuid}).first()
        elif resource.number_field:
            found = qs.filter(number=item_id).exclude(status="DELETED").first()
        if found is None:
            return 404, NOT_FOUND_TEXT
        return 200, envelope(provider, resource.plural, [serialize(found)])

    if resource.modified_since and modified_field:
        try:
            since = parse_modified_since(headers.get("If-Modified-Since", ""))
        except HeaderInvalid as exc:
            return 400, bad_request(str(exc), number=17, type_="InvalidHeaderException")
        if since is not None:
            qs = qs.filter(**{f"{modified_field}__gte": since.replace(microsecond=0)})
    allowed = contract.list_parameters(resource.name)
    for param, column in resource.list_filters.items():
        if param in allowed and query.get(param):
            values = _split(query[param])
            if column.endswith("_id"):
                values = [v for v in (_uuid(x) for x in values) if v]
            elif column == "status":
                values = [v.upper() for v in values]
            qs = qs.filter(**{f"{column}__in": values})
    if resource.name in {"Contacts", "TrackingCategories"} and (query.get("includeArchived") or "").lower() != "true":
        qs = qs.filter(status="ACTIVE")  # Xero leaves ARCHIVED out unless includeArchived=true
    where = query.get("where")
    predicate = None
    if where:
        try:
            predicate = compile_where(where)
        except WhereError as exc:
            return 400, bad_request(str(exc), number=16, type_="QueryParseException")
    order = (query.get("order") or "").strip()

    page = query.get("page")
    extra = {}
    if predicate is None and not order:
        items = qs
        if resource.paged and page:
            items, extra = _paginate(qs, page, query.get("pageSize"), count=qs.count())
        return 200, envelope(provider, resource.plural, [serialize(x) for x in items], **extra)

    items = [serialize(x) for x in qs]
    if predicate is not None:
        items = [x for x in items if predicate(x)]
    if order:
        items = _order(items, order)
    if resource.paged and page:
        items, extra = _paginate(items, page, query.get("pageSize"), count=len(items))
    return 200, envelope(provider, resource.plural, list(items), **extra)


def _paginate(items, page, page_size, *, count):
    try:
        page = max(1, int(page))
    except ValueError:
        page = 1
    try:
        size = min(1000, max(1, int(page_size))) if page_size else 100
    except ValueError:
        size = 100
    start = (page - 1) * size
    return items[start:start + size], {"pagination": {"page": page, "pageSize": size,
                                                      "pageCount": math.ceil(count / size), "itemCount": count}}


def _order(items, order):
    parts = order.split()
    name = parts[0]
    reverse = len(parts) > 1 and parts[1].upper() == "DESC"

    def key(item):
        value = item.get(name)
        return (value is None, value if value is not None else "")

    try:
        return sorted(items, key=key, reverse=reverse)
    except TypeError:
        return items


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


# --- writing ---------------------------------------------------------------------------


class _RollBack(Exception):
    pass


def _write_one(resource, ctx, schema, element, item_id):
    """The file's rules (lengths, enums, required) and the resource's own, reported together as
    Xero does. A value longer than the file allows never reaches the writer (nor a column)."""
    broken = contract.element_errors(schema, element) if schema else []
    if any(contract.is_length_error(m) for m in broken):
        raise writes.ElementInvalid(broken)
    try:
        saved = resource.writer(ctx, element, item_id)
    except writes.ElementInvalid as exc:
        raise writes.ElementInvalid(list(dict.fromkeys(broken + exc.messages))) from None
    if broken:
        raise writes.ElementInvalid(broken)  # rolls back the element's savepoint
    return saved


def write(resource: Resource, org: SandboxOrganisation, *, app, provider: str, body, summarize_errors: bool,
          item_id: str | None = None, query=None) -> tuple[int, dict]:
    """PUT/POST of a batch `{"<Plural>": [...]}` (or one bare element)."""
    if resource.writer is None:
        return 400, bad_request(f"The sandbox does not accept writes to {resource.name}.")
    if isinstance(body, dict) and resource.plural in body:
        elements = body[resource.plural]
    elif isinstance(body, dict) and body:
        elements = [body]
    else:
        elements = None
    if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
        return 400, bad_request(f"JSON for {resource.plural} could not be parsed")
    if item_id is not None and len(elements) != 1:
        return 400, bad_request(f"Exactly one element is expected when updating {resource.name}/{item_id}.")
    ctx = writes.Context.load(org, app, unit_dp=unit_dp(resource, query or {}))
    schema = contract.WRITE_ROOTS.get(resource.name)
    results, failed, saved_all = [], [], []
    try:
        with transaction.atomic():
            for element in elements:
                try:
                    with transaction.atomic():
                        saved = _write_one(resource, ctx, schema, element, item_id)
                except writes.ElementInvalid as exc:
                    errors = [{"Message": m} for m in exc.messages]
                    echoed = {**element, "StatusAttributeString": "ERROR", "ValidationErrors": errors, "HasErrors": True}
                    if resource.name in {"Payments", "Contacts"}:
                        echoed["HasValidationErrors"] = True
                    results.append(echoed)
                    failed.append(echoed)
                    continue
                saved_all.append(saved)
                out = (s.contact(saved) if resource.name == "Contacts" else s.account(saved)
                       if resource.name == "Accounts" else s.document(saved, unit_dp=ctx.unit_dp))
                out.update({"StatusAttributeString": "OK", "HasErrors": False})
                results.append(out)
            if failed and summarize_errors:
                raise _RollBack()
    except _RollBack:
        return 400, validation_error(failed)
    _notify_saved(org, saved_all)
    return 200, envelope(provider, resource.plural, results)


def _notify_saved(org, saved) -> None:
    """Webhook events for what a write created or changed (contacts, invoices, credit notes)."""
    from . import webhooks

    for obj in saved:
        if isinstance(obj, Contact):
            # The sandbox keeps no creation time for contacts: every contact event is an UPDATE
            # (the receiver treats both the same: it reads the contact again).
            webhooks.notify(org, "CONTACT", obj.contact_id, event_type="UPDATE")
        elif isinstance(obj, Document) and obj.kind in (Document.Kind.INVOICE, Document.Kind.CREDIT_NOTE):
            created = obj.created_at and abs((obj.updated_at - obj.created_at).total_seconds()) < 1
            category = "INVOICE" if obj.kind == Document.Kind.INVOICE else "CREDITNOTE"
            data = {"Type": obj.doc_type, "Status": obj.status} if category == "CREDITNOTE" else None
            webhooks.notify(org, category, obj.document_id, event_type="CREATE" if created else "UPDATE", data=data)
