"""Organisations by the host's ids, the connection in the product's words, and the connect
link that takes an Admin through the usual connect pages and back to the host."""
from urllib.parse import parse_qs, urlparse

from django.core import signing
from django.test import Client
from django.urls import reverse

from tests.fakes import add_connections, add_delete, add_organisation, add_token, tenant
from xero_connect.models import Organisation, PendingAuthorisation, XeroConnection


def test_platform_key_creates_and_updates_organisations_by_external_id(platform_api, db):
    response = platform_api.post("/api/v1/organisations/", {"name": "Kauri Cafe", "external_id": "cust-42",
                                                             "base_currency": "NZD"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "kauri-cafe"
    assert Organisation.objects.get(external_id="cust-42").name == "Kauri Cafe"
    again = platform_api.post("/api/v1/organisations/", {"name": "Kauri Cafe", "external_id": "cust-42"},
                              format="json")
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "external_id"
    found = platform_api.get("/api/v1/organisations/?external_id=cust-42").json()["results"]
    assert [o["slug"] for o in found] == ["kauri-cafe"]
    changed = platform_api.patch("/api/v1/organisations/kauri-cafe/", {"name": "Kauri Café", "external_id": "c-43"},
                                 format="json")
    assert changed.status_code == 200 and changed.json()["external_id"] == "c-43"
    assert platform_api.patch("/api/v1/organisations/kauri-cafe/", {"slug": "other"}, format="json").status_code == 400


def test_an_organisation_key_cannot_create_or_change_organisations(api, org):
    assert api.post("/api/v1/organisations/", {"name": "Mine"}, format="json").status_code == 403
    assert api.patch("/api/v1/organisations/acme/", {"name": "Renamed"}, format="json").status_code == 403
    org.refresh_from_db()
    assert org.name == "Acme Widgets" and not Organisation.objects.filter(name="Mine").exists()


def test_connection_in_the_products_words(api, org, connected):
    body = api.get("/api/v1/organisations/acme/connection/").json()
    assert body["status"] == "connected" and body["status_words"] == "Connected"
    assert body["xero_organisation_name"] == "Acme Xero" and body["next_step"]
    XeroConnection.objects.filter(pk=connected.pk).update(status="needs_reconnect")
    body = api.get("/api/v1/organisations/acme/connection/").json()
    assert body["status_words"] == "Needs reconnect" and "connect link" in body["next_step"]


def test_not_connected(api, org):
    body = api.get("/api/v1/organisations/acme/connection/").json()
    assert body["status"] == "not_connected" and body["scopes"] == [] and body["last_checked_at"] is None


def make_link(api, return_url="http://127.0.0.1:9000/back?x=1"):
    response = api.post("/api/v1/organisations/acme/connect-link/", {"return_url": return_url}, format="json")
    assert response.status_code == 201, response.json()
    return urlparse(response.json()["url"]).path


def test_connect_link_takes_the_admin_through_connect_and_back_to_the_host(api, org, admin_client, rsps):
    link = make_link(api)
    response = admin_client.get(link)
    assert response["Location"] == reverse("connection_start", args=[org.slug])
    start = admin_client.post(response["Location"])
    state = parse_qs(urlparse(start["Location"]).query)["state"][0]
    add_token(rsps)
    add_connections(rsps, [tenant(1, name="Acme NZ")])
    admin_client.get(reverse("xero_oauth_callback"), {"state": state, "code": "c"})
    pending = PendingAuthorisation.objects.get()
    add_organisation(rsps)
    add_delete(rsps)
    done = admin_client.post(reverse("connection_confirm", args=[org.slug, pending.pk]), {"tenant_id": "tenant-1"})
    assert done.status_code == 302
    assert done["Location"] == "http://127.0.0.1:9000/back?x=1&organisation=acme&status=connected"
    assert XeroConnection.objects.get(organisation=org).tenant_id == "tenant-1"


def test_connect_link_gates(api, org, admin_user, member_user, outsider):
    link = make_link(api)
    assert "/login/" in Client().get(link)["Location"]  # the Admin still signs in here
    for user, status in ((member_user, 403), (outsider, 404)):  # role gates unchanged; others' 404
        client = Client()
        client.force_login(user)
        assert client.get(link).status_code == status
    admin = Client()
    admin.force_login(admin_user)
    tampered = link.rstrip("/")[:-3] + "xyz/"
    assert admin.get(tampered).status_code == 400
    assert admin.get(link).status_code == 302


def test_connect_link_expires(api, org, admin_client, settings):
    link = make_link(api)
    settings.API_CONNECT_LINK_TTL = -1
    response = admin_client.get(link)
    assert response.status_code == 400 and "no longer works" in response.content.decode()


def test_return_url_must_be_on_the_allow_list(api, org):
    for url in ("https://evil.example/steal", "javascript:alert(1)", "ftp://127.0.0.1/"):
        response = api.post("/api/v1/organisations/acme/connect-link/", {"return_url": url}, format="json")
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == "return_url"


def test_the_link_is_signed_for_one_organisation(api, org, other_org):
    token = make_link(api).rstrip("/").rsplit("/", 1)[1]
    assert signing.loads(token, salt="xero_connect.connect_link")["o"] == org.pk
