"""The OAuth 2.0 dance, driven over real HTTP like the product does it."""
import base64
import json
import re

import requests
from django.conf import settings

from xero_sandbox import services


def _claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_sign_in_rejects_a_wrong_password(xero):
    answer = xero.sign_in(password="nope")
    assert answer.status_code == 401
    assert "incorrect" in answer.text
    assert "xero_sandbox_session" not in xero.browser.cookies


def test_authorize_without_sign_in_sends_to_the_login_page(xero):
    answer = xero.browser.get(xero.authorize_url(), allow_redirects=False)
    assert answer.status_code == 302
    assert "/xero-sandbox/identity/login?next=" in answer.headers["Location"]


def test_full_flow_code_pkce_tokens_and_connections(xero, tenant_ids):
    assert xero.sign_in().status_code == 302
    verifier, challenge = __import__("tests.sandbox.conftest", fromlist=["pkce_pair"]).pkce_pair()
    query, page = xero.consent(xero.authorize_url(state="s-42", challenge=challenge))
    assert "Continue with 4 organisations" in page
    assert query["state"] == "s-42" and query["code"]

    # Wrong verifier → invalid_grant, and the code is not burnt by a failed PKCE check…
    bad = xero.token(grant_type="authorization_code", code=query["code"], redirect_uri=xero.redirect_uri,
                     code_verifier="x" * 50)
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_grant"}
    answer = xero.token(grant_type="authorization_code", code=query["code"], redirect_uri=xero.redirect_uri,
                        code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"id_token", "access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800
    identity = _claims(tokens["id_token"])
    assert identity["email"] == "demo@xero.example" and identity["name"] == "Dana Demo" and identity["xero_userid"]

    # …but a used code is single use.
    again = xero.token(grant_type="authorization_code", code=query["code"], redirect_uri=xero.redirect_uri,
                       code_verifier=verifier)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}

    listed = xero.connections(tokens["access_token"])
    assert listed.status_code == 200
    rows = listed.json()
    assert {r["tenantId"] for r in rows} == set(tenant_ids.values())
    assert {r["tenantType"] for r in rows} == {"ORGANISATION"}
    event = _claims(tokens["access_token"])["authentication_event_id"]
    assert {r["authEventId"] for r in rows} == {event}
    assert set(rows[0]) == {"id", "authEventId", "tenantId", "tenantType", "tenantName", "createdDateUtc",
                            "updatedDateUtc"}
    assert xero.connections(tokens["access_token"], authEventId="00000000-0000-0000-0000-000000000000").json() == []

    gone = xero.api_session.delete(f"{xero.base}/xero-sandbox/connections/{rows[0]['id']}",
                                   headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert gone.status_code == 204
    assert len(xero.connections(tokens["access_token"]).json()) == 3
    unknown = xero.api_session.delete(f"{xero.base}/xero-sandbox/connections/{rows[0]['id']}",
                                      headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert unknown.status_code == 404


def test_cancel_redirects_with_access_denied_and_state(xero):
    xero.sign_in()
    query, _ = xero.consent(xero.authorize_url(state="keep-me"), action="cancel")
    assert query == {"error": "access_denied", "state": "keep-me"}


def test_user_with_one_organisation_sees_only_it(xero, tenant_ids):
    xero.connect(email="solo@xero.example")
    assert [r["tenantId"] for r in xero.connections().json()] == [tenant_ids["!kWh4R"]]


def test_bad_client_secret_is_invalid_client(xero):
    xero.secret = "wrong"
    answer = xero.token(grant_type="refresh_token", refresh_token="x")
    assert answer.status_code == 400 and answer.json() == {"error": "invalid_client"}


def test_refresh_rotates_and_the_previous_token_has_a_grace_period(connected, settings):
    first = connected.tokens["refresh_token"]
    rotated = connected.token(grant_type="refresh_token", refresh_token=first)
    assert rotated.status_code == 200
    second = rotated.json()["refresh_token"]
    assert second != first
    assert connected.connections(rotated.json()["access_token"]).status_code == 200

    # Within the grace period the previous token still works (a lost answer can be retried).
    assert connected.token(grant_type="refresh_token", refresh_token=first).status_code == 200

    # After it: invalid_grant.
    settings.XERO_SANDBOX_REFRESH_GRACE = 0
    late = connected.token(grant_type="refresh_token", refresh_token=first)
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    # The newest token is unaffected.
    assert connected.token(grant_type="refresh_token", refresh_token=second).status_code == 200


def test_access_tokens_expire(connected, tenant_ids):
    assert connected.api("GET", "Organisation", tenant=tenant_ids["!kWh4R"]).status_code == 200
    services.expire_access_tokens(tenant=tenant_ids["!kWh4R"])
    answer = connected.api("GET", "Organisation", tenant=tenant_ids["!kWh4R"])
    assert answer.status_code == 401
    assert answer.json()["Detail"].startswith("TokenExpired: token expired at ")
    fresh = connected.token(grant_type="refresh_token", refresh_token=connected.tokens["refresh_token"]).json()
    assert connected.api("GET", "Organisation", tenant=tenant_ids["!kWh4R"],
                         access_token=fresh["access_token"]).status_code == 200


def test_revoke_removes_every_connection_of_the_token(connected, tenant_ids):
    answer = connected.api_session.post(f"{connected.base}/xero-sandbox/identity/connect/revocation",
                                        data={"token": connected.tokens["refresh_token"]},
                                        auth=(connected.client_id, connected.secret))
    assert answer.status_code == 200
    refreshed = connected.token(grant_type="refresh_token", refresh_token=connected.tokens["refresh_token"])
    assert refreshed.json() == {"error": "invalid_grant"}
    assert connected.connections().status_code == 401  # its access tokens died with it

    # A fresh consent works again and lists the tenants.
    connected.connect()
    assert len(connected.connections().json()) == 4


def test_reconsent_keeps_the_connection_and_survives_revoking_the_old_token(connected, tenant_ids):
    old_tokens = connected.tokens
    before = {r["tenantId"]: r for r in connected.connections().json()}
    connected.connect()
    after = {r["tenantId"]: r for r in connected.connections().json()}
    nz = tenant_ids["!kWh4R"]
    assert after[nz]["id"] == before[nz]["id"]
    assert after[nz]["authEventId"] != before[nz]["authEventId"]
    connected.api_session.post(f"{connected.base}/xero-sandbox/identity/connect/revocation",
                               data={"token": old_tokens["refresh_token"]}, auth=(connected.client_id, connected.secret))
    assert len(connected.connections().json()) == 4


def test_disconnect_on_the_connected_apps_page_forbids_the_api_but_refresh_works(connected, tenant_ids):
    nz = tenant_ids["!kWh4R"]
    assert connected.api("GET", "Organisation", tenant=nz).status_code == 200
    page = connected.browser.get(f"{connected.base}/xero-sandbox/orgs/{nz}/")
    assert "Connected Apps" in page.text and settings.PRODUCT_NAME in page.text
    action = re.search(r'action="([^"]+/disconnect)"', page.text).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = connected.browser.post(f"{connected.base}{action}", data={"csrfmiddlewaretoken": token},
                                  headers={"Referer": page.url}, allow_redirects=False)
    assert done.status_code == 302
    assert "No apps are connected" in connected.browser.get(f"{connected.base}/xero-sandbox/orgs/{nz}/").text

    assert nz not in {r["tenantId"] for r in connected.connections().json()}
    answer = connected.api("GET", "Invoices", tenant=nz)
    assert answer.status_code == 403
    assert answer.json()["Title"] == "Forbidden" and answer.json()["Detail"] == "AuthenticationUnsuccessful"
    refreshed = connected.token(grant_type="refresh_token", refresh_token=connected.tokens["refresh_token"])
    assert refreshed.status_code == 200
    assert connected.api("GET", "Invoices", tenant=nz, access_token=refreshed.json()["access_token"]).status_code == 403
    # Other tenants are unaffected.
    assert connected.api("GET", "Invoices", tenant=tenant_ids["!wG7oS"]).status_code == 200


def test_in_process_consent_helper(seeded, client):
    from django.conf import settings
    url = ("http://x/xero-sandbox/identity/connect/authorize?response_type=code&client_id="
           f"{settings.XERO_CLIENT_ID}&redirect_uri={settings.XERO_REDIRECT_URI}&scope=openid%20offline_access"
           "%20accounting.settings&state=abc")
    back = services.consent_redirect(url)
    assert back.startswith(settings.XERO_REDIRECT_URI) and "state=abc" in back and "code=" in back
    code = re.search(r"code=([^&]+)", back).group(1)
    answer = client.post("/xero-sandbox/identity/connect/token", {
        "grant_type": "authorization_code", "code": requests.utils.unquote(code),
        "redirect_uri": settings.XERO_REDIRECT_URI},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(
            f"{settings.XERO_CLIENT_ID}:{settings.XERO_CLIENT_SECRET}".encode()).decode())
    assert answer.status_code == 200 and "refresh_token" in answer.json()
