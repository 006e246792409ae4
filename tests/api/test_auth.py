"""Who may call the API: keys, their end (revoked, expired), their limits, and the shape of errors."""
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from xero_connect.models import APIKey

from .conftest import client_for, make_key

PROBLEM = "application/problem+json"


def test_no_key_is_401_problem_with_the_scheme_named(client, org):
    response = client.get("/api/v1/organisations/")
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "Api-Key"
    body = response.json()
    assert body["status"] == 401 and body["title"] == "Unauthorized" and body["detail"]


def test_a_valid_key_reaches_its_organisation_and_notes_when_it_was_used(api, org, org_key):
    response = api.get("/api/v1/organisations/")
    assert response.status_code == 200
    assert [o["slug"] for o in response.json()["results"]] == ["acme"]
    org_key[0].refresh_from_db()
    assert org_key[0].last_used_at is not None


def test_revoked_key_is_401(api, org_key):
    api_key = org_key[0]
    api_key.revoked = True
    api_key.save()
    response = api.get("/api/v1/organisations/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_expired_key_is_401(org):
    api_key, key = make_key(organisation=org, expiry_date=timezone.now() - timedelta(minutes=1))
    response = client_for(key).get("/api/v1/organisations/acme/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_made_up_or_tampered_key_is_401(org, org_key):
    prefix = org_key[0].prefix
    for key in (f"{prefix}.not-the-secret", "nothing.here", "garbage"):
        assert client_for(key).get("/api/v1/organisations/").status_code == 401


def test_each_key_has_its_rate_limit_then_429_with_retry_after(org):
    cache.clear()
    api_key, key = make_key(organisation=org, rate_per_minute=3)
    client = client_for(key)
    other = client_for(make_key(organisation=org, name="second")[1])
    assert [client.get("/api/v1/organisations/").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/organisations/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"] == PROBLEM
    assert other.get("/api/v1/organisations/").status_code == 200  # another key has its own budget
    cache.clear()


def test_request_bodies_are_capped(api, org, settings):
    settings.API_MAX_BODY_BYTES = 1000
    response = api.post("/api/v1/organisations/acme/documents/",
                        {"documents": [{"type": "bill", "number": "B" * 2000}]}, format="json")
    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM


def test_unknown_addresses_and_bad_json_are_problems_too(api, org):
    response = api.get("/api/v1/nowhere/")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM
    response = api.post("/api/v1/organisations/acme/documents/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM


def test_the_schema_and_docs_need_no_key_and_use_no_cdn(client, db):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert "/api/v1/organisations/{org}/documents/" in schema.json()["paths"]
    docs = client.get("/api/v1/docs/").content.decode()
    assert "cdn" not in docs.lower() and "drf_spectacular_sidecar" in docs


def test_keys_are_stored_hashed(org_key):
    api_key, key = org_key
    stored = APIKey.objects.get(pk=api_key.pk)
    assert key.split(".", 1)[1] not in stored.hashed_key and stored.prefix == key.split(".", 1)[0]


def test_addresses_no_endpoint_matches_are_404_even_for_posts(api, org):
    response = api.post("/api/v1/organisations/acme/webhook-deliveries/-1/resend/")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def test_a_nul_in_a_query_parameter_is_a_problem_too(api, org):
    response = api.get("/api/v1/organisations/acme/documents/?cursor=%00")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
