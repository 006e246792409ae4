"""A key never reaches another organisation: every endpoint under /organisations/<org>/, listed
from the API's URLconf (so a new endpoint cannot escape), answers 404 to another organisation's
key, for every method, exactly like a missing organisation."""
import re

import pytest
from django.urls import URLPattern, URLResolver

from xero_connect.api import urls as api_urls
from xero_connect.models import BulkJob, HostCategory, SourceDocument, WebhookDelivery, WebhookEndpoint

from .conftest import make_key, client_for


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


ORG_ROUTES = [r for r in _walk(api_urls.urlpatterns) if "<slug:org>" in r]


def test_the_router_has_all_the_organisation_endpoints():
    assert len(ORG_ROUTES) >= 16


@pytest.fixture
def objects(org, other_org):
    """One document, job, webhook endpoint, delivery and host category in `org` (the victim), so
    ids in the URLs are real ones."""
    doc = SourceDocument.objects.create(organisation=org, doc_type="bill", number="B-1", date="2026-11-01")
    job = BulkJob.objects.create(organisation=org, kind=BulkJob.Kind.EXPORT_SELECTED)
    endpoint = WebhookEndpoint.objects.create(organisation=org, url="http://127.0.0.1:9/", secret_encrypted="x")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, organisation=org, message_id="msg_1",
                                              event_type="document.failed", payload={})
    category = HostCategory.objects.create(organisation=org, kind=HostCategory.Kind.SALES, code="COFFEE")
    return {"documents": doc.pk, "jobs": job.pk, "webhooks": endpoint.pk, "webhook-deliveries": delivery.pk,
            "categories": category.pk}


def _url(route, objects, org_slug):
    def fill(match):
        name = match.group(2)
        if name == "org":
            return org_slug
        return str(next(pk for segment, pk in objects.items() if f"/{segment}/" in route))
    return "/api/v1/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


@pytest.mark.parametrize("route", ORG_ROUTES)
def test_another_organisations_key_gets_404_on_every_method(route, objects, other_api, org):
    """404 for every method the endpoint has (405 for the others, as for a missing organisation:
    the answer never tells that the organisation exists)."""
    url = _url(route, objects, org.slug)
    missing = _url(route, objects, "no-such-organisation")
    found = 0
    for method in ("get", "post", "patch", "put", "delete"):
        response = getattr(other_api, method)(url, {}, format="json")
        assert response.status_code == getattr(other_api, method)(missing, {}, format="json").status_code
        assert response.status_code in (404, 405), (method, url, response.status_code)
        assert response["Content-Type"] == "application/problem+json"
        assert "matches the given query" not in response.content.decode()  # no internal model names
        found += response.status_code == 404
    assert found


@pytest.mark.parametrize("route", [r for r in ORG_ROUTES if "<int:pk>" in r])
def test_ids_of_another_organisation_are_404_inside_ones_own(route, objects, other_org, org):
    """Own organisation in the URL, the victim's document or job id: still 404."""
    client = client_for(make_key(organisation=other_org, name="Other")[1])
    url = _url(route, objects, other_org.slug)
    for method in ("get", "post", "put"):
        response = getattr(client, method)(url, {}, format="json")
        if response.status_code != 405:
            break
    assert response.status_code == 404


def test_a_platform_key_with_a_listed_set_reaches_only_those(org, other_org, objects):
    api_key, key = make_key(name="Partner", organisations=[other_org])
    client = client_for(key)
    assert [o["slug"] for o in client.get("/api/v1/organisations/").json()["results"]] == ["other"]
    assert client.get(f"/api/v1/organisations/acme/documents/{objects['documents']}/").status_code == 404
    everything = client_for(make_key(name="Everything")[1])
    assert {o["slug"] for o in everything.get("/api/v1/organisations/").json()["results"]} == {"acme", "other"}
    assert everything.get(f"/api/v1/organisations/acme/documents/{objects['documents']}/").status_code == 200
