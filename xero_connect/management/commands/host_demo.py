"""Play the host system (the vendor's inventory system) against a running Xero Connect.

    manage.py host_demo [--base-url http://127.0.0.1:8000] [--external-id cust-1001] [--documents 500]

It does what a host's own code would do, only through the API and webhooks:
1. creates (or finds) its customer's organisation by `external_id`;
2. asks for a connect link and prints it (open it, sign in as an Admin of that organisation,
   connect Xero; `--wait-connected N` waits N seconds for that). An organisation the API has
   just created has no users yet: `--admin alice` makes that user its Admin, so the link leads
   somewhere (without it, it answers 404 to everyone);
3. registers a webhook endpoint on a listener it runs on 127.0.0.1;
4. pushes the documents in one batch (with an Idempotency-Key) and exports them;
5. receives the webhooks, verifies each signature with the `standardwebhooks` library, and
   prints each document's fate (exported with its Xero id, failed with Xero's reason, or
   waiting for the connection).

The API key: `--api-key`, or (default) a platform key this command makes in the database,
named "Host demo" — the way staff would make one in the Django admin.
"""
import json
import threading
import time
import uuid
from datetime import date
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ...models import APIKey, Membership, Organisation, Role
from ...services.api_keys import api_key_prepare

FINAL = {"document.exported": "exported", "document.failed": "failed", "document.waiting": "waiting"}


class Receiver:
    """The host's webhook receiver: verifies every request, keeps the events, answers 204. A GET
    (the connect link's return_url, opened by the Admin's browser after Finish) gets a page."""

    def __init__(self):
        self.secret = None
        self.events, self.bad_signatures = [], 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = Webhook(receiver.secret).verify(body, {k.lower(): v for k, v in self.headers.items()})
                except (WebhookVerificationError, TypeError, ValueError):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self.send_response(400)
                else:
                    with receiver.lock:
                        receiver.events.append(event)
                    self.send_response(204)
                self.end_headers()

            def do_GET(self):
                # The connect link's return_url: the Admin's browser lands here after Finish.
                query = parse_qs(urlsplit(self.path).query)
                slug = escape(query.get("organisation", ["?"])[0])
                status = escape(query.get("status", ["?"])[0])
                body = (f"<!doctype html><title>Host demo</title><h1>Back in the host system</h1>"
                        f"<p>Xero Connect says organisation <b>{slug}</b> is <b>{status}</b>. You can close "
                        f"this tab: <code>manage.py host_demo</code> carries on in the terminal.</p>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/xero-connect-webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def demo_documents(n: int, prefix: str) -> list[dict]:
    """n documents the sandbox's Kōwhai Coffee organisation accepts (sales invoices and bills),
    and — as the last one — a bill on an account code that is not in Xero, to show a failure."""
    today = date.today().isoformat()
    docs = []
    for i in range(1, n + 1):
        if i == n and n > 1:
            docs.append({"type": "bill", "number": f"{prefix}-B{i:04}", "date": today, "contact": "Vector Energy",
                         "lines": [{"description": "Mystery", "quantity": "1", "unit_amount": "10.00",
                                    "account_code": "999"}]})
        elif i % 10 == 0:
            docs.append({"type": "bill", "number": f"{prefix}-B{i:04}", "date": today, "contact": "Vector Energy",
                         "lines": [{"description": "Power", "quantity": "1", "unit_amount": f"{100 + i}.00",
                                    "account_code": "429", "tax_type": "INPUT2"}]})
        else:
            docs.append({"type": "sales_invoice", "number": f"{prefix}-{i:04}", "date": today,
                         "contact": "Cuba Street Café", "reference": f"Order {i}",
                         "lines": [{"description": "Flat white beans 1kg", "quantity": "2",
                                    "unit_amount": "32.50", "account_code": "200", "tax_type": "OUTPUT2"}]})
    return docs


class Command(BaseCommand):
    help = "Play the host system: organisation by external_id, connect link, 500 documents, signed webhooks."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=settings.SITE_URL)
        parser.add_argument("--api-key", default="")
        parser.add_argument("--external-id", default="host-demo-1")
        parser.add_argument("--name", default="Host demo customer")
        parser.add_argument("--documents", type=int, default=500)
        parser.add_argument("--prefix", default="", help="Document numbers' prefix (default: a fresh one).")
        parser.add_argument("--wait-connected", type=float, default=0.0,
                            help="Seconds to wait for an Admin to connect Xero through the link.")
        parser.add_argument("--timeout", type=float, default=300.0, help="Seconds to wait for the webhooks.")
        parser.add_argument("--admin", default="",
                            help="Username made Admin of the organisation, so they can open the connect link "
                                 "(demo: alice). A new organisation has no users otherwise.")

    def handle(self, *args, **o):
        if not 1 <= o["documents"] <= 500:
            raise CommandError("--documents must be between 1 and 500 (one batch).")
        base = o["base_url"].rstrip("/") + "/api/v1"
        key = o["api_key"] or self._platform_key()
        http = requests.Session()
        http.headers["Authorization"] = f"Api-Key {key}"
        receiver = Receiver()
        try:
            self._run(http, base, receiver, o)
        finally:
            receiver.close()

    def _platform_key(self) -> str:
        api_key = APIKey(name="Host demo")
        key = api_key_prepare(api_key)
        self.stdout.write(f"Made a platform key “Host demo” ({api_key.prefix}…): revoke it in the admin when done.")
        return key

    def _make_admin(self, username: str, slug: str) -> None:
        """Make `username` an Admin of the organisation `slug` (a Member stays one: never demoted
        nor promoted). CommandError if there is no such user."""
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--admin: there is no user “{username}” here.")
        membership, created = Membership.objects.get_or_create(
            organisation=Organisation.objects.get(slug=slug), user=user, defaults={"role": Role.ADMIN})
        self.stdout.write(f"   {username} is {'now' if created else 'already'} {membership.get_role_display()} of {slug}: "
                          "sign in as them to open the connect link.")

    def _call(self, http, method, url, **kwargs):
        response = http.request(method, url, timeout=60, **kwargs)
        if response.status_code >= 400:
            raise CommandError(f"{method} {url} → {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else {}

    def _run(self, http, base, receiver, o):
        out = self.stdout.write
        found = self._call(http, "GET", f"{base}/organisations/", params={"external_id": o["external_id"]})["results"]
        if found:
            organisation = found[0]
            out(f"1. Organisation {o['external_id']} is already here: {organisation['slug']}")
        else:
            organisation = self._call(http, "POST", f"{base}/organisations/",
                                      json={"name": o["name"], "external_id": o["external_id"]})
            out(f"1. Created organisation {o['external_id']} → {organisation['slug']}")
        org = f"{base}/organisations/{organisation['slug']}"
        if o["admin"]:
            self._make_admin(o["admin"], organisation["slug"])

        link = self._call(http, "POST", f"{org}/connect-link/", json={"return_url": receiver.url + "/connected"})
        connection = self._call(http, "GET", f"{org}/connection/")
        out(f"2. Xero: {connection['status_words']} — {connection['next_step']}")
        out(f"   Connect link (valid until {link['expires_at']}): {link['url']}")
        deadline = time.monotonic() + o["wait_connected"]
        while connection["status"] != "connected" and time.monotonic() < deadline:
            time.sleep(2)
            connection = self._call(http, "GET", f"{org}/connection/")
        if connection["status"] == "connected":
            out(f"   Connected to {connection['xero_organisation_name']}.")

        endpoint = self._call(http, "POST", f"{org}/webhooks/", json={
            "url": receiver.url, "description": "host demo",
            "events": ["document.exported", "document.failed", "document.waiting"]})
        receiver.secret = endpoint["secret"]
        out(f"3. Webhooks go to {receiver.url} (signed; secret {endpoint['secret'][:10]}…)")

        try:
            prefix = o["prefix"] or f"HD{uuid.uuid4().hex[:4].upper()}"
            docs = demo_documents(o["documents"], prefix)
            batch = self._call(http, "POST", f"{org}/documents/", json={"documents": docs},
                               headers={"Idempotency-Key": f"host-demo-{prefix}"})
            out(f"4. Pushed {len(docs)} documents: " + ", ".join(f"{k} {v}" for k, v in batch["counts"].items()))
            for r in batch["results"]:
                if r["result"] == "refused":
                    out(f"   refused {r['number']}: " + "; ".join(e["message"] for e in r["errors"]))
            ids = [r["id"] for r in batch["results"] if r["id"]]
            job = self._call(http, "POST", f"{org}/exports/", json={"action": "selected", "document_ids": ids})
            out(f"   Export job {job['id']}: {job['total']} to send")

            fates = self._collect(receiver, {d["number"] for d in docs}, o["timeout"])
            job = self._call(http, "GET", f"{org}/jobs/{job['id']}/")
            out(f"5. Job: {job['status_words']} — {job['summary'] or job['percent']}")
            for number in sorted(fates):
                event = fates[number]
                doc = event["data"]["document"] if event else None
                if doc is None:
                    out(f"   {number}: no news yet")
                elif doc["state"] == "exported":
                    out(f"   {number}: exported — Xero id {doc['xero_id']}")
                else:
                    out(f"   {number}: {FINAL[event['type']]} — {doc['last_error']}")
            tally = {}
            for event in fates.values():
                kind = FINAL[event["type"]] if event else "no news"
                tally[kind] = tally.get(kind, 0) + 1
            out(f"   Webhooks: {len(receiver.events)} received, all signatures verified"
                + (f", {receiver.bad_signatures} refused (bad signature)" if receiver.bad_signatures else "")
                + ". Fates: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
        finally:
            self._call(http, "DELETE", f"{org}/webhooks/{endpoint['id']}/")

    @staticmethod
    def _collect(receiver, numbers: set[str], timeout: float) -> dict:
        """Each document's latest event; waits until every document has a final one (or timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            with receiver.lock:
                fates = {n: None for n in numbers}
                for event in receiver.events:
                    number = event.get("data", {}).get("document", {}).get("number")
                    if number in fates:
                        fates[number] = event
            if all(fates.values()) or time.monotonic() > deadline:
                return fates
            time.sleep(0.5)
