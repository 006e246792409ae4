from django.urls import path

from ..views import api_keys as v

urlpatterns = [
    path("", v.api_keys_page, name="api_keys_page"),
    path("new/", v.api_key_create, name="api_key_create"),
    path("<str:prefix>/revoke/", v.api_key_revoke, name="api_key_revoke"),
]
