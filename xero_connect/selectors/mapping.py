"""Account mapping, read side (#15): which Xero accounts, tax rates and tracking options fit a
host category, what the mapping page shows, and the resolution of documents' host categories
before an export.

What fits (Xero's account Class and Type, xero_accounting.yaml `AccountType` / `Class`; Xero's
integration best practice: "filter the accounts to the types that make sense"):
- sales category → Class REVENUE (types REVENUE, SALES, OTHERINCOME);
- purchase category → Class EXPENSE (types EXPENSE, DIRECTCOSTS, OVERHEADS, DEPRECIATN);
- payment method → Type BANK, or EnablePaymentsToAccount (Xero's rule for Payments.Account);
- tax rate for a sales category → CanApplyToRevenue; for a purchase one → CanApplyToExpenses.
Only ACTIVE rows of the Xero organisation linked now are ever offered.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q

from .. import messages as words
from ..models import (
    Account,
    CategoryMapping,
    DocumentLine,
    DocumentType,
    HostCategory,
    ListName,
    ListSyncState,
    SourceDocument,
    TaxRate,
    TrackingOption,
)
from .connections import lists_tenant_id, lists_tenant_ids

Kind = HostCategory.Kind
SALES_TYPES = {DocumentType.SALES_INVOICE, DocumentType.SALES_CREDIT_NOTE}
PURCHASE_TYPES = {DocumentType.BILL, DocumentType.PURCHASE_CREDIT_NOTE}


def line_category_kind(doc_type: str) -> str | None:
    """The kind of host category a line's `category` names on a document of `doc_type`
    (None: the document type takes no categories — manual journals name Xero codes)."""
    if doc_type in SALES_TYPES:
        return Kind.SALES
    if doc_type in PURCHASE_TYPES:
        return Kind.PURCHASE
    return None


def account_fits(kind: str) -> Q:
    """A filter on Account for the accounts that fit a category of `kind`."""
    if kind == Kind.SALES:
        return Q(account_class="REVENUE") | Q(type__in=["REVENUE", "SALES", "OTHERINCOME"])
    if kind == Kind.PURCHASE:
        return Q(account_class="EXPENSE") | Q(type__in=["EXPENSE", "DIRECTCOSTS", "OVERHEADS"])
    if kind == Kind.PAYMENT_METHOD:
        return Q(type="BANK") | Q(enable_payments=True)
    return Q(pk__in=[])


def account_row_fits(kind: str, account) -> bool:
    """The same rule as `account_fits`, on one loaded row (an Account or a dict of its values)."""
    get = (lambda k: account.get(k)) if isinstance(account, dict) else (lambda k: getattr(account, k))
    if kind == Kind.SALES:
        return get("account_class") == "REVENUE" or get("type") in ("REVENUE", "SALES", "OTHERINCOME")
    if kind == Kind.PURCHASE:
        return get("account_class") == "EXPENSE" or get("type") in ("EXPENSE", "DIRECTCOSTS", "OVERHEADS")
    if kind == Kind.PAYMENT_METHOD:
        return get("type") == "BANK" or bool(get("enable_payments"))
    return False


def tax_fits(kind: str) -> Q:
    if kind == Kind.SALES:
        return Q(can_apply_to_revenue=True)
    if kind == Kind.PURCHASE:
        return Q(can_apply_to_expenses=True)
    return Q()


def account_choices(*, organisation, tenant_id: str, kind: str):
    """Active accounts of the Xero organisation `tenant_id` that fit a category of `kind`."""
    return (Account.objects.filter(organisation=organisation, tenant_id=tenant_id, is_active=True)
            .filter(account_fits(kind)).order_by("code", "name"))


def tax_rate_choices(*, organisation, tenant_id: str, kind: str):
    """Active tax rates of `tenant_id` valid for the account class of a `kind` category (a tax
    code category takes any active rate)."""
    return (TaxRate.objects.filter(organisation=organisation, tenant_id=tenant_id, is_active=True)
            .filter(tax_fits(kind)).order_by("name"))


def tracking_choices(*, organisation, tenant_id: str):
    return (TrackingOption.objects.filter(organisation=organisation, tenant_id=tenant_id, is_active=True,
                                          category__is_active=True)
            .select_related("category").order_by("category__name", "name"))


def accounts_imported(*, organisation, tenant_id: str) -> bool:
    """Whether the chart of accounts of the Xero organisation `tenant_id` has been read at least
    once (it is imported in the background right after Finish, so for a few seconds it is not)."""
    return (ListSyncState.objects.filter(organisation=organisation, list_name=ListName.ACCOUNTS, tenant_id=tenant_id,
                                         last_refreshed_at__isnull=False).exists()
            or Account.objects.filter(organisation=organisation, tenant_id=tenant_id).exists())


def choices(*, organisation, tenant_id: str) -> tuple[dict, dict, list]:
    """What the dropdowns offer, by kind: ({kind: accounts}, {kind: tax rates}, tracking
    options), each filtered by what fits. Seven queries."""
    accounts = {k: list(account_choices(organisation=organisation, tenant_id=tenant_id, kind=k))
                for k in (Kind.SALES, Kind.PURCHASE, Kind.PAYMENT_METHOD)}
    tax_rates = {k: list(tax_rate_choices(organisation=organisation, tenant_id=tenant_id, kind=k))
                 for k in (Kind.SALES, Kind.PURCHASE, Kind.TAX_CODE)}
    return accounts, tax_rates, list(tracking_choices(organisation=organisation, tenant_id=tenant_id))


def current_mappings(*, organisation, tenant_id: str | None = None) -> dict[int, CategoryMapping]:
    """{host category id: its mapping for the Xero organisation linked now}. One query."""
    tenant_id = lists_tenant_id(organisation=organisation) if tenant_id is None else tenant_id
    return {m.category_id: m for m in CategoryMapping.objects.filter(organisation=organisation, tenant_id=tenant_id)
            .select_related("account", "tax_rate", "tracking_option__category")}


def document_counts(*, organisation) -> dict[tuple[str, str], int]:
    """{(kind, host code): number of documents naming it}. Three queries."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    line_rows = (DocumentLine.objects.filter(document__organisation=organisation)
                 .values("document__doc_type", "category", "tax_code", "dimension", "document_id").distinct())
    seen = set()
    for row in line_rows:
        kind = line_category_kind(row["document__doc_type"])
        for k, code in ((kind, row["category"]), (Kind.TAX_CODE, row["tax_code"]), (Kind.DIMENSION, row["dimension"])):
            if k and code and (k, code, row["document_id"]) not in seen:
                seen.add((k, code, row["document_id"]))
                counts[(k, code)] += 1
    for code, n in (SourceDocument.objects.filter(organisation=organisation).exclude(payment_method="")
                    .values_list("payment_method").annotate(n=Count("id")).order_by()):
        counts[(Kind.PAYMENT_METHOD, code)] += n
    return counts


@dataclass
class MappingRow:
    category: HostCategory
    mapping: CategoryMapping | None
    documents: int

    @property
    def state(self) -> str:
        """"unmapped", "suggested", "flagged" or "mapped"."""
        m = self.mapping
        if m is None or not (m.account_id or m.tax_rate_id or m.tracking_option_id):
            return "unmapped"
        if m.problem:
            return "flagged"
        return "suggested" if m.is_suggestion else "mapped"


STATE_ORDER = {"flagged": 0, "unmapped": 1, "suggested": 2, "mapped": 3}


def mapping_rows(*, organisation) -> list[MappingRow]:
    """Every host category of the organisation with its mapping for the Xero organisation
    linked now and its count of documents; the ones that need a person first (flagged,
    unmapped, suggested), then by kind and code. A handful of queries."""
    mappings = current_mappings(organisation=organisation)
    counts = document_counts(organisation=organisation)
    rows = [MappingRow(c, mappings.get(c.pk), counts.get((c.kind, c.code), 0))
            for c in HostCategory.objects.filter(organisation=organisation)]
    rows.sort(key=lambda r: (STATE_ORDER[r.state], r.category.kind, r.category.code))
    return rows


def flagged_count(*, organisation) -> int:
    """Confirmed mappings of the Xero organisation linked now that the chart broke."""
    return CategoryMapping.objects.filter(organisation=organisation, tenant_id=lists_tenant_id(
        organisation=organisation)).exclude(problem="").count()


def flagged_counts(*, organisation_ids) -> dict[int, int]:
    """{organisation id: flagged mappings of its current Xero organisation} (portal). Two queries."""
    tenant_of = lists_tenant_ids(organisation_ids=organisation_ids)
    out: dict[int, int] = defaultdict(int)
    for org_id, tenant_id in (CategoryMapping.objects.filter(organisation_id__in=list(organisation_ids))
                              .exclude(problem="").values_list("organisation_id", "tenant_id")):
        if tenant_of.get(org_id) == tenant_id:
            out[org_id] += 1
    return dict(out)


# --- resolution before an export -------------------------------------------------------------

@dataclass
class Resolution:
    """What a document's host categories mean now: per line id {"account_code", "tax_type",
    "tracking"} (only the keys the categories decide), the payment's account code, and what
    still needs mapping (in words, naming the category)."""

    lines: dict[int, dict] = field(default_factory=dict)
    payment_account_code: str = ""
    needs_mapping: list[str] = field(default_factory=list)


def _broken(kind: str, mapping: CategoryMapping | None) -> str | None:
    """Why `mapping` cannot be used for an export (None: it can)."""
    if mapping is None or mapping.is_suggestion:
        return "not mapped yet" if mapping is None else "suggested but not confirmed yet"
    if mapping.problem:
        return mapping.problem
    if kind in (Kind.SALES, Kind.PURCHASE, Kind.PAYMENT_METHOD):
        a = mapping.account
        if a is None or not a.is_active or a.tenant_id != mapping.tenant_id:
            return "its Xero account is no longer in the chart of accounts"
        if not account_row_fits(kind, a):
            return f"its Xero account {a} does not fit a {HostCategory.Kind(kind).label.lower()}"
    if kind == Kind.TAX_CODE:
        t = mapping.tax_rate
        if t is None or not t.is_active or t.tenant_id != mapping.tenant_id:
            return "its Xero tax rate is no longer in Xero"
    if kind == Kind.DIMENSION:
        o = mapping.tracking_option
        if o is None or not o.is_active or o.tenant_id != mapping.tenant_id or not o.category.is_active:
            return "its Xero tracking option is no longer in Xero"
    return None


def documents_resolve(*, documents, tenant_of: dict[int, str] | None = None) -> dict[int, Resolution]:
    """{document id: Resolution} for documents that name host categories (the others are
    absent). The lines are read from each document's prefetched `lines` when present.
    At most four queries however many documents: lines (unless prefetched), tenants, host
    categories, and the mappings with their accounts, tax rates and options."""
    docs = [d for d in documents]
    if not docs:
        return {}
    lines_of = {}
    unprefetched = [d.pk for d in docs if "lines" not in getattr(d, "_prefetched_objects_cache", {})]
    fetched = defaultdict(list)
    if unprefetched:
        for line in DocumentLine.objects.filter(document_id__in=unprefetched).order_by("position", "id"):
            fetched[line.document_id].append(line)
    for d in docs:
        lines_of[d.pk] = list(d.lines.all()) if d.pk not in fetched and d.pk not in unprefetched else fetched[d.pk]
    wanted = set()  # (org, kind, code)
    for d in docs:
        kind = line_category_kind(d.doc_type)
        for line in lines_of[d.pk]:
            if line.category and kind:
                wanted.add((d.organisation_id, kind, line.category))
            if line.tax_code:
                wanted.add((d.organisation_id, Kind.TAX_CODE, line.tax_code))
            if line.dimension:
                wanted.add((d.organisation_id, Kind.DIMENSION, line.dimension))
        if d.doc_type == DocumentType.PAYMENT and d.payment_method:
            wanted.add((d.organisation_id, Kind.PAYMENT_METHOD, d.payment_method))
    if not wanted:
        return {}
    org_ids = {o for o, _, _ in wanted}
    if tenant_of is None:
        tenant_of = lists_tenant_ids(organisation_ids=org_ids)
    categories = {(c.organisation_id, c.kind, c.code): c for c in HostCategory.objects.filter(
        organisation_id__in=org_ids, code__in={code for _, _, code in wanted})}
    mappings = {}
    for m in CategoryMapping.objects.filter(category_id__in=[c.pk for c in categories.values()]).select_related(
            "account", "tax_rate", "tracking_option__category"):
        if m.tenant_id == tenant_of.get(m.organisation_id):
            mappings[m.category_id] = m

    def look(org, kind, code, res: Resolution):
        category = categories.get((org, kind, code))
        mapping = mappings.get(category.pk) if category else None
        why = _broken(kind, mapping)
        if why:
            text = words.needs_mapping_item(kind_label=HostCategory.Kind(kind).label, code=code, why=why)
            if text not in res.needs_mapping:
                res.needs_mapping.append(text)
            return None
        return mapping

    out: dict[int, Resolution] = {}
    for d in docs:
        org, kind = d.organisation_id, line_category_kind(d.doc_type)
        res = Resolution()
        named = False
        for line in lines_of[d.pk]:
            values = {}
            mapping = None
            if line.category and kind:
                named = True
                mapping = look(org, kind, line.category, res)
                if mapping:
                    values["account_code"] = mapping.account.code
                    if mapping.tax_rate_id and not line.tax_code and not line.tax_type:
                        values["tax_type"] = mapping.tax_rate.tax_type
            if line.tax_code:
                named = True
                tax = look(org, Kind.TAX_CODE, line.tax_code, res)
                if tax:
                    values["tax_type"] = tax.tax_rate.tax_type
            if line.dimension:
                named = True
                dim = look(org, Kind.DIMENSION, line.dimension, res)
                if dim:
                    option = dim.tracking_option
                    values["tracking"] = [{"category": option.category.name, "option": option.name}]
            if values:
                res.lines[line.pk] = values
        if d.doc_type == DocumentType.PAYMENT and d.payment_method:
            named = True
            pm = look(org, Kind.PAYMENT_METHOD, d.payment_method, res)
            if pm:
                res.payment_account_code = pm.account.code
        if named:
            out[d.pk] = res
    return out
