"""The built-in admin for platform staff. Tokens are never shown or editable."""
from django.contrib import admin

from . import models as m


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


@admin.register(m.Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "base_currency", "created_at"]
    search_fields = ["name", "slug"]
    list_filter = ["base_currency"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, ExchangeRateInline]


@admin.register(m.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "organisation__name"]
    autocomplete_fields = ["user", "organisation"]


TOKEN_FIELDS = {"access_token_encrypted", "refresh_token_encrypted", "previous_refresh_token_encrypted"}


@admin.register(m.XeroConnection)
class XeroConnectionAdmin(admin.ModelAdmin):
    list_display = ["organisation", "tenant_name", "status", "is_current", "connected_by", "connected_at",
                    "last_refreshed_at", "last_health_check_at"]
    list_filter = ["status", "is_current"]
    search_fields = ["organisation__name", "tenant_name", "tenant_id", "short_code"]
    exclude = sorted(TOKEN_FIELDS)
    readonly_fields = ["organisation", "status", "is_current", "tenant_id", "tenant_name", "xero_connection_id",
                       "auth_event_id", "short_code", "xero_base_currency", "scopes", "xero_user_name",
                       "xero_user_email", "access_token_expires_at", "refresh_token_issued_at", "connected_by",
                       "connected_at", "disconnected_at", "last_refreshed_at", "last_health_check_at",
                       "last_error", "last_error_at"]

    def has_add_permission(self, request):
        return False


@admin.register(m.ConnectionEvent)
class ConnectionEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organisation", "kind", "transition", "from_status", "to_status", "actor",
                    "outcome", "reason"]
    list_filter = ["kind", "to_status", "outcome"]
    search_fields = ["organisation__name", "reason", "actor__username"]
    date_hierarchy = "created_at"


@admin.register(m.PendingAuthorisation)
class PendingAuthorisationAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "user", "auth_event_id", "created_at", "expires_at", "completed_at"]
    exclude = ["access_token_encrypted", "refresh_token_encrypted"]


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
    list_display = ["organisation", "trigger", "status", "created_at", "finished_at", "actor"]
    list_filter = ["status", "trigger"]
    search_fields = ["organisation__name"]


class DocumentLineInline(admin.TabularInline):
    model = m.DocumentLine
    extra = 0


@admin.register(m.SourceDocument)
class SourceDocumentAdmin(admin.ModelAdmin):
    list_display = ["number", "doc_type", "organisation", "date", "contact_name", "currency_code", "total"]
    list_filter = ["doc_type", "currency_code"]
    search_fields = ["number", "reference", "contact_name", "organisation__name"]
    date_hierarchy = "date"
    list_select_related = ["organisation"]
    inlines = [DocumentLineInline]
    raw_id_fields = ["paid_document"]


class ExportAttemptInline(admin.TabularInline):
    model = m.ExportAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["started_at", "finished_at", "outcome", "messages", "http_status", "idempotency_key", "actor"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(m.ExportRecord)
class ExportRecordAdmin(admin.ModelAdmin):
    list_display = ["document", "organisation", "doc_type", "doc_date", "state", "xero_id", "exported_at",
                    "attempts_count"]
    list_filter = ["state", "doc_type"]
    search_fields = ["document__number", "xero_id", "organisation__name"]
    list_select_related = ["document", "organisation"]
    readonly_fields = [f.name for f in m.ExportRecord._meta.fields]
    inlines = [ExportAttemptInline]

    def has_add_permission(self, request):
        return False


@admin.register(m.BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "organisation", "actor", "status", "total", "done", "failed", "waiting"]
    list_filter = ["kind", "status"]
    search_fields = ["organisation__name", "actor__username"]


@admin.register(m.RateBudget)
class RateBudgetAdmin(ReadOnlyAdmin):
    list_display = ["scope", "minute_count", "day_count", "in_flight", "blocked_until", "last_problem", "updated_at"]
    search_fields = ["scope"]
