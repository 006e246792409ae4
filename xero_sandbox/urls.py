from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from . import gateway
from .views import control, identity, pages

app_name = "xero_sandbox"


@csrf_exempt
def api(request, resource, item_id=None):
    return gateway.handle(request, resource, item_id)


urlpatterns = [
    path("", pages.index, name="index"),
    # identity (login.xero.com / identity.xero.com)
    path("identity/login", identity.login, name="login"),
    path("identity/logout", identity.logout, name="logout"),
    path("identity/connect/authorize", identity.authorize, name="authorize"),
    path("identity/connect/token", identity.token, name="token"),
    path("identity/connect/revocation", identity.revocation, name="revocation"),
    # api.xero.com/connections
    path("connections", identity.connections, name="connections"),
    path("connections/<uuid:connection_id>", identity.connection_delete, name="connection_delete"),
    # api.xero.com/api.xro/2.0
    re_path(r"^api\.xro/2\.0/(?P<resource>[A-Za-z]+)/?$", api, name="api"),
    re_path(r"^api\.xro/2\.0/(?P<resource>[A-Za-z]+)/(?P<item_id>[^/]+)/?$", api, name="api_item"),
    # go.xero.com deep links and the sandbox's pages
    path("organisationlogin/default.aspx", pages.deep_link, name="deep_link"),
    path("orgs/<uuid:tenant_id>/", pages.organisation, name="organisation"),
    path("orgs/<uuid:tenant_id>/connected-apps/<str:client_id>/disconnect", pages.disconnect, name="disconnect"),
    path("orgs/<uuid:tenant_id>/documents/<uuid:document_id>/", pages.document, name="document"),
    path("orgs/<uuid:tenant_id>/documents/<uuid:document_id>/change", pages.document_change,
         name="document_change"),
    path("orgs/<uuid:tenant_id>/contacts/<uuid:contact_id>/", pages.contact, name="contact"),
    # control endpoint for tests, benchmarks and demos
    path("control/<str:action>", control.control, name="control"),
]
