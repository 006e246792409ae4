"""Reads for the Export Data page: counts by section and state, a page of rows per section,
"View in Xero" links, job progress. A constant number of queries whatever the ledger's size:
one aggregate for every count, one query per shown section for its rows (pages are sliced,
never counted again — the aggregate already knows the totals)."""
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import quote, urlencode

from django.db.models import Count, Exists, OuterRef, Q

from .. import messages as words
from ..config import xero_config
from ..document_kinds import KINDS
from ..models import FLAGGED_DRIFT, BulkJob, DocumentType, ExportRecord, ExportState, XeroConnection
from ..parsing import parse_page
from .connections import current_connection, presentation

PAGE_SIZE = 25
STATE_ORDER = [ExportState.NOT_EXPORTED, ExportState.QUEUED, ExportState.EXPORTING, ExportState.EXPORTED,
               ExportState.FAILED, ExportState.WAITING_FOR_CONNECTION, ExportState.NEEDS_MAPPING]
STATE_COLOUR = {ExportState.NOT_EXPORTED: "off", ExportState.QUEUED: "warn", ExportState.EXPORTING: "warn",
                ExportState.EXPORTED: "ok", ExportState.FAILED: "bad", ExportState.WAITING_FOR_CONNECTION: "warn",
                ExportState.NEEDS_MAPPING: "warn"}
# Xero's deep-link paths ("View in Xero"), from Xero's deep-link documentation.
DEEP_LINK_PATHS = {
    DocumentType.SALES_INVOICE: "/AccountsReceivable/View.aspx?InvoiceID={id}",
    DocumentType.BILL: "/AccountsPayable/Edit.aspx?InvoiceID={id}",
    DocumentType.SALES_CREDIT_NOTE: "/AccountsPayable/ViewCreditNote.aspx?creditNoteID={id}",
    DocumentType.PURCHASE_CREDIT_NOTE: "/AccountsPayable/ViewCreditNote.aspx?creditNoteID={id}",
    DocumentType.MANUAL_JOURNAL: "/Journal/View.aspx?invoiceID={id}",
}


# The longest date range a page or a bulk action covers (ten years).
MAX_RANGE_DAYS = 3653


def default_range(today: date) -> tuple[date, date]:
    """This month and last: from the first of last month to the end of this month."""
    first_this = today.replace(day=1)
    first_last = (first_this - timedelta(days=1)).replace(day=1)
    next_month = (first_this + timedelta(days=32)).replace(day=1)
    return first_last, next_month - timedelta(days=1)


def deep_link(*, doc_type: str, xero_id: str, short_code: str) -> str:
    """The "View in Xero" address. Payments open the invoice or bill they pay (Xero shows the
    payment there); pass that document's type and id."""
    path = DEEP_LINK_PATHS.get(doc_type)
    if not (path and xero_id and short_code):
        return ""
    query = urlencode({"shortcode": short_code, "redirecturl": path.format(id=xero_id)}, quote_via=quote, safe="/")
    return f"{xero_config().deep_link_url}?{query}"


def record_link(record: ExportRecord) -> str:
    if record.state != ExportState.EXPORTED or not record.xero_id:
        return ""
    short_code = record.connection.short_code if record.connection_id and record.connection else ""
    if record.doc_type == DocumentType.PAYMENT:
        paid = record.document.paid_document
        paid_record = getattr(paid, "export_record", None) if paid else None
        if paid_record and paid_record.xero_id:
            return deep_link(doc_type=paid.doc_type, xero_id=paid_record.xero_id, short_code=short_code)
        return ""
    return deep_link(doc_type=record.doc_type, xero_id=record.xero_id, short_code=short_code)


WAITING_FOR_XERO = words.WAITING_FOR_XERO
# The "Waiting for Xero" state filter: not a stored state but queued items Xero has not been
# answering for (`xero_unavailable_since` set), offered beside the stored states.
XERO_WAITING_FILTER = "xero_waiting"
STATE_FILTERS = [choice for s in STATE_ORDER for choice in (
    [(s.value, s.label), (XERO_WAITING_FILTER, WAITING_FOR_XERO)] if s == ExportState.WAITING_FOR_CONNECTION
    else [(s.value, s.label)])]  # (value, words) for the State select, "Waiting for Xero" beside its kin


def _state_q(state: str) -> Q:
    """Rows for a state filter value (a stored state, or `XERO_WAITING_FILTER`)."""
    if state == XERO_WAITING_FILTER:
        return Q(state=ExportState.QUEUED, xero_unavailable_since__isnull=False)
    return Q(state=state)


def in_other_xero_organisation() -> Q:
    """Records whose document is in a Xero organisation other than the one linked now (the
    organisation switched Xero organisations since): their Xero ids mean nothing to the current
    one, so they are never sent there. For `.filter()` / `.exclude()` on ExportRecord."""
    switched = Exists(XeroConnection.objects.filter(organisation=OuterRef("organisation"), is_current=True)
                      .exclude(tenant_id=OuterRef("tenant_id")))
    return ~Q(xero_id="") & ~Q(tenant_id="") & Q(switched)


@dataclass
class Row:
    record: ExportRecord
    link: str
    state_colour: str
    elsewhere: str = ""  # the other Xero organisation's name when the document is in one

    @property
    def drift_words(self) -> str:
        """The "In Xero" column (#16): the document's state in Xero as last seen."""
        return words.drift_name(self.record.xero_drift) if self.record.state == ExportState.EXPORTED else ""

    @property
    def drift_detail(self) -> str:
        r = self.record
        return words.drift_detail(drift=r.xero_drift, before=r.drift_total_before, after=r.drift_total_after,
                                  paid=r.xero_amount_paid, due=r.xero_amount_due)

    @property
    def drift_flagged(self) -> bool:
        return self.record.xero_drift in FLAGGED_DRIFT

    @property
    def state_words(self) -> str:
        """The state as shown: a queued item that Xero has not been answering for is "Waiting
        for Xero" (it goes out by itself when Xero answers)."""
        if self.record.state == ExportState.QUEUED and self.record.xero_unavailable_since:
            return WAITING_FOR_XERO
        return self.record.get_state_display()


@dataclass
class Section:
    doc_type: str
    label: str
    counts: list[tuple[str, str, int, str]]  # (state, words, n, colour)
    total: int
    shown_total: int
    rows: list[Row] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    update_note: str = ""

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


def range_records(*, organisation, date_from=None, date_to=None, doc_types=None):
    """The organisation's ledger rows (ExportRecord queryset) whose document date is within
    [date_from, date_to] (either end open when None) and of `doc_types` (all when empty): the
    range the ledger shows and "Export everything not yet exported" sends."""
    qs = ExportRecord.objects.filter(organisation=organisation)
    if date_from:
        qs = qs.filter(doc_date__gte=date_from)
    if date_to:
        qs = qs.filter(doc_date__lte=date_to)
    if doc_types:
        qs = qs.filter(doc_type__in=list(doc_types))
    return qs


def ledger_queryset(*, organisation, date_from=None, date_to=None, search: str = "", doc_types=None):
    qs = range_records(organisation=organisation, date_from=date_from, date_to=date_to, doc_types=doc_types)
    search = (search or "").strip()
    if search:
        qs = qs.filter(Q(document__number__icontains=search) | Q(document__contact_name__icontains=search))
    return qs


def export_page(*, organisation, date_from, date_to, state: str = "", search: str = "", doc_type: str = "",
                pages: dict | None = None, page_size: int = PAGE_SIZE, drift: str = "") -> dict:
    """`drift="changed"`: only documents voided, deleted or changed in Xero ("Changed in Xero")."""
    base = ledger_queryset(organisation=organisation, date_from=date_from, date_to=date_to, search=search,
                           doc_types=[doc_type] if doc_type else None)
    drifted = base.filter(xero_drift__in=FLAGGED_DRIFT).count()
    if drift == "changed":
        base = base.filter(xero_drift__in=FLAGGED_DRIFT)
    counts: dict[str, dict[str, int]] = {}
    xero_waiting_by_type: dict[str, int] = {}
    waiting_for_xero = totals_differ = 0
    for row in base.values("doc_type", "state").annotate(
            n=Count("id"), xero_waiting=Count("id", filter=Q(xero_unavailable_since__isnull=False)),
            differ=Count("id", filter=Q(total_difference__isnull=False))).order_by():
        counts.setdefault(row["doc_type"], {})[row["state"]] = row["n"]
        if row["state"] == ExportState.QUEUED:
            waiting_for_xero += row["xero_waiting"]
            xero_waiting_by_type[row["doc_type"]] = row["xero_waiting"]
        if row["state"] == ExportState.EXPORTED:
            totals_differ += row["differ"]
    sections = []
    pages = pages or {}
    connection = current_connection(organisation=organisation)
    current_tenant = connection.tenant_id if connection else ""
    for value, label in DocumentType.choices:
        if doc_type and value != doc_type:
            continue
        by_state = counts.get(value, {})
        total = sum(by_state.values())
        if state == XERO_WAITING_FILTER:
            shown_total = xero_waiting_by_type.get(value, 0)
        else:
            shown_total = by_state.get(state, 0) if state else total
        n_pages = max(1, -(-shown_total // page_size))
        page = parse_page(pages.get(value), last=n_pages)
        section = Section(
            doc_type=value, label=label, total=total, shown_total=shown_total, page=page, pages=n_pages,
            counts=[(s.value, s.label, by_state.get(s.value, 0), STATE_COLOUR[s]) for s in STATE_ORDER],
            update_note=KINDS[value].update_note)
        if shown_total:
            rows = base.filter(doc_type=value)
            if state:
                rows = rows.filter(_state_q(state))
            rows = (rows.select_related("document", "connection", "document__paid_document__export_record")
                    .order_by("-doc_date", "-id")[(page - 1) * page_size: page * page_size])
            section.rows = [Row(r, record_link(r), STATE_COLOUR.get(r.state, "off"),
                                _elsewhere_name(r, current_tenant)) for r in rows]
        sections.append(section)
    totals = {s.value: sum(c.get(s.value, 0) for c in counts.values()) for s in STATE_ORDER}
    totals["waiting_for_xero"] = waiting_for_xero  # queued, Xero not answering: shown "Waiting for Xero"
    totals["totals_differ"] = totals_differ  # exported, Xero's total differs from the document's
    totals["drifted"] = drifted  # voided, deleted or changed in Xero since it was exported
    since = None
    if waiting_for_xero:
        since = base.filter(state=ExportState.QUEUED).exclude(xero_unavailable_since=None).order_by(
            "xero_unavailable_since").values_list("xero_unavailable_since", flat=True).first()
    return {"sections": sections, "connection": connection, "status": presentation(connection), "totals": totals,
            "waiting_for_xero_since": since}


def _elsewhere_name(record: ExportRecord, current_tenant: str) -> str:
    if not (record.xero_id and record.tenant_id and current_tenant) or record.tenant_id == current_tenant:
        return ""
    connection = record.connection
    return (connection.tenant_name if connection and connection.tenant_name else "") or "another Xero organisation"


# The bulk jobs that send ledger records to Xero (their progress is counted from the records).
EXPORT_JOB_KINDS = (BulkJob.Kind.EXPORT_SELECTED, BulkJob.Kind.EXPORT_RANGE, BulkJob.Kind.RETRY_FAILED,
                    BulkJob.Kind.REEXPORT)


def latest_job(*, organisation) -> BulkJob | None:
    return (BulkJob.objects.filter(organisation=organisation, kind__in=EXPORT_JOB_KINDS)
            .order_by("-created_at", "-id").first())


def job_progress(job: BulkJob) -> dict:
    """What the progress bar shows, from the job row (the worker keeps its counts current) and
    a live count of the job's records (one query)."""
    live = dict(ExportRecord.objects.filter(job=job).values_list("state").annotate(n=Count("id")).order_by())
    done = live.get(ExportState.EXPORTED, 0)
    failed = live.get(ExportState.FAILED, 0)
    waiting = live.get(ExportState.WAITING_FOR_CONNECTION, 0)
    pending = live.get(ExportState.QUEUED, 0) + live.get(ExportState.EXPORTING, 0)
    total = job.total
    finished = total - pending if total else 0
    percent = int(100 * finished / total) if total else 100
    return {"id": job.pk, "kind": words.job_name(job.kind, total=job.total), "status": job.status,
            "status_words": job.get_status_display(), "total": total, "done": done, "failed": failed,
            "waiting": waiting, "pending": pending, "skipped": job.skipped, "percent": max(0, min(100, percent)),
            "finished": pending == 0, "summary": job.summary if pending == 0 else "",
            "valuetext": f"{max(0, total - pending)} of {total} done"}


def reexport_elsewhere(*, organisation, record_ids) -> int:
    """How many of the chosen items are in a Xero organisation that is no longer linked (they
    are not re-exported: see `in_other_xero_organisation`)."""
    return ExportRecord.objects.filter(organisation=organisation, pk__in=record_ids,
                                       state=ExportState.EXPORTED).filter(in_other_xero_organisation()).count()


def reexport_preview(*, organisation, record_ids) -> list[dict]:
    """For the confirm page: per type, how many of the chosen items are in the linked Xero
    organisation and what a re-export does to them. Items in another Xero organisation are
    not counted here (see `reexport_elsewhere`)."""
    rows = (ExportRecord.objects.filter(organisation=organisation, pk__in=record_ids, state=ExportState.EXPORTED)
            .exclude(in_other_xero_organisation())
            .values("doc_type").annotate(n=Count("id")).order_by())
    by_type = {r["doc_type"]: r["n"] for r in rows}
    return [{"doc_type": value, "label": label, "n": by_type[value], "can_update": KINDS[value].can_update,
             "note": KINDS[value].update_note} for value, label in DocumentType.choices if by_type.get(value)]
