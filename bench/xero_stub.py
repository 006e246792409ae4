#!/usr/bin/env python
"""An instant Xero stand-in for benchmarks: NOT the validating sandbox.

It answers each batch write (PUT/POST /api.xro/2.0/<Resource>?summarizeErrors=false) at once
with a Xero-shaped element per document (its id, StatusAttributeString "OK", and for invoices
and credit notes SubTotal / TotalTax / Total worked out from the lines at 15 % tax), answers a
repeated Idempotency-Key with the first answer (as Xero does), and applies Xero's per-tenant
limits for real (60 calls in any 60-second window, 5 at once: a 429 with Retry-After beyond
that) so a benchmark that breaks them is caught. It checks nothing else: use the sandbox
(`xero_sandbox/`) for correctness runs.

    python bench/xero_stub.py --port 8765 [--minute-seconds 60]

GET /_stats answers {"calls", "api_429", "replays", "documents": {tenant: {number: copies}}}.
Loopback only; stdlib only; one process. Run by the benchmarks, not by hand.
"""
import argparse
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ID_FIELDS = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID", "Payments": "PaymentID",
             "ManualJournals": "ManualJournalID"}
NUMBER_FIELDS = {"Invoices": "InvoiceNumber", "CreditNotes": "CreditNoteNumber", "Payments": "Reference",
                 "ManualJournals": "Narration"}
CENT = Decimal("0.01")


class Stub:
    def __init__(self, minute_seconds: float, minute_limit: int = 60, concurrent: int = 5):
        self.lock = threading.Lock()
        self.minute_seconds = minute_seconds
        self.minute_limit = minute_limit
        self.concurrent = concurrent
        self.recent = defaultdict(deque)   # tenant → start times of its calls in the last window
        self.in_flight = defaultdict(int)
        self.by_key = {}                   # Idempotency-Key → first answer body
        self.calls = 0
        self.api_429 = 0
        self.replays = 0
        self.documents = defaultdict(lambda: defaultdict(int))  # tenant → number → copies created

    def admit(self, tenant: str) -> float:
        """0 when the call may go; else the Retry-After seconds (Xero's minute / concurrent limits)."""
        now = time.monotonic()
        with self.lock:
            self.calls += 1
            window = self.recent[tenant]
            while window and window[0] <= now - self.minute_seconds:
                window.popleft()
            if len(window) >= self.minute_limit or self.in_flight[tenant] >= self.concurrent:
                self.api_429 += 1
                return max(1.0, (window[0] + self.minute_seconds - now) if window else 1.0)
            window.append(now)
            self.in_flight[tenant] += 1
            return 0.0

    def done(self, tenant: str) -> None:
        with self.lock:
            self.in_flight[tenant] -= 1

    def write(self, tenant: str, resource: str, key: str, elements: list[dict]) -> bytes:
        with self.lock:
            if key and key in self.by_key:
                self.replays += 1
                return self.by_key[key]
        out = []
        for el in elements:
            saved = dict(el)
            saved.setdefault(ID_FIELDS[resource], str(uuid.uuid4()))
            saved["StatusAttributeString"] = "OK"
            if resource in ("Invoices", "CreditNotes"):
                sub = sum((Decimal(str(li.get("Quantity", 1))) * Decimal(str(li.get("UnitAmount", 0)))).quantize(
                    CENT, ROUND_HALF_UP) for li in el.get("LineItems", []))
                tax = (sub * Decimal("0.15")).quantize(CENT, ROUND_HALF_UP)
                saved.update(SubTotal=str(sub), TotalTax=str(tax), Total=str(sub + tax))
            out.append(saved)
        body = json.dumps({"Status": "OK", resource: out}).encode()
        with self.lock:
            if key and key in self.by_key:  # the same key raced in: the first answer stands
                self.replays += 1
                return self.by_key[key]
            if key:
                self.by_key[key] = body
            for el in out:
                self.documents[tenant][str(el.get(NUMBER_FIELDS[resource]) or "")] += 1
        return body

    def stats(self) -> dict:
        with self.lock:
            return {"calls": self.calls, "api_429": self.api_429, "replays": self.replays,
                    "documents": {t: dict(d) for t, d in self.documents.items()}}


def handler_for(stub: Stub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.startswith("/_stats"):
                return self._send(200, json.dumps(stub.stats()).encode())
            resource = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            return self._send(200, json.dumps({resource: []}).encode())  # look-ups find nothing

        def _write(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            tenant = self.headers.get("xero-tenant-id", "")
            resource = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
            if resource not in ID_FIELDS:
                return self._send(404, b'{"Message": "Not found"}')
            retry_after = stub.admit(tenant)
            if retry_after:
                return self._send(429, b'{"Message": "Rate limit exceeded"}',
                                  [("Retry-After", str(int(retry_after + 0.999))),
                                   ("X-Rate-Limit-Problem", "minute")])
            try:
                elements = json.loads(raw).get(resource) or []
                body = stub.write(tenant, resource, self.headers.get("Idempotency-Key", ""), elements)
            finally:
                stub.done(tenant)
            self._send(200, body, [("X-MinLimit-Remaining", "1"), ("X-DayLimit-Remaining", "4000")])

        do_PUT = _write
        do_POST = _write

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--minute-seconds", type=float, default=60.0)
    parser.add_argument("--minute-limit", type=int, default=60)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Stub(args.minute_seconds, args.minute_limit)))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
