"""Fakes shared by the test modules: Xero at the HTTP seam (`responses`: token, connections,
Organisation, revoke, delete) and a session. The `rsps` fixture is in tests/conftest.py. No tests in here."""
import base64
import json
import re
from urllib.parse import parse_qs

import responses
from django.conf import settings

from xero_connect.services import connections as services

ALL_SCOPES = " ".join(settings.XERO_SCOPES)


def jwt(claims: dict) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def access_token(auth_event_id="11111111-1111-4111-8111-111111111111", n=1) -> str:
    return jwt({"authentication_event_id": auth_event_id, "jti": f"jti-{n}"})


def token_body(*, auth_event_id="11111111-1111-4111-8111-111111111111", refresh="refresh-new", scope=ALL_SCOPES, n=1, email="xu@example.com"):
    return {"access_token": access_token(auth_event_id, n), "refresh_token": refresh, "expires_in": 1800,
            "token_type": "Bearer", "scope": scope,
            "id_token": jwt({"name": "Xena User", "email": email})}


def tenant(n, *, auth_event_id="11111111-1111-4111-8111-111111111111", name=None):
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "authEventId": auth_event_id, "tenantId": f"tenant-{n}", "tenantType": "ORGANISATION",
            "tenantName": name or f"Xero Org {n}", "createdDateUtc": "2026-01-01T00:00:00",
            "updatedDateUtc": "2026-01-01T00:00:00"}


def organisation_body(name="Xero Org 1", short_code="!abc12", currency="NZD"):
    return {"Status": "OK", "Organisations": [{"Name": name, "ShortCode": short_code, "BaseCurrency": currency}]}


def add_token(rsps, body=None, status=200):
    rsps.add(responses.POST, settings.XERO_TOKEN_URL, json=body or token_body(), status=status)


def add_connections(rsps, tenants, status=200):
    rsps.add(responses.GET, settings.XERO_CONNECTIONS_URL, json=tenants, status=status)


def add_organisation(rsps, body=None, status=200, headers=None):
    rsps.add(responses.GET, f"{settings.XERO_API_URL}/Organisation", json=body or organisation_body(), status=status,
             headers=headers or {"X-MinLimit-Remaining": "59", "X-DayLimit-Remaining": "4990"})


def add_delete(rsps, status=204):
    rsps.add(responses.DELETE, re.compile(re.escape(settings.XERO_CONNECTIONS_URL) + "/.+"), status=status)


def add_revoke(rsps, status=200):
    rsps.add(responses.POST, settings.XERO_REVOKE_URL, status=status)


def calls_to(rsps, method, url_part):
    return [c for c in rsps.calls if c.request.method == method and url_part in c.request.url]


def form(call) -> dict:
    body = call.request.body
    if isinstance(body, bytes):
        body = body.decode()
    return {k: v[0] for k, v in parse_qs(body or "").items()}


class FakeSession(dict):
    modified = False


def start(organisation, actor, session=None, reconnect=False):
    session = session if session is not None else FakeSession()
    url = services.oauth_start(organisation=organisation, actor=actor, session=session, reconnect=reconnect)
    state = parse_qs(url.split("?", 1)[1])["state"][0]
    return session, state


def callback(rsps, organisation, actor, *, tenants, reconnect=False, token=None):
    """Start + a successful callback; returns the PendingAuthorisation."""
    session, state = start(organisation, actor, reconnect=reconnect)
    add_token(rsps, token)
    add_connections(rsps, tenants)
    return services.oauth_callback(session=session, user=actor, params={"state": state, "code": "the-code"})
