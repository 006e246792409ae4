"""The API keys page: Admins create (shown once) and revoke; Members read; others 404."""
from rest_framework.test import APIClient

from xero_connect.models import APIKey


def test_admin_creates_a_key_shown_once_then_revokes_it(admin_client, org):
    response = admin_client.post(f"/o/{org.slug}/api-keys/new/", {"name": "Inventory (production)"})
    assert response.status_code == 200
    api_key = APIKey.objects.get(organisation=org)
    page = response.content.decode()
    import re
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
