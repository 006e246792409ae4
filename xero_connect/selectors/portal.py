"""Read side of the bookkeeper portal: every organisation a user belongs to, with the facts a
bookkeeper scans for, in a constant number of queries however many organisations there are.

Everything per organisation is a correlated subquery annotation on one Organisation queryset;
everything per page (admin names, the 30-day pictures) is one grouped query over the page's
organisation ids. Nothing here runs a query per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.paginator import Paginator
from django.db import connection as db_connection
from django.db.models import (
    Case, CharField, Count, DateTimeField, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value, When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import messages as words
from ..config import xero_config
from ..connection_states import NOT_CONNECTED
from ..models import (
    CategoryMapping,
    FLAGGED_DRIFT, ConnectionStatus, ExportAttempt, ExportRecord, ExportState, ListRefresh, ListSyncState, Membership,
    Organisation, Role, XeroConnection,
)
from ..roles import display_name
from .connections import PRESENTATION, StatusPresentation

ATTENTION_STATUSES = (NOT_CONNECTED, ConnectionStatus.NEEDS_RECONNECT, ConnectionStatus.REMOVED_IN_XERO)
# Failed attempts drawn in the picture: Xero or the lists refused it, or it broke. Waiting for a
# connection, rate limits and outages are not failures: those items go out by themselves.
FAILED_OUTCOMES = (ExportAttempt.Outcome.VALIDATION_FAILED, ExportAttempt.Outcome.PREFLIGHT_FAILED,
                   ExportAttempt.Outcome.ERROR)
CHART_DAYS = 30
PER_PAGE_CHOICES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50

# Worst first when sorting by status.
_STATUS_RANK = {NOT_CONNECTED: 1, ConnectionStatus.REMOVED_IN_XERO: 0, ConnectionStatus.NEEDS_RECONNECT: 0,
                ConnectionStatus.CONNECTED: 3}

SORTS = {
    "name": ("name", "Name (A–Z)"),
    "-name": ("-name", "Name (Z–A)"),
    "status": ("status_rank", "Status (worst first)"),
    "-failed": ("-failed_count", "Most failures"),
    "-queued": ("-queued_count", "Most queued"),
    "last_export": ("last_export_at", "Last export (oldest first)"),
    "-last_export": ("-last_export_at", "Last export (newest first)"),
    "token_age": ("refresh_token_issued_at", "Oldest sign-in first"),
}
DEFAULT_SORT = "name"


def keepalive_days() -> int:
    """Refresh tokens older than this are refreshed by the keep-alive schedule."""
    return xero_config().refresh_keep_alive_days


@dataclass
class PortalFilters:
    attention: bool = False
    status: str = ""
    role: str = ""
    q: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def from_query(cls, params) -> "PortalFilters":
        status = params.get("status", "")
        role = params.get("role", "")
        sort = params.get("sort", DEFAULT_SORT)
        try:
            page = max(1, int(params.get("page", 1)))
        except (TypeError, ValueError):
            page = 1
        try:
            per_page = int(params.get("per_page", DEFAULT_PER_PAGE))
        except (TypeError, ValueError):
            per_page = DEFAULT_PER_PAGE
        return cls(
            attention=params.get("attention") in ("1", "on", "true"),
            status=status if status in PRESENTATION else "",
            role=role if role in Role.values else "",
            q=(params.get("q") or "").strip()[:100],
            sort=sort if sort in SORTS else DEFAULT_SORT,
            page=page,
            per_page=per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE,
        )

    def as_query(self, **overrides) -> dict:
        values = {"attention": "1" if self.attention else "", "status": self.status, "role": self.role,
                  "q": self.q, "sort": self.sort if self.sort != DEFAULT_SORT else "",
                  "per_page": self.per_page if self.per_page != DEFAULT_PER_PAGE else ""}
        values.update(overrides)
        return {k: v for k, v in values.items() if v not in ("", None)}

    @property
    def is_filtered(self) -> bool:
        return bool(self.attention or self.status or self.role or self.q)


def _count(queryset) -> Coalesce:
    sub = queryset.order_by().values("organisation").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _max(queryset, field_name: str) -> Subquery:
    sub = queryset.order_by().values("organisation").annotate(m=Max(field_name)).values("m")
    return Subquery(sub, output_field=DateTimeField())


def portal_organisations(*, user) -> QuerySet:
    """Every organisation the user belongs to, annotated with the portal's columns."""
    if not getattr(user, "is_authenticated", False):
        return Organisation.objects.none()
    org = OuterRef("pk")
    current = XeroConnection.objects.filter(organisation=org, is_current=True)
    records = ExportRecord.objects.filter(organisation=org)
    status_rank = Case(*[When(status_code=code, then=Value(rank)) for code, rank in _STATUS_RANK.items()],
                       default=Value(2), output_field=IntegerField())
    return (
        Organisation.objects.filter(memberships__user=user)
        .annotate(
            role=Subquery(Membership.objects.filter(organisation=org, user=user).values("role")[:1],
                          output_field=CharField()),
            connection_id=Subquery(current.values("pk")[:1], output_field=IntegerField()),
            status_code=Coalesce(Subquery(current.values("status")[:1], output_field=CharField()),
                                 Value(NOT_CONNECTED)),
            tenant_name=Subquery(current.values("tenant_name")[:1], output_field=CharField()),
            refresh_token_issued_at=Subquery(current.values("refresh_token_issued_at")[:1],
                                             output_field=DateTimeField()),
            last_export_at=_max(records.filter(state=ExportState.EXPORTED), "exported_at"),
            queued_count=_count(records.filter(state__in=[ExportState.QUEUED, ExportState.EXPORTING])),
            waiting_count=_count(records.filter(state=ExportState.WAITING_FOR_CONNECTION)),
            xero_waiting_count=_count(records.filter(state=ExportState.QUEUED, xero_unavailable_since__isnull=False)),
            failed_count=_count(records.filter(state=ExportState.FAILED)),
            drifted_count=_count(records.filter(state=ExportState.EXPORTED, xero_drift__in=FLAGGED_DRIFT)),
            # Account mapping (#15): items waiting "Needs mapping" and mappings the chart broke.
            needs_mapping_count=_count(records.filter(state=ExportState.NEEDS_MAPPING)),
            flagged_mapping_count=_count(CategoryMapping.objects.filter(
                organisation=org, tenant_id=Subquery(XeroConnection.objects.filter(
                    organisation=OuterRef(OuterRef("pk")), is_current=True).values("tenant_id")[:1]))
                .exclude(problem="")),
            lists_synced_at=_max(ListSyncState.objects.filter(organisation=org), "last_refreshed_at"),
            lists_run_at=_max(ListRefresh.objects.filter(
                organisation=org, status__in=[ListRefresh.Status.DONE, ListRefresh.Status.PARTIAL]), "finished_at"),
        )
        .annotate(status_rank=status_rank)
    )


def needs_attention_q() -> Q:
    return (Q(status_code__in=ATTENTION_STATUSES) | Q(failed_count__gt=0) | Q(needs_mapping_count__gt=0)
            | Q(flagged_mapping_count__gt=0))


def filter_portal(queryset: QuerySet, filters: PortalFilters) -> QuerySet:
    if filters.attention:
        queryset = queryset.filter(needs_attention_q())
    if filters.status:
        queryset = queryset.filter(status_code=filters.status)
    if filters.role:
        queryset = queryset.filter(role=filters.role)
    if filters.q:
        queryset = queryset.filter(Q(name__icontains=filters.q) | Q(slug__icontains=filters.q))
    field_name = SORTS[filters.sort][0]
    descending = field_name.startswith("-")
    bare = field_name.lstrip("-")
    order = F(bare).desc(nulls_last=True) if descending else F(bare).asc(nulls_first=True if bare.endswith("_at") else None)
    return queryset.order_by(order, "name", "pk")


@dataclass
class PortalRow:
    organisation: Organisation
    role: str
    is_admin: bool
    status: StatusPresentation
    tenant_name: str
    refresh_token_issued_at: datetime | None
    refresh_token_age_days: int | None
    next_keepalive_at: datetime | None
    last_export_at: datetime | None
    queued: int
    waiting: int
    failed: int
    lists_refreshed_at: datetime | None
    needs_attention: bool
    needs_mapping: int = 0
    flagged_mappings: int = 0
    admin_names: list[str] = field(default_factory=list)
    exports_per_day: list[int] = field(default_factory=list)
    drifted: int = 0  # exported documents voided, deleted or changed in Xero (#16)
    # Queued items Xero has not been answering for (#13): shown, not "needs attention" — there is
    # nothing to do, they go out by themselves when Xero answers.
    xero_waiting: int = 0
    failures_per_day: list[int] = field(default_factory=list)

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else ""

    @property
    def next_step(self) -> dict:
        return next_step_for(self)

    @property
    def exports_30d(self) -> int:
        return sum(self.exports_per_day)

    @property
    def failures_30d(self) -> int:
        return sum(self.failures_per_day)


def next_step_for(row: PortalRow) -> dict:
    """The one next step for an organisation, in the words of the help articles."""
    code = row.status.code
    if code in ATTENTION_STATUSES:
        action = "connect" if code == NOT_CONNECTED else "reconnect"
        why = words.STATE_FACTS[code]
        if row.is_admin:
            return {"kind": "reconnect", "label": words.button_for(action), "why": why}
        return {"kind": "ask_admin", "label": words.ask_admins(action, admin_names=row.admin_names), "why": why,
                "admins": row.admin_names}
    if row.failed:
        return {"kind": "review_failed", "label": f"Review {row.failed} failed export{'s' if row.failed != 1 else ''}",
                "why": "Xero refused these items or something in the lists is missing."}
    if row.needs_mapping or row.flagged_mappings:
        why = (f"{row.needs_mapping} item{'s' if row.needs_mapping != 1 else ''} wait as “{words.NEEDS_MAPPING}”"
               if row.needs_mapping else "The chart of accounts changed in Xero under a mapping.")
        label = words.MAPPING_PAGE if row.is_admin else words.ask_admins("map", admin_names=row.admin_names)
        return {"kind": "mapping", "label": label, "why": why}
    return {"kind": "none", "label": "", "why": ""}


def admin_names_by_organisation(organisation_ids) -> dict[int, list[str]]:
    """Admins of each organisation, in one query."""
    names: dict[int, list[str]] = {}
    memberships = (
        Membership.objects.filter(organisation_id__in=list(organisation_ids), role=Role.ADMIN, user__is_active=True)
        .select_related("user").order_by("user__first_name", "user__last_name", "user__username")
    )
    for membership in memberships:
        names.setdefault(membership.organisation_id, []).append(display_name(membership.user))
    return names


def _day_index(field: str, starts: list[datetime], lo: int, hi: int):
    """The index in [lo, hi) of the day `field` falls in, as a SQL expression: `starts[i]` is the
    aware start of day i, and the comparisons nest as a binary search (5 deep for 30 days)."""
    if hi - lo == 1:
        return Value(lo)
    mid = (lo + hi) // 2
    return Case(When(**{f"{field}__lt": starts[mid]}, then=_day_index(field, starts, lo, mid)),
                default=_day_index(field, starts, mid, hi), output_field=IntegerField())


def _exports_per_day(ids, starts: list[datetime], days: int) -> list[QuerySet]:
    """The exports per organisation and day as UNION ALL parts of rows (organisation_id, day,
    series "e", n), read from exportrecord_exported_day_idx (organisation, state, exported_at).

    SQLite: one range count per day (30 parts); every comparison is SQLite's own, where a per-row
    expression costs ≈ 3 µs a row (TruncDate calls back into Python: ≈ 320 ms for a 100,000-row
    ledger; the CASE below with its GROUP BY sorter ≈ 85 ms; the 30 range counts ≈ 15 ms).
    PostgreSQL: one grouped part bucketed by the CASE (planning and compiling 30 parts cost it more
    than the CASE does)."""
    exported = ExportRecord.objects.filter(organisation_id__in=ids, state=ExportState.EXPORTED)
    series = Value("e", output_field=CharField())
    if db_connection.vendor == "sqlite":
        return [exported.filter(exported_at__gte=starts[i], exported_at__lt=starts[i + 1])
                .values("organisation_id")
                .annotate(day=Value(i, output_field=IntegerField()), series=series, n=Count("*")).order_by()
                for i in range(days)]
    return [exported.filter(exported_at__gte=starts[0], exported_at__lt=starts[-1])
            .annotate(day=_day_index("exported_at", starts, 0, days), series=series)
            .values("organisation_id", "day", "series").annotate(n=Count("*")).order_by()]


def daily_activity(organisation_ids, *, days: int = CHART_DAYS, today: date | None = None
                   ) -> dict[int, tuple[list[int], list[int]]]:
    """Exports and failed attempts per day over the last `days` days (today last, days of the
    current time zone), per organisation: {organisation id: ([exports per day], [failures per day])}.

    One query, read from two covering indexes and computed from the ledger's own timestamps, so
    nothing has to be kept up to date by the ledger's writers (bulk exports, re-export, resets)
    and nothing needs a backfill when TIME_ZONE changes: the exports as `_exports_per_day`; the
    failed attempts, few, bucketed into days by comparisons with the days' starts, on
    exportattempt_failed_day_idx (outcome, started_at, record).
    """
    ids = list(organisation_ids)
    out = {pk: ([0] * days, [0] * days) for pk in ids}
    if not ids:
        return out
    today = today or timezone.localdate()
    start_day = today - timedelta(days=days - 1)
    starts = [timezone.make_aware(datetime.combine(start_day + timedelta(days=i), datetime.min.time()))
              for i in range(days + 1)]
    exported = _exports_per_day(ids, starts, days)
    failed = (
        ExportAttempt.objects.filter(record__organisation_id__in=ids, outcome__in=FAILED_OUTCOMES,
                                     started_at__gte=starts[0], started_at__lt=starts[-1])
        .annotate(day=_day_index("started_at", starts, 0, days), series=Value("f", output_field=CharField()))
        .values("record__organisation_id", "day", "series").annotate(n=Count("*")).order_by()
    )
    for row in exported[0].union(*exported[1:], failed, all=True):
        organisation_id, index = row["organisation_id"], row["day"]
        if organisation_id in out and 0 <= index < days:
            out[organisation_id][0 if row["series"] == "e" else 1][index] += row["n"]
    return out


def _row(organisation, *, now, keepalive: int) -> PortalRow:
    issued = organisation.refresh_token_issued_at
    status = PRESENTATION.get(organisation.status_code, PRESENTATION[NOT_CONNECTED])
    connected_like = organisation.status_code != NOT_CONNECTED
    lists_times = [t for t in (organisation.lists_synced_at, organisation.lists_run_at) if t]
    return PortalRow(
        organisation=organisation,
        role=organisation.role,
        is_admin=organisation.role == Role.ADMIN,
        status=status,
        tenant_name=organisation.tenant_name or "",
        refresh_token_issued_at=issued if connected_like else None,
        refresh_token_age_days=(now - issued).days if issued and connected_like else None,
        next_keepalive_at=(issued + timedelta(days=keepalive))
        if issued and organisation.status_code == ConnectionStatus.CONNECTED else None,
        last_export_at=organisation.last_export_at,
        queued=organisation.queued_count,
        waiting=organisation.waiting_count,
        failed=organisation.failed_count,
        drifted=organisation.drifted_count,
        xero_waiting=organisation.xero_waiting_count,
        lists_refreshed_at=max(lists_times) if lists_times else None,
        needs_attention=(organisation.status_code in ATTENTION_STATUSES or organisation.failed_count > 0
                         or organisation.needs_mapping_count > 0 or organisation.flagged_mapping_count > 0),
        needs_mapping=organisation.needs_mapping_count,
        flagged_mappings=organisation.flagged_mapping_count,
    )


def build_rows(organisations, *, charts_for=None) -> list[PortalRow]:
    """Rows for annotated organisations, plus admin names (one query) and, for the organisations
    in `charts_for`, the 30-day pictures (one query)."""
    now = timezone.now()
    keepalive = keepalive_days()
    rows = [_row(o, now=now, keepalive=keepalive) for o in organisations]
    needs_names = {r.organisation.pk for r in rows if r.needs_attention and not r.is_admin}
    names = admin_names_by_organisation(needs_names) if needs_names else {}
    chart_ids = [pk for pk in (charts_for or []) if pk is not None]
    activity = daily_activity(chart_ids) if chart_ids else {}
    for row in rows:
        row.admin_names = names.get(row.organisation.pk, [])
        if row.organisation.pk in activity:
            row.exports_per_day, row.failures_per_day = activity[row.organisation.pk]
    return rows


@dataclass
class PortalPage:
    filters: PortalFilters
    page: object  # django Page
    rows: list[PortalRow]
    total_organisations: int
    attention_total: int
    attention_rows: list[PortalRow]
    counts_by_status: dict[str, int]
    keepalive_days: int


ATTENTION_QUEUE_SIZE = 10


def portal_page(*, user, filters: PortalFilters) -> PortalPage:
    """Everything the portal page shows, in a fixed number of queries."""
    base = portal_organisations(user=user)
    # One query: how many organisations in each status, and how many need attention.
    summary = {row["status_code"]: row for row in base.order_by().values("status_code").annotate(
        n=Count("pk"), attention=Count("pk", filter=Q(failed_count__gt=0)))}
    counts_by_status = {code: summary.get(code, {}).get("n", 0) for code in PRESENTATION}
    total = sum(counts_by_status.values())
    attention_total = sum(counts_by_status[c] for c in ATTENTION_STATUSES) + sum(
        row["attention"] for code, row in summary.items() if code not in ATTENTION_STATUSES)

    paginator = Paginator(filter_portal(base, filters), filters.per_page)
    page = paginator.get_page(filters.page)
    page_orgs = list(page.object_list)
    attention_orgs = []
    if attention_total:
        attention_qs = filter_portal(base.filter(needs_attention_q()), PortalFilters(sort="status"))
        attention_orgs = list(attention_qs[:ATTENTION_QUEUE_SIZE])
    rows = build_rows(page_orgs + attention_orgs, charts_for=[o.pk for o in page_orgs])
    all_rows, attention_rows = rows[:len(page_orgs)], rows[len(page_orgs):]
    return PortalPage(filters=filters, page=page, rows=all_rows, total_organisations=total,
                      attention_total=attention_total, attention_rows=attention_rows,
                      counts_by_status=counts_by_status, keepalive_days=keepalive_days())


def portal_organisation_ids(*, user, filters: PortalFilters) -> list[int]:
    """Ids of every organisation matching the filters (for "select all that match")."""
    return list(filter_portal(portal_organisations(user=user), filters).values_list("pk", flat=True))
