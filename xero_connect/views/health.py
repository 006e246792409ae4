"""Operator endpoints: /healthz (liveness), /readyz (readiness) and /metrics (Prometheus).

They are answered by `xero_connect.observability.middleware.OpsEndpointsMiddleware` before any
other middleware, so a probe needs no session, no allowed Host name and no HTTPS redirect, and
costs no more than its own checks. None of them shows a secret, a URL or a host name.
"""
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from ..observability import exposition, readiness

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def healthz(request):
    """200 whenever the process answers; touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """200 when every readiness check passes, else 503; the JSON body names each check,
    e.g. {"status": "unavailable", "failed": ["workers"], "checks": {"workers": {"ok": false, "detail": …}}}."""
    checks = readiness.readiness()
    failed = [c.name for c in checks if not c.ok]
    body = {"status": "unavailable" if failed else "ok", "failed": failed,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
    return JsonResponse(body, status=503 if failed else 200)


def _from_loopback(request) -> bool:
    """A direct request from this machine. A request relayed by a proxy on this machine also
    arrives from loopback, so any forwarding header makes it a remote one."""
    if any(request.META.get(h) for h in FORWARDING_HEADERS):
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _bearer_ok(request) -> bool:
    expected = settings.METRICS_TOKEN
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                                  expected.encode())


def metrics(request):
    """Prometheus text format, for a bearer token equal to METRICS_TOKEN or a direct loopback
    request; anyone else gets 401 with no detail."""
    if not (_bearer_ok(request) or (settings.METRICS_ALLOW_LOOPBACK and _from_loopback(request))):
        response = JsonResponse({"error": "unauthorised"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition.render()
    return HttpResponse(body, content_type=content_type)
