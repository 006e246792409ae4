"""URLconf of the product. Every organisation page lives under /o/<org_slug>/."""
from django.urls import include, path

from ..views import auth, organisation
from ..views.api_keys import connect_link

urlpatterns = [
    path("", organisation.home, name="home"),
    path("favicon.ico", organisation.favicon, name="favicon"),
    path("go/", organisation.organisation_switch, name="organisation_switch"),
    path("go/organisations.json", organisation.organisations_json, name="organisations_json"),
    path("login/", auth.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("portal/", include("xero_connect.urls.portal")),
    path("xero/", include("xero_connect.urls.oauth")),
    path("o/<slug:org_slug>/", organisation.organisation_home, name="organisation_home"),
    path("o/<slug:org_slug>/xero/", include("xero_connect.urls.connection")),
    path("o/<slug:org_slug>/lists/", include("xero_connect.urls.lists")),
    path("o/<slug:org_slug>/exports/", include("xero_connect.urls.exports")),
    path("o/<slug:org_slug>/mapping/", include("xero_connect.urls.mapping")),
    path("o/<slug:org_slug>/api-keys/", include("xero_connect.urls.api_keys")),
    path("o/<slug:org_slug>/webhooks/", include("xero_connect.urls.webhooks")),
    path("connect/<str:token>/", connect_link, name="connect_link"),
]
