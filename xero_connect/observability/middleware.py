"""Middleware of the operating side.

- `OpsEndpointsMiddleware` (first in MIDDLEWARE): answers /healthz, /readyz and /metrics (GET or
  HEAD) before anything else runs — no session, no Host check (a probe calls by IP), no HTTPS
  redirect (a probe or scraper speaks plain HTTP inside the network).
- `RequestContextMiddleware`: gives every request an id (the caller's X-Request-ID when it is a
  sane token, else a new one), returns it in X-Request-ID, and makes the request available to
  the log filter (`logs.ContextFilter`) for the request, organisation and user ids.
"""
import re
import uuid

from django.http import HttpResponseNotAllowed

from . import logs

_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class OpsEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        from ..views import health

        self.routes = {"/healthz": health.healthz, "/readyz": health.readyz, "/metrics": health.metrics}

    def __call__(self, request):
        view = self.routes.get(request.path_info.rstrip("/") or "/")
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        token = logs.bind_request(request)
        try:
            response = self.get_response(request)
        finally:
            logs.unbind_request(token)
        response["X-Request-ID"] = request.request_id
        return response
