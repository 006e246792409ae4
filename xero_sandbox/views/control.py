"""The control endpoint: JSON POSTs that drive services.py from another process
(benchmarks, a demo script, a browser test). Mounted only when the sandbox is enabled; every
call must send XERO_SANDBOX_CONTROL_TOKEN in X-Sandbox-Control-Token (scripts/setup writes one
into .env). With no token configured the endpoint answers 403: it can archive, disconnect and
reset a demo's Xero, so it is never open."""
import json
import secrets

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .. import services


def _fault(**kw):
    fault = services.set_fault(**kw)
    return {"id": fault.pk, "kind": fault.kind}


ACTIONS = {
    "reset": lambda **kw: services.sandbox_reset(**kw),
    "seed": lambda **kw: services.seed_sandbox(),
    "fault": _fault,
    "reset-limits": lambda **kw: services.limits_reset() or {"ok": True},
    "clear-faults": lambda **kw: {"cleared": services.clear_faults()},
    "configure": lambda **kw: services.configure(**kw),
    "expire-tokens": lambda **kw: {"expired": services.expire_access_tokens(**kw)},
    "counts": lambda **kw: services.counts(**kw),
    "tenants": lambda **kw: services.tenants(),
    "documents": lambda **kw: services.documents(**kw),
    "find-document": lambda **kw: {"document": services.document_find(**kw)},
    "archive-account": lambda **kw: services.archive_account(**kw) or {"ok": True},
    "restore-account": lambda **kw: services.restore_account(**kw) or {"ok": True},
    "add-contact": lambda **kw: services.add_contact(**kw),
    "add-tax-rate": lambda **kw: services.add_tax_rate(**kw),
    "disconnect-app": lambda **kw: {"removed": services.disconnect_app(**kw)},
    "set-lock-date": lambda **kw: services.set_period_lock_date(**kw) or {"ok": True},
    "enable-currency": lambda **kw: services.currency_enable(**kw) or {"ok": True},
    "disable-currency": lambda **kw: services.currency_disable(**kw) or {"ok": True},
    "void-document": lambda **kw: services.document_set_status(action="void", **kw),
    "delete-document": lambda **kw: services.document_set_status(action="delete", **kw),
    "edit-document-amount": lambda **kw: services.document_set_amount(**kw),
    "configure-webhook": lambda **kw: services.webhook_configure(**kw),
    "flush-webhooks": lambda **kw: {"statuses": services.webhooks_flush()},
}


@csrf_exempt
@require_http_methods(["GET", "POST"])
def control(request, action):
    token = getattr(settings, "XERO_SANDBOX_CONTROL_TOKEN", "")
    if not token:
        return JsonResponse({"error": "forbidden: set XERO_SANDBOX_CONTROL_TOKEN (scripts/setup writes one into .env) "
                                      "and send it in X-Sandbox-Control-Token"}, status=403)
    if not secrets.compare_digest(request.headers.get("X-Sandbox-Control-Token", "").encode(), token.encode()):
        return JsonResponse({"error": "forbidden"}, status=403)
    handler = ACTIONS.get(action)
    if handler is None:
        return JsonResponse({"error": f"unknown action {action!r}", "actions": sorted(ACTIONS)}, status=404)
    if request.method == "GET" and action not in {"counts", "tenants", "documents", "find-document"}:
        return JsonResponse({"error": "use POST"}, status=405)
    try:
        kwargs = json.loads(request.body or b"{}") if request.method == "POST" else request.GET.dict()
        if not isinstance(kwargs, dict):
            raise ValueError("the body must be a JSON object")
        result = handler(**kwargs)
    except (ValueError, TypeError, ObjectDoesNotExist) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"ok": True, "result": result}, safe=False)
