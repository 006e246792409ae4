"""Fixtures for driving the sandbox like a client would: over real HTTP (live_server +
requests), with the official OpenAPI file to check what goes in and out."""
import base64
import hashlib
import json
import re
import secrets
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.conf import settings

from xero_sandbox.seed import seed_sandbox

SPEC_PATH = Path(__file__).resolve().parent / "openapi" / "xero_accounting.yaml"
API_PREFIX = "/xero-sandbox/api.xro/2.0"
SCOPES = "openid profile email offline_access accounting.settings accounting.contacts accounting.invoices " \
         "accounting.payments accounting.manualjournals"
NZ, AU, UK, US = "!kWh4R", "!wG7oS", "!tL2bK", "!hP9bC"


@pytest.fixture(scope="session")
def openapi():
    """The official Accounting API description, loaded once (it is 900 KB). The file's
    own spec validation is skipped: it has a boolean parameter whose default is the
    string 'false', which openapi-spec-validator rejects; the schemas are fine."""
    assert SPEC_PATH.exists(), f"Xero's OpenAPI file is missing: {SPEC_PATH}"
    from openapi_core import Config, OpenAPI
    return OpenAPI.from_file_path(str(SPEC_PATH), config=Config(spec_validator_cls=None))


class SpecChecker:
    """Validates a sandbox exchange against the spec by mapping the sandbox path onto the
    spec's server (https://api.xero.com/api.xro/2.0)."""

    def __init__(self, openapi):
        self.openapi = openapi
        self.checked = 0

    def _request(self, response):
        from openapi_core.testing import MockRequest
        sent = response.request
        url = urlsplit(sent.url)
        assert url.path.startswith(API_PREFIX), url.path
        args = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = sent.body.encode() if isinstance(sent.body, str) else sent.body
        return MockRequest("https://api.xero.com", sent.method.lower(), "/api.xro/2.0" + url.path[len(API_PREFIX):],
                           headers=dict(sent.headers), args=args, data=body,
                           content_type=sent.headers.get("Content-Type", "application/json"))

    def response(self, response):
        from openapi_core.testing import MockResponse
        assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Unsupported scheme type")  # OAuth2 is not checked here
            self.openapi.validate_response(self._request(response), MockResponse(
                response.content, status_code=response.status_code, content_type="application/json"))
        self.checked += 1

    def request(self, response):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Unsupported scheme type")
            self.openapi.validate_request(self._request(response))
        self.checked += 1


@pytest.fixture
def spec(openapi):
    return SpecChecker(openapi)


@pytest.fixture
def seeded(db):
    return seed_sandbox()


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class XeroUser:
    """A browser-ish session for a sandbox Xero user (cookies, CSRF), and an app client
    for the token endpoint, connections and the API."""

    def __init__(self, base):
        self.base = base
        self.browser = requests.Session()
        self.api_session = requests.Session()
        self.client_id = settings.XERO_CLIENT_ID
        self.secret = settings.XERO_CLIENT_SECRET
        self.redirect_uri = settings.XERO_REDIRECT_URI

    # --- browser part
    def csrf(self, html):
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def sign_in(self, email="demo@xero.example", password="xero-demo"):
        page = self.browser.get(f"{self.base}/xero-sandbox/identity/login")
        return self.browser.post(f"{self.base}/xero-sandbox/identity/login", allow_redirects=False, data={
            "csrfmiddlewaretoken": self.csrf(page.text), "email": email, "password": password,
            "next": "/xero-sandbox/"}, headers={"Referer": page.url})

    def authorize_url(self, state="st-123", challenge=None, scope=SCOPES):
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": scope, "state": state}
        if challenge:
            params.update(code_challenge=challenge, code_challenge_method="S256")
        return f"{self.base}/xero-sandbox/identity/connect/authorize?{urlencode(params)}"

    def consent(self, url, *, action="allow", tenants=None):
        """Open the consent page and press a button; returns (redirect query, page html)."""
        page = self.browser.get(url)
        assert page.status_code == 200, page.text[:300]
        offered = re.findall(r'name="tenant" value="([^"]+)"', page.text)
        data = {"csrfmiddlewaretoken": self.csrf(page.text), "action": action,
                "tenant": offered if tenants is None else tenants}
        answer = self.browser.post(url, data=data, allow_redirects=False, headers={"Referer": url})
        assert answer.status_code == 302, answer.text[:300]
        location = answer.headers["Location"]
        assert location.startswith(self.redirect_uri)
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}, page.text

    # --- app part
    def token(self, **form):
        return self.api_session.post(f"{self.base}/xero-sandbox/identity/connect/token", data=form,
                                     auth=(self.client_id, self.secret))

    def connect(self, *, tenants=None, email="demo@xero.example"):
        """The whole dance; returns the token answer (dict)."""
        assert self.sign_in(email).status_code == 302
        verifier, challenge = pkce_pair()
        query, _ = self.consent(self.authorize_url(challenge=challenge), tenants=tenants)
        answer = self.token(grant_type="authorization_code", code=query["code"], redirect_uri=self.redirect_uri,
                            code_verifier=verifier)
        assert answer.status_code == 200, answer.text
        self.tokens = answer.json()
        return self.tokens

    def connections(self, access_token=None, **params):
        return self.api_session.get(f"{self.base}/xero-sandbox/connections", params=params,
                                    headers={"Authorization": f"Bearer {access_token or self.tokens['access_token']}"})

    def api(self, method, path, *, tenant, body=None, params=None, headers=None, access_token=None, timeout=10):
        all_headers = {"Authorization": f"Bearer {access_token or self.tokens['access_token']}",
                       "xero-tenant-id": str(tenant), "Accept": "application/json"}
        all_headers.update(headers or {})
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        return self.api_session.request(method, f"{self.base}{API_PREFIX}/{path}", params=params, headers=all_headers,
                                        data=json.dumps(body) if body is not None else None, timeout=timeout)


@pytest.fixture
def xero(live_server, seeded):
    user = XeroUser(live_server.url)
    yield user
    # Close keep-alive sockets so the live server's threads end and close their database
    # connections (PostgreSQL refuses to drop a test database that is still in use).
    user.browser.close()
    user.api_session.close()


@pytest.fixture
def tenant_ids(seeded):
    from xero_sandbox.models import SandboxOrganisation
    return {o.short_code: str(o.tenant_id) for o in SandboxOrganisation.objects.all()}


@pytest.fixture
def connected(xero, tenant_ids):
    xero.connect()
    return xero
