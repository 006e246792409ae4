"""Rules every organisation-scoped URL must keep, checked over the whole URLconf so that a new
page cannot escape them: another organisation's user gets 404, an anonymous user is sent to
sign in, a member gets 403 (naming the admins) on admin-only actions, and no state-changing
request is accepted without a CSRF token."""
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from xero_connect.roles import ADMIN_ONLY_ACTIONS

SAMPLE_VALUES = {"int": "1", "slug": "x", "str": "x", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x"}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def organisation_urls():
    import re

    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if "<slug:org_slug>" not in route:
            continue

        def fill(match):
            conv, name = match.group(1), match.group(2)
            return "{org}" if name == "org_slug" else SAMPLE_VALUES.get(conv, "1")

        url = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
        found.append(pytest.param(url, pattern.callback, id=route))
    return found


ORG_URLS = organisation_urls()
ADMIN_ONLY_URLS = [p for p in ORG_URLS if getattr(p.values[1], "organisation_action", None) in ADMIN_ONLY_ACTIONS]


def test_the_urlconf_has_organisation_pages_all_declared_with_their_action():
    assert len(ORG_URLS) >= 5 and ADMIN_ONLY_URLS
    undeclared = [p.id for p in ORG_URLS if getattr(p.values[1], "organisation_action", None) is None]
    assert undeclared == [], "every organisation page must use @organisation_view(Action...)"


@pytest.mark.parametrize("url,view", ORG_URLS)
def test_another_organisations_user_gets_404(client, org, outsider, url, view):
    client.force_login(outsider)
    assert client.get(url.format(org=org.slug)).status_code == 404
    assert client.post(url.format(org=org.slug)).status_code == 404


@pytest.mark.parametrize("url,view", ORG_URLS)
def test_anonymous_is_sent_to_sign_in(client, org, url, view):
    for response in (client.get(url.format(org=org.slug)), client.post(url.format(org=org.slug))):
        assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("url,view", ADMIN_ONLY_URLS)
def test_member_gets_403_naming_admins_on_admin_only_actions(member_client, org, admin_user, url, view):
    for response in (member_client.get(url.format(org=org.slug)), member_client.post(url.format(org=org.slug))):
        assert response.status_code == 403
        assert "Alice Admin" in response.content.decode()


@pytest.mark.parametrize("url,view", ORG_URLS)
def test_state_changing_requests_need_a_csrf_token(org, admin_user, url, view):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(url.format(org=org.slug), {"x": "1"}).status_code == 403


def test_non_organisation_pages_need_sign_in_too(client, db):
    for url in ("/", "/portal/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_admin_is_for_staff_only(client, member_user):
    client.force_login(member_user)
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
