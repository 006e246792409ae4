"""Platform keys in the Django admin: staff create a key that reaches every organisation (or a
listed set); the full key is shown once in the message bar. Organisation keys are listed too
(made by their Admins on the API keys page) and can be revoked here."""
from django.contrib import admin, messages
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from ..models import APIKey
from ..services.api_keys import api_key_prepare

if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)  # the library's own model is not used


@admin.register(APIKey)
class PlatformAPIKeyAdmin(APIKeyModelAdmin):
    list_display = ("prefix", "name", "organisation", "created", "last_used_at", "expiry_date", "_has_expired",
                    "revoked")
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix", "organisation__name")
    filter_horizontal = ("organisations",)
    fields = ("name", "organisations", "expiry_date", "rate_per_minute", "revoked")

    def get_readonly_fields(self, request, obj=None):
        return ("prefix", "organisation") + (("name", "revoked", "expiry_date") if obj and obj.revoked else ())

    def get_fields(self, request, obj=None):
        return (("prefix", "organisation") if obj else ()) + self.fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        key = api_key_prepare(obj, created_by=request.user)
        messages.warning(request, f"The platform key “{obj.name}” is: {key} — store it somewhere safe now: it "
                                  f"is shown only this once.")


# --- webhooks out ------------------------------------------------------------------------------

from django import forms  # noqa: E402

from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent  # noqa: E402
from ..services import webhooks_out  # noqa: E402


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices, required=False,
                                       widget=forms.CheckboxSelectMultiple, help_text="None ticked: every event.")

    class Meta:
        model = WebhookEndpoint
        fields = ["organisation", "url", "description", "events", "is_active"]
        field_classes = {"url": lambda **kw: forms.URLField(assume_scheme="https", **kw)}


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Platform-wide endpoints (no organisation) hear every organisation; staff make them here."""

    form = WebhookEndpointForm
    list_display = ("url", "organisation", "is_active", "failing_since", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "organisation__name")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()
            return
        try:
            endpoint, secret = webhooks_out.endpoint_create(
                organisation=obj.organisation, actor=request.user, url=obj.url,
                events=form.cleaned_data.get("events") or [], description=obj.description, as_staff=True)
        except ValueError as exc:
            messages.error(request, str(exc))
            return
        obj.pk = endpoint.pk
        messages.warning(request, f"The signing secret of {endpoint.url} is: {secret} — store it now: it is shown "
                                  f"only this once.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "at", "status_code", "error", "duration_ms")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_type", "endpoint", "organisation", "status", "attempts", "last_status_code",
                    "next_attempt_at", "created_at")
    list_filter = ("status", "event_type")
    search_fields = ("message_id", "endpoint__url", "organisation__name")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Resend the selected deliveries")
    def resend(self, request, queryset):
        n = 0
        for delivery in queryset.select_related("endpoint"):
            webhooks_out.webhook_resend(delivery=delivery, actor=request.user, as_staff=True)
            n += 1
        self.message_user(request, f"Sending {n} deliveries again.")
