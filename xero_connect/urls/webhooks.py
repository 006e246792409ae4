from django.urls import path

from ..views import webhooks as v

urlpatterns = [
    path("", v.webhooks_page, name="webhooks_page"),
    path("new/", v.webhook_endpoint_create, name="webhook_endpoint_create"),
    path("<int:endpoint_id>/", v.webhook_endpoint_change, name="webhook_endpoint_change"),
    path("deliveries/<int:delivery_id>/resend/", v.webhook_delivery_resend, name="webhook_delivery_resend"),
]
