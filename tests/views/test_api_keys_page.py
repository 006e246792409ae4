"""The API keys page: Admins create (shown once) and revoke; Members read; others 404."""
import re

from rest_framework.test import APIClient

from xero_connect.models import APIKey


def test_admin_creates_a_key_shown_once_then_revokes_it(admin_client, org):
    response = admin_client.post(f"/o/{org.slug}/api-keys/new/", {"name": "Inventory (production)"}, follow=True)
    assert response.status_code == 200
    api_key = APIKey.objects.get(organisation=org)
    page = response.content.decode()
    key = re.search(r"<code>(" + re.escape(api_key.prefix) + r"\.[^<]+)</code>", page).group(1)
    assert api_key.actor.get_full_name() == "Inventory (production)" and not api_key.actor.is_active
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/organisations/acme/").status_code == 200
    listing = admin_client.get(f"/o/{org.slug}/api-keys/").content.decode()
    assert api_key.prefix in listing and key not in listing  # shown once; the prefix stays
    admin_client.post(f"/o/{org.slug}/api-keys/{api_key.prefix}/revoke/")
    assert client.get("/api/v1/organisations/acme/").status_code == 401
    assert "Revoked" in admin_client.get(f"/o/{org.slug}/api-keys/").content.decode()


def test_expiry_in_the_past_is_refused(admin_client, org):
    response = admin_client.post(f"/o/{org.slug}/api-keys/new/", {"name": "x", "expiry_date": "2001-01-01T00:00"})
    assert response.status_code == 400 and not APIKey.objects.exists()


def test_members_see_the_list_but_cannot_create(member_client, org, admin_user):
    page = member_client.get(f"/o/{org.slug}/api-keys/")
    assert page.status_code == 200 and "Ask Alice Admin" in page.content.decode()
    response = member_client.post(f"/o/{org.slug}/api-keys/new/", {"name": "Mine"})
    assert response.status_code == 403 and not APIKey.objects.exists()


def test_another_organisations_keys_are_404(client, org, other_org, outsider):
    from xero_connect.services.api_keys import api_key_prepare
    api_key = APIKey(organisation=org, name="Acme's")
    api_key_prepare(api_key)
    client.force_login(outsider)
    assert client.get(f"/o/{org.slug}/api-keys/").status_code == 404
    assert client.post(f"/o/{org.slug}/api-keys/{api_key.prefix}/revoke/").status_code == 404
    assert client.post(f"/o/{other_org.slug}/api-keys/{api_key.prefix}/revoke/").status_code in (403, 404)
    api_key.refresh_from_db()
    assert not api_key.revoked


def _shown_key(page: str) -> str | None:
    found = re.search(r'id="new-key".*?<code>([^<]+)</code>', page, re.S)
    return found.group(1) if found else None


def test_the_create_form_redirects_and_a_reload_neither_shows_the_key_again_nor_makes_another(admin_client, org):
    url = f"/o/{org.slug}/api-keys/"
    response = admin_client.post(url + "new/", {"name": "Inventory"})
    assert response.status_code == 302 and response["Location"] == url  # POST-redirect-GET
    first = admin_client.get(url)
    key = _shown_key(first.content.decode())
    api_key = APIKey.objects.get(organisation=org)
    assert key and key.startswith(api_key.prefix + ".") and APIKey.objects.is_valid(key)
    assert "no-store" in first["Cache-Control"]  # the back button does not bring it back from the cache
    reload = admin_client.get(url)  # what the browser's reload sends now: a GET, not the form again
    assert reload.status_code == 200 and _shown_key(reload.content.decode()) is None
    assert key not in reload.content.decode() and api_key.prefix in reload.content.decode()
    assert APIKey.objects.filter(organisation=org).count() == 1


def test_the_session_keeps_the_key_encrypted_and_only_until_it_is_shown(admin_client, org):
    admin_client.post(f"/o/{org.slug}/api-keys/new/", {"name": "Inventory"})
    api_key = APIKey.objects.get(organisation=org)
    kept = [v for k, v in admin_client.session.items() if k.startswith("shown_once:")]
    assert len(kept) == 1 and api_key.prefix not in kept[0]  # Fernet text, not the key
    key = _shown_key(admin_client.get(f"/o/{org.slug}/api-keys/").content.decode())
    assert APIKey.objects.is_valid(key)
    assert not [k for k in admin_client.session.keys() if k.startswith("shown_once:")]


def test_a_refused_form_is_answered_in_place_and_keeps_nothing(admin_client, org):
    response = admin_client.post(f"/o/{org.slug}/api-keys/new/", {"name": ""})
    assert response.status_code == 400 and not APIKey.objects.exists()
    assert not [k for k in admin_client.session.keys() if k.startswith("shown_once:")]


def test_the_webhooks_page_names_each_endpoints_events_in_words_with_their_codes(admin_client, org, admin_user):
    from xero_connect.models import WebhookEvent
    from xero_connect.services import webhooks_out
    webhooks_out.endpoint_create(organisation=org, actor=admin_user, url="http://127.0.0.1:9/a",
                                 events=[WebhookEvent.DOCUMENT_FAILED, WebhookEvent.DOCUMENT_EXPORTED])
    webhooks_out.endpoint_create(organisation=org, actor=admin_user, url="http://127.0.0.1:9/b")
    page = admin_client.get(f"/o/{org.slug}/webhooks/").content.decode()
    assert "A document is in Xero <code>document.exported</code>; A document failed to export" in page
    assert "All events" in page
