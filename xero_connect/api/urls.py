"""/api/v1/: the schema, its docs (vendored assets, no CDN) and the endpoints. Everything under
/organisations/<org>/ is scoped to the organisations the key reaches (404 outside)."""
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import problems, views

org = "organisations/<slug:org>/"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="api_schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema", authentication_classes=[],
                                                 permission_classes=[]), name="api_docs"),
    path("organisations/", views.OrganisationList.as_view(), name="api_organisations"),
    path(org, views.OrganisationDetail.as_view(), name="api_organisation"),
    path(org + "connection/", views.ConnectionView.as_view(), name="api_connection"),
    path(org + "connect-link/", views.ConnectLinkView.as_view(), name="api_connect_link"),
    *[path(org + f"lists/{name}/", view, name=f"api_list_{name}") for name, view in views.LIST_VIEWS.items()],
    path(org + "documents/", views.DocumentList.as_view(), name="api_documents"),
    path(org + "documents/<int:pk>/", views.DocumentDetail.as_view(), name="api_document"),
    path(org + "exports/", views.ExportView.as_view(), name="api_exports"),
    path(org + "jobs/<int:pk>/", views.JobView.as_view(), name="api_job"),
    path(org + "categories/", views.CategoryList.as_view(), name="api_categories"),
    path(org + "categories/accept-suggestions/", views.SuggestionsAcceptView.as_view(),
         name="api_categories_accept_suggestions"),
    path(org + "categories/<int:pk>/", views.CategoryDetail.as_view(), name="api_category"),
    path(org + "categories/<int:pk>/mapping/", views.CategoryMappingView.as_view(), name="api_category_mapping"),
    path(org + "webhooks/", views.WebhookEndpointList.as_view(), name="api_webhooks"),
    path(org + "webhooks/<int:pk>/", views.WebhookEndpointDetail.as_view(), name="api_webhook"),
    path(org + "webhook-deliveries/", views.WebhookDeliveryList.as_view(), name="api_webhook_deliveries"),
    path(org + "webhook-deliveries/<int:pk>/resend/", views.WebhookResendView.as_view(),
         name="api_webhook_resend"),
    re_path(r"^.*$", problems.not_found),
]
