"""Webhook endpoints through the API and on the Webhooks page."""
from django.test import Client

from xero_connect.models import WebhookDelivery, WebhookEndpoint

URL = "/api/v1/organisations/acme/webhooks/"


def test_api_creates_lists_and_deletes_endpoints_secret_shown_once(api, org):
    made = api.post(URL, {"url": "http://127.0.0.1:9/hooks", "events": ["document.failed"]}, format="json")
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    listed = api.get(URL).json()["results"]
    assert [e["url"] for e in listed] == ["http://127.0.0.1:9/hooks"] and "secret" not in listed[0]
    endpoint_id = made.json()["id"]
    assert api.get(f"{URL}{endpoint_id}/").json()["events"] == ["document.failed"]
    assert api.post(URL, {"url": "http://x/", "events": ["document.lost"]}, format="json").status_code == 400
    assert api.delete(f"{URL}{endpoint_id}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_production_refuses_plain_http(api, org, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = api.post(URL, {"url": "http://hooks.example.com/"}, format="json")
    assert response.status_code == 400 and "https" in response.json()["errors"][0]["message"]


def test_deliveries_and_resend(api, org, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpoint.objects.get(pk=api.post(URL, {"url": "http://127.0.0.1:9/h"}, format="json")
                                           .json()["id"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, organisation=org, message_id="msg_x",
                                              event_type="document.failed", payload={}, status="failed", attempts=8)
    listed = api.get("/api/v1/organisations/acme/webhook-deliveries/?status=failed").json()["results"]
    assert [d["message_id"] for d in listed] == ["msg_x"]
    with django_capture_on_commit_callbacks(execute=True):  # the drain runs inline: port 9 refuses
        response = api.post(f"/api/v1/organisations/acme/webhook-deliveries/{delivery.pk}/resend/")
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.attempt_log.count() == 1 and "Could not reach" in delivery.last_error


def test_the_page_admin_adds_member_reads_others_404(org, admin_user, member_user, outsider):
    admin = Client()
    admin.force_login(admin_user)
    page = admin.post(f"/o/{org.slug}/webhooks/new/", {"url": "http://127.0.0.1:9/h", "events": ["lists.refreshed"]},
                      follow=True)
    assert page.redirect_chain == [(f"/o/{org.slug}/webhooks/", 302)]  # POST-redirect-GET: a reload re-sends nothing
    assert "whsec_" in page.content.decode() and "no-store" in page["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert "whsec_" not in admin.get(f"/o/{org.slug}/webhooks/").content.decode()  # the reload: shown once
    member = Client()
    member.force_login(member_user)
    assert "127.0.0.1:9/h" in member.get(f"/o/{org.slug}/webhooks/").content.decode()
    assert member.post(f"/o/{org.slug}/webhooks/{endpoint.pk}/", {"do": "delete"}).status_code == 403
    other = Client()
    other.force_login(outsider)
    assert other.get(f"/o/{org.slug}/webhooks/").status_code == 404
    assert other.post(f"/o/{org.slug}/webhooks/{endpoint.pk}/", {"do": "delete"}).status_code == 404
    admin.post(f"/o/{org.slug}/webhooks/{endpoint.pk}/", {"do": "delete"})
    assert not WebhookEndpoint.objects.exists()
