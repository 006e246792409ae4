"""POST /xero/webhooks/: Xero's webhook deliveries (#16). Signed, not signed in: CSRF-exempt,
the body capped at XERO_WEBHOOK_MAX_BYTES. 200 with an empty body when the signature is
valid (events stored, work queued; a signed body not in Xero's shape is logged, not stored),
401 with nothing stored when it is not — Xero's intent-to-receive handshake sends both kinds and
expects exactly these answers (developer.xero.com/documentation/webhooks/configuring-your-server:
within 5 s, no body, no cookies; Xero retries for up to 24 hours, then disables the webhook)."""
from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..services.drift import webhook_receive


@csrf_exempt
@require_POST
def xero_webhooks(request):
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.XERO_WEBHOOK_MAX_BYTES:
        return HttpResponse(status=413)
    body = request.read(settings.XERO_WEBHOOK_MAX_BYTES + 1)
    if len(body) > settings.XERO_WEBHOOK_MAX_BYTES:
        return HttpResponse(status=413)
    received = webhook_receive(body=body, signature=request.headers.get("x-xero-signature", ""))
    return HttpResponse(status=200 if received.valid else 401)
