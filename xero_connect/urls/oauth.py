"""The one global OAuth redirect URI (settings.XERO_REDIRECT_URI = {SITE_URL}/xero/callback/)."""
from django.urls import path

from ..views import connection as v
from ..views import webhooks

urlpatterns = [
    path("callback/", v.oauth_callback, name="xero_oauth_callback"),
    path("webhooks/", webhooks.xero_webhooks, name="xero_webhooks"),
]
