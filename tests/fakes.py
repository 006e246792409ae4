"""Fakes shared by the test modules: Xero at the HTTP seam (`responses`: token, connections,
Organisation, revoke, delete), a session, and FakeXero (the Accounting API's batch endpoints
for the export tests). The `rsps` fixture is in tests/conftest.py. No tests in here."""
import base64
import json
import re
import uuid
from urllib.parse import parse_qs

import responses
from django.conf import settings

from xero_connect.models import ExportRecord
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


# --- the Accounting API for the export tests ---------------------------------------------

API = settings.XERO_API_URL.rstrip("/")


class FakeXero:
    """Enough of Xero's batch endpoints: keeps what it created, honours Idempotency-Key,
    refuses unknown account "999" per element."""

    def __init__(self, rsps):
        self.rsps = rsps
        self.calls = []          # (method, resource, key, n elements)
        self.store = {}          # resource → list of elements
        self.by_key = {}         # key → (body, response)
        self.script = []         # queue of overrides: callables(request) → (status, headers, body) or None
        self.finds = []          # the query of every look-up
        self.write_urls = []     # the URL of every write
        self.blind_lookups = 0   # look-ups still to answer "nothing" (a write Xero has not finished yet)
        for resource in ("Invoices", "CreditNotes", "Payments", "ManualJournals"):
            pattern = re.compile(rf"{re.escape(API)}/{resource}(\?.*)?$")
            for method in ("PUT", "POST"):
                rsps.add_callback(method, pattern, callback=self._write(resource))
            rsps.add_callback("GET", pattern, callback=self._find(resource))

    def commit_then_drop(self, resource="Invoices"):
        """The next write is committed by Xero and its answer lost on the way back."""
        import requests

        def scripted(request):
            self._write(resource)(request)
            raise requests.ConnectionError("connection reset by peer")

        self.script.append(scripted)

    def created(self, resource="Invoices"):
        return self.store.get(resource, [])

    def _write(self, resource):
        id_field = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID", "Payments": "PaymentID",
                    "ManualJournals": "ManualJournalID"}[resource]

        def callback(request):
            key = request.headers.get("Idempotency-Key")
            body = json.loads(request.body)
            self.calls.append((request.method, resource, key, len(body[resource])))
            self.write_urls.append(request.url)
            assert "summarizeErrors=false" in request.url
            if self.script:
                scripted = self.script.pop(0)(request)
                if scripted is not None:
                    return scripted
            if key in self.by_key:
                first_body, first_response = self.by_key[key]
                if first_body != body:
                    return 400, {}, json.dumps({"Message": f"Idempotency Key: {key} is used with a different request."})
                return first_response
            out = []
            for el in body[resource]:
                codes = [line.get("AccountCode") for line in el.get("LineItems", el.get("JournalLines", []))]
                if "999" in codes:
                    out.append({**el, "StatusAttributeString": "ERROR", "HasErrors": True,
                                "ValidationErrors": [{"Message": "Account code '999' is not a valid code for this document."}]})
                    continue
                if el.get(id_field):
                    existing = next(x for x in self.store[resource] if x[id_field] == el[id_field])
                    existing.update(el)
                    out.append({**existing, "StatusAttributeString": "OK"})
                    continue
                saved = {**el, id_field: str(uuid.uuid4())}
                self.store.setdefault(resource, []).append(saved)
                out.append({**saved, "StatusAttributeString": "OK"})
            response = (200, {"X-MinLimit-Remaining": "50", "X-DayLimit-Remaining": "4000"},
                        json.dumps({"Status": "OK", resource: out}))
            self.by_key[key] = (body, response)
            return response

        return callback

    def _find(self, resource):
        def callback(request):
            self.calls.append(("GET", resource, None, 0))
            from urllib.parse import parse_qs, urlparse

            query = parse_qs(urlparse(request.url).query)
            self.finds.append(query)
            where = query.get("where", [""])[0]
            if '\\"' in where:  # Xero: a string holding a double quote, escaped or not
                return 400, {}, json.dumps({"ErrorNumber": 16, "Type": "QueryParseException",
                                            "Message": "Unterminated string literal"})
            stored = self.store.get(resource, [])
            if self.blind_lookups:
                self.blind_lookups -= 1
                stored = []
            if "InvoiceNumbers" in query:
                wanted = set(query["InvoiceNumbers"][0].split(","))
                found = [el for el in stored if el.get("InvoiceNumber") in wanted]
            elif "Guid(" in where:
                wanted = set(re.findall(r'Invoice.InvoiceID==Guid\("([^"]*)"\)', where))
                found = [el for el in stored if el.get("Invoice", {}).get("InvoiceID") in wanted]
            elif "DateTime(" in where:
                wanted = {"%04d-%02d-%02d" % tuple(map(int, d)) for d in re.findall(r"DateTime\((\d+),(\d+),(\d+)\)", where)}
                found = [el for el in stored if el.get("Date") in wanted]
            else:
                wanted = set(re.findall(r'=="([^"]*)"', where))
                fields = {"Invoices": "InvoiceNumber", "CreditNotes": "CreditNoteNumber", "Payments": "Reference",
                          "ManualJournals": "Narration"}
                found = [el for el in stored if el.get(fields[resource]) in wanted]
            return 200, {}, json.dumps({resource: found})

        return callback


def records(org):
    """The organisation's export records, oldest first."""
    return ExportRecord.objects.filter(organisation=org).order_by("pk")
