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
