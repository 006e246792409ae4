from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("xero_connect.api.urls")),
    path("", include("xero_connect.urls")),
]

if settings.XERO_SANDBOX_ENABLED:
    urlpatterns.append(path("xero-sandbox/", include("xero_sandbox.urls")))

handler403 = "xero_connect.views.errors.permission_denied"
handler404 = "xero_connect.views.errors.page_not_found"
handler500 = "xero_connect.views.errors.server_error"
