"""The built-in admin for platform staff. Tokens are never shown or editable.

Admin actions are thin doors to the same services the portal uses (services.portal): each one
leaves an audit row with actor=request.user (a BulkJob, or a ConnectionEvent for disconnect)
and says what it did in the message bar. Disconnect confirms first on an intermediate page.
"""
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import CharField, Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from . import messages as words
from . import models as m
from .connection_states import NOT_CONNECTED
from .selectors.connections import PRESENTATION
from .services import portal as portal_service

K = m.BulkJob.Kind


def _start_job(modeladmin, request, organisations, kind: str) -> None:
    organisations = list(organisations)
    if not organisations:
        modeladmin.message_user(request, "Nothing selected that belongs to an organisation.", messages.WARNING)
        return
    job = portal_service.staff_bulk_start(actor=request.user, organisations=organisations, kind=kind)
    names = ", ".join(o.name for o in organisations[:5]) + (f" and {len(organisations) - 5} more"
                                                            if len(organisations) > 5 else "")
    modeladmin.message_user(request, format_html(
        '{} started for {} organisation{} ({}) as bulk job #{}, running in the background. '
        '<a href="{}">Follow its progress and per-organisation results</a>.',
        portal_service.BULK_ACTIONS[kind].label, len(organisations), "" if len(organisations) == 1 else "s",
        names, job.pk, reverse("portal_job", args=[job.pk])), messages.SUCCESS)


def _disconnect(modeladmin, request, organisations, queryset, action_name: str):
    """Confirm first (intermediate page), then disconnect each organisation through the
    connection service (which records a ConnectionEvent with the staff member as actor)."""
    organisations = list({o.pk: o for o in organisations}.values())
    if request.POST.get("confirm") != "yes":
        return TemplateResponse(request, "admin/xero_connect/disconnect_confirmation.html", {
            **modeladmin.admin_site.each_context(request),
            "title": "Disconnect Xero?",
            "organisations": organisations,
            "queryset": queryset,
            "action_name": action_name,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        })
    outcomes = portal_service.organisations_disconnect(organisations=organisations, actor=request.user)
    for outcome in (portal_service.DONE, portal_service.SKIPPED, portal_service.FAILED):
        group = [(o, words) for o, result, words in outcomes if result == outcome]
        if not group:
            continue
        level = {portal_service.DONE: messages.SUCCESS, portal_service.SKIPPED: messages.WARNING,
                 portal_service.FAILED: messages.ERROR}[outcome]
        modeladmin.message_user(request, "; ".join(f"{o.name}: {words}" for o, words in group) + ".", level)
    return None


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows: visible, searchable, never edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = m.Membership
    extra = 0
    autocomplete_fields = ["user"]


class ExchangeRateInline(admin.TabularInline):
    model = m.ExchangeRate
    extra = 0


class XeroStatusFilter(admin.SimpleListFilter):
    title = "Xero status"
    parameter_name = "xero_status"

    def lookups(self, request, model_admin):
        return [(code, p.words) for code, p in PRESENTATION.items()]

    def queryset(self, request, queryset):
        return queryset.filter(xero_status=self.value()) if self.value() else queryset


class OrganisationActions:
    """Admin actions shared by the organisation and connection admins; `organisations_of`
    maps the selected rows to their organisations."""

    def organisations_of(self, queryset):
        return list(queryset)

    @admin.action(description="Refresh lists (accounts, contacts, tax rates, tracking, currencies)")
    def refresh_lists(self, request, queryset):
        _start_job(self, request, self.organisations_of(queryset), K.REFRESH_LISTS)

    @admin.action(description="Run a health check")
    def health_check(self, request, queryset):
        _start_job(self, request, self.organisations_of(queryset), K.HEALTH_CHECK)

    @admin.action(description="Retry failed exports")
    def retry_failed_exports(self, request, queryset):
        _start_job(self, request, self.organisations_of(queryset), K.RETRY_FAILED)

    @admin.action(description=words.RECONCILE_ACTION)
    def reconcile_with_xero(self, request, queryset):
        _start_job(self, request, self.organisations_of(queryset), K.RECONCILE)

    @admin.action(description="Disconnect Xero…", permissions=["change"])
    def disconnect_xero(self, request, queryset):
        return _disconnect(self, request, self.organisations_of(queryset), queryset, "disconnect_xero")


@admin.register(m.Organisation)
class OrganisationAdmin(OrganisationActions, admin.ModelAdmin):
    list_display = ["name", "slug", "xero_status_words", "xero_tenant", "members", "base_currency", "created_at"]
    search_fields = ["name", "slug", "xero_connections__tenant_name"]
    list_filter = [XeroStatusFilter, "base_currency"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, ExchangeRateInline]
    actions = ["refresh_lists", "health_check", "retry_failed_exports", "reconcile_with_xero", "disconnect_xero"]

    def get_queryset(self, request):
        current = m.XeroConnection.objects.filter(organisation=OuterRef("pk"), is_current=True)
        return super().get_queryset(request).annotate(
            xero_status=Coalesce(Subquery(current.values("status")[:1], output_field=CharField()),
                                 Value(NOT_CONNECTED)),
            xero_tenant_name=Subquery(current.values("tenant_name")[:1], output_field=CharField()),
            member_count=Count("memberships", distinct=True),
        )

    @admin.display(description="Xero", ordering="xero_status")
    def xero_status_words(self, obj):
        p = PRESENTATION.get(obj.xero_status, PRESENTATION[NOT_CONNECTED])
        colours = {"ok": "#1f9d55", "warn": "#c77700", "bad": "#d0312d", "off": "#8a96a3"}
        return format_html('<span style="color:{};font-weight:600">● {}</span>', colours[p.colour], p.words)

    @admin.display(description="Xero organisation", ordering="xero_tenant_name")
    def xero_tenant(self, obj):
        return obj.xero_tenant_name or "—"

    @admin.display(description="Members", ordering="member_count")
    def members(self, obj):
        return obj.member_count


@admin.register(m.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(m.XeroConnection)
class XeroConnectionAdmin(OrganisationActions, admin.ModelAdmin):
    list_display = ["organisation", "tenant_name", "status", "is_current", "connected_by", "connected_at",
                    "refresh_token_issued_at", "last_refreshed_at", "last_health_check_at"]
    list_filter = ["status", "is_current"]
    search_fields = ["organisation__name", "tenant_name", "tenant_id", "short_code", "xero_user_email"]
    list_select_related = ["organisation", "connected_by"]
    date_hierarchy = "connected_at"
    actions = ["refresh_lists", "health_check", "retry_failed_exports", "reconcile_with_xero", "disconnect_xero"]
    # Tokens need no exclude: an EncryptedTextField is never editable, so never in a form, and shows redacted.
    exclude = ["refresh_lock_owner", "refresh_lock_until"]
    readonly_fields = ["organisation", "status", "is_current", "tenant_id", "tenant_name", "xero_connection_id",
                       "auth_event_id", "short_code", "xero_base_currency", "scopes", "xero_user_name",
                       "xero_user_email", "access_token_expires_at", "refresh_token_issued_at", "connected_by",
                       "connected_at", "disconnected_at", "last_refreshed_at", "last_health_check_at",
                       "last_error", "last_error_at"]

    def organisations_of(self, queryset):
        """Actions act on the organisation; only a current connection can be acted on."""
        return [c.organisation for c in queryset.filter(is_current=True).select_related("organisation")]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting a row would lose the history and leave the authorisation alive at Xero:
        # use the "Disconnect Xero" action instead.
        return False


@admin.register(m.ConnectionEvent)
class ConnectionEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organisation", "kind", "transition", "from_status", "to_status", "actor",
                    "outcome", "reason"]
    list_filter = ["kind", "to_status", "outcome"]
    search_fields = ["organisation__name", "reason", "actor__username"]
    date_hierarchy = "created_at"
    list_select_related = ["organisation", "actor"]


@admin.register(m.PendingAuthorisation)
class PendingAuthorisationAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "user", "auth_event_id", "created_at", "expires_at", "completed_at"]


class ListItemAdmin(admin.ModelAdmin):
    list_filter = ["is_active", "status"]
    list_select_related = ["organisation"]


@admin.register(m.Account)
class AccountAdmin(ListItemAdmin):
    list_display = ["code", "name", "organisation", "type", "account_class", "tax_type", "status", "is_active"]
    search_fields = ["code", "name", "organisation__name"]


@admin.register(m.Currency)
class CurrencyAdmin(ListItemAdmin):
    list_display = ["code", "description", "organisation", "is_active"]
    search_fields = ["code", "organisation__name"]


@admin.register(m.TaxRate)
class TaxRateAdmin(ListItemAdmin):
    list_display = ["name", "tax_type", "organisation", "effective_rate", "status", "is_active"]
    search_fields = ["name", "tax_type", "organisation__name"]


@admin.register(m.Contact)
class ContactAdmin(ListItemAdmin):
    list_display = ["name", "organisation", "is_customer", "is_supplier", "status", "is_active"]
    list_filter = ["is_active", "is_supplier", "is_customer"]
    search_fields = ["name", "email", "organisation__name"]


class TrackingOptionInline(admin.TabularInline):
    model = m.TrackingOption
    extra = 0
    exclude = ["organisation"]


@admin.register(m.TrackingCategory)
class TrackingCategoryAdmin(ListItemAdmin):
    list_display = ["name", "organisation", "status", "is_active"]
    search_fields = ["name", "organisation__name"]
    inlines = [TrackingOptionInline]


@admin.register(m.ListRefresh)
class ListRefreshAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "trigger", "status", "created_at", "finished_at", "actor_name"]
    list_filter = ["status", "trigger"]
    search_fields = ["organisation__name"]
    list_select_related = ["organisation", "actor"]


def _export_documents(modeladmin, request, documents) -> None:
    jobs = portal_service.documents_export_selected(documents=documents, actor=request.user)
    for job in jobs:
        queued = getattr(job, "queued_count", 0)
        already = len(job.params.get("document_ids", [])) - queued
        modeladmin.message_user(request, format_html(
            "{}: {} document{} queued for export (job #{}){}.", job.organisation.name, queued,
            "" if queued == 1 else "s", job.pk,
            f"; {already} already exported or on their way, left as they are" if already > 0 else ""),
            messages.SUCCESS if queued else messages.WARNING)


class KeysFirstPaginator(Paginator):
    """Reads a page's primary keys first, then its rows: `WHERE id IN (SELECT id … ORDER BY …
    LIMIT 100 OFFSET n)`. The inner query skips the `n` rows on the ordering's index alone; the
    joins of `list_select_related` are made for the page's 100 rows only (issue #18: page 500 of
    the ledger on PostgreSQL joined the document and organisation of 50,000 skipped rows first,
    ≈ 290 ms). Still one query per page. A DISTINCT queryset (a search that may repeat rows)
    is paged the ordinary way."""

    def page(self, number):
        number = self.validate_number(number)
        if self.object_list.query.distinct:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = self.object_list.values("pk")[bottom:top]
        return self._get_page(self.object_list.filter(pk__in=keys), number, self)


class LargeTableAdmin(admin.ModelAdmin):
    """Changelists of tables that reach 100,000s of rows (issue #18): no count of the whole table
    beside the filtered one, dates filtered by range instead of a date hierarchy (which reads
    every distinct year), ordering an index serves, pages whose offset is skipped on that index
    (KeysFirstPaginator), and search by exact number or Xero id on indexed columns instead of
    LIKE '%…%' over every row."""

    show_full_result_count = False
    paginator = KeysFirstPaginator

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if queryset.model is m.SourceDocument:
            return queryset.filter(number=term), False
        # The documents' ids as values, not a subquery: `document_id IN (1, 2) OR xero_id = …` is
        # two index look-ups on PostgreSQL, where `IN (SELECT …) OR …` filters every row.
        documents = list(m.SourceDocument.objects.filter(number=term).values_list("pk", flat=True))
        return queryset.filter(Q(document_id__in=documents) | Q(xero_id=term)), False


class DocumentLineInline(admin.TabularInline):
    model = m.DocumentLine
    extra = 0


@admin.register(m.SourceDocument)
class SourceDocumentAdmin(LargeTableAdmin):
    list_display = ["number", "doc_type", "organisation", "date", "contact_name", "currency_code", "total"]
    list_filter = ["doc_type", "currency_code", ("date", admin.DateFieldListFilter)]
    search_fields = ["number"]  # see LargeTableAdmin.get_search_results
    search_help_text = "An exact document number."
    ordering = ["-date", "-id"]
    list_select_related = ["organisation"]
    inlines = [DocumentLineInline]
    raw_id_fields = ["paid_document"]
    actions = ["export_selected_documents"]

    @admin.action(description="Export selected documents to Xero")
    def export_selected_documents(self, request, queryset):
        _export_documents(self, request, list(queryset.select_related("organisation")))


class ExportAttemptInline(admin.TabularInline):
    model = m.ExportAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["started_at", "finished_at", "outcome", "messages", "http_status", "idempotency_key", "actor"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(m.ExportRecord)
class ExportRecordAdmin(LargeTableAdmin):
    list_display = ["document", "organisation", "doc_type", "doc_date", "state", "xero_id", "exported_at",
                    "attempts_count"]
    list_filter = ["state", "doc_type", ("doc_date", admin.DateFieldListFilter)]
    search_fields = ["document__number", "xero_id"]  # see LargeTableAdmin.get_search_results
    search_help_text = "An exact document number or Xero id."
    ordering = ["-doc_date", "-id"]
    list_select_related = ["document", "organisation"]
    readonly_fields = [f.name for f in m.ExportRecord._meta.fields]
    inlines = [ExportAttemptInline]
    actions = ["export_selected_records", "retry_failed_exports"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Export selected documents to Xero")
    def export_selected_records(self, request, queryset):
        _export_documents(self, request, [r.document for r in queryset.select_related("document__organisation")])

    @admin.action(description="Retry failed exports of these organisations")
    def retry_failed_exports(self, request, queryset):
        organisations = m.Organisation.objects.filter(pk__in=queryset.values("organisation_id"))
        _start_job(self, request, organisations, K.RETRY_FAILED)


@admin.register(m.BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "scope", "actor_name", "status", "total", "done", "failed", "waiting",
                    "skipped", "summary"]
    list_filter = ["kind", "status", ("organisation", admin.EmptyFieldListFilter)]
    search_fields = ["organisation__name", "actor__username", "summary"]
    list_select_related = ["organisation", "actor"]
    date_hierarchy = "created_at"

    @admin.display(description="Organisation")
    def scope(self, obj):
        return obj.organisation or f"{obj.total} organisations (portal)"


@admin.register(m.RateBudget)
class RateBudgetAdmin(ReadOnlyAdmin):
    list_display = ["scope", "minute_count", "day_count", "in_flight", "blocked_until", "last_problem", "updated_at"]
    search_fields = ["scope"]

from .api import admin as _api_admin  # noqa: E402,F401  (API keys: platform keys for staff)
