"""The one global OAuth redirect URI (settings.XERO_REDIRECT_URI = {SITE_URL}/xero/callback/)."""
from django.urls import path

from ..views import connection as v
from ..views import xero_webhooks

urlpatterns = [
    path("callback/", v.oauth_callback, name="xero_oauth_callback"),
    path("webhooks/", xero_webhooks.xero_webhooks, name="xero_webhooks"),
]
