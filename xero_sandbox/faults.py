"""Injected faults: pick the one that applies to a call, and the answers they produce."""
import json
import random
import socket

from django.conf import settings
from django.db.models import F, Q
from django.http import HttpResponse

from .models import Fault

PRE_KINDS = {Fault.Kind.MAINTENANCE, Fault.Kind.HTML, Fault.Kind.RATE_LIMIT, Fault.Kind.ERROR}
SLOW_KINDS = {Fault.Kind.SLOW}
POST_KINDS = {Fault.Kind.TRUNCATED, Fault.Kind.DROP}

MAINTENANCE_TEXT = "The Xero API is currently offline for maintenance"


def _settings_faults():
    """Faults configured by the XERO_SANDBOX_FAULTS setting (a list of dicts with the same
    fields as the control endpoint); they never run out."""
    out = []
    for spec in getattr(settings, "XERO_SANDBOX_FAULTS", []) or []:
        spec = dict(spec)
        spec.pop("tenant_id", None)
        spec.pop("remaining", None)
        out.append(Fault(**spec))
    return out


def active(*, endpoint: str, organisation=None) -> list:
    """The faults that may apply to one call (read once per call)."""
    qs = Fault.objects.filter(endpoint__in=[endpoint, "any"]).filter(Q(remaining__isnull=True) | Q(remaining__gt=0))
    qs = qs.filter(Q(organisation__isnull=True) | Q(organisation=organisation)) if organisation else qs.filter(
        organisation__isnull=True)
    return list(qs) + [f for f in _settings_faults() if f.endpoint in (endpoint, "any")]


def pick(*, endpoint: str, kinds: set, organisation=None, method: str = "GET", path: str = "",
         candidates: list | None = None) -> Fault | None:
    """The first active fault of one of `kinds` that matches this call, consumed once."""
    if candidates is None:
        candidates = active(endpoint=endpoint, organisation=organisation)
    for fault in candidates:
        if fault.kind not in kinds:
            continue
        if fault.methods and method.upper() not in {m.strip().upper() for m in fault.methods.split(",")}:
            continue
        if fault.path_contains and fault.path_contains.lower() not in path.lower():
            continue
        if fault.probability < 1.0 and random.random() >= fault.probability:
            continue
        if fault.pk is None:
            return fault
        updated = Fault.objects.filter(pk=fault.pk)
        if fault.remaining is not None:
            updated = updated.filter(remaining__gt=0).update(remaining=F("remaining") - 1, hits=F("hits") + 1)
        else:
            updated = updated.update(hits=F("hits") + 1)
        if updated:
            return fault
    return None


def pre_response(fault: Fault) -> HttpResponse:
    if fault.kind == Fault.Kind.MAINTENANCE:
        return HttpResponse(MAINTENANCE_TEXT, status=fault.status or 503, content_type="text/plain; charset=utf-8")
    if fault.kind == Fault.Kind.HTML:
        html = ("<!DOCTYPE html><html><head><title>Xero | Error</title></head><body><h1>Oops! Something went "
                "wrong</h1><p>We're sorry, but something went wrong. (sandbox fault)</p></body></html>")
        return HttpResponse(html, status=fault.status or 200, content_type="text/html; charset=utf-8")
    if fault.kind == Fault.Kind.RATE_LIMIT:
        response = HttpResponse("", status=429, content_type="text/plain")
        response["Retry-After"] = str(fault.retry_after or 1)
        response["X-Rate-Limit-Problem"] = fault.problem or "minute"
        return response
    status = fault.status or 500
    body = {"Title": "Sandbox fault", "Status": status, "Detail": "An injected error (sandbox fault)."}
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def truncate(response: HttpResponse) -> HttpResponse:
    """Half of the body, with a matching Content-Length: the client reads invalid JSON."""
    body = response.content
    response.content = body[: max(1, len(body) // 2)]
    return response


def drop(request, response: HttpResponse) -> HttpResponse:
    """The work is committed; now make the client see a broken connection.

    Under Django's runserver / live_server the request socket is shut down before any
    byte of the answer is written: `requests` raises ConnectionError ("Remote end closed
    connection without response"). Where the socket cannot be reached (another WSGI
    server) the answer promises more bytes than it sends and asks to close the
    connection: `requests` raises ChunkedEncodingError (IncompleteRead)."""
    sock = _request_socket(request)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
            return _Dropped()
        except OSError:
            pass
    response["Content-Length"] = str(len(response.content) + 1024)
    response["Connection"] = "close"
    return response


class _Dropped(HttpResponse):
    """An answer whose body raises ConnectionResetError: the WSGI server (wsgiref) treats
    that as the client having gone and writes nothing."""

    def __init__(self):
        super().__init__(b"")

    def __iter__(self):
        self.close()  # still send request_finished (closes this thread's DB connection)
        raise ConnectionResetError("sandbox fault: connection dropped after commit")


def _request_socket(request):
    stream = request.META.get("wsgi.input")
    seen = 0
    while stream is not None and seen < 8:
        seen += 1
        if isinstance(stream, socket.socket):
            return stream
        nxt = None
        for attr in ("_sock", "raw", "stream", "_stream", "rfile"):
            nxt = getattr(stream, attr, None)
            if nxt is not None:
                break
        if nxt is None:
            reader = getattr(stream, "_read", None)
            nxt = getattr(reader, "__self__", None)
        stream = nxt
    return None
