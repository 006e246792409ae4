"""The sandbox's webhooks, as Xero sends them (../shared/XERO_FACTS.md "Webhooks",
xero-webhooks.yaml): when a contact, invoice or credit note changes — through the API or the
sandbox's pages — each app connected to that organisation with a webhook URL gets a signed
delivery `{events: [...], firstEventSequence, lastEventSequence, entropy}` with
x-xero-signature = base64(HMAC-SHA256(body, webhook key)).

Before the first event goes to a URL, the intent-to-receive check runs as Xero's does: one
correctly signed delivery with no events must be answered 200, one wrongly signed must be
answered 401; until both hold nothing is delivered there.

Delivery never blocks the changing request: it happens after commit, in a thread. With
XERO_SANDBOX_WEBHOOK_DELIVERY = "manual" (tests) events wait in this process until `flush()`
delivers them, so a test says exactly when Xero's webhook arrives. Each delivery is tried at
most DELIVERY_ATTEMPTS times."""
import base64
import hashlib
import hmac
import json
import logging
import secrets
import string
import threading

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import Counter, SandboxApp, SandboxOrganisation

log = logging.getLogger("xero_sandbox.webhooks")
DELIVERY_ATTEMPTS = 3
TIMEOUT_SECONDS = 5.0
CATEGORIES = {"CONTACT": "Contacts", "INVOICE": "Invoices", "CREDITNOTE": "CreditNotes"}


def signature(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def target_of(app: SandboxApp) -> tuple[str, str]:
    """(url, key) the app's events go to; ("", "") when it has no webhook."""
    if app.webhook_url:
        return app.webhook_url, app.webhook_key
    if app.client_id == settings.XERO_CLIENT_ID and settings.XERO_WEBHOOK_KEY:
        url = settings.XERO_SANDBOX_WEBHOOK_URL or f"{settings.SITE_URL.rstrip('/')}/xero/webhooks/"
        return url, settings.XERO_WEBHOOK_KEY
    return "", ""


def configure(*, client_id: str, url: str, key: str) -> dict:
    """Set an app's webhook URL and key (empty URL: back to the settings' default) and run the
    intent-to-receive check now. Returns {"url", "verified"}."""
    app = SandboxApp.objects.get(client_id=client_id)
    app.webhook_url, app.webhook_key, app.webhook_verified_url = (url or "")[:500], (key or "")[:200], ""
    app.save(update_fields=["webhook_url", "webhook_key", "webhook_verified_url"])
    target, secret = target_of(app)
    return {"url": target, "verified": bool(target) and intent_to_receive(app)}


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def _post(url: str, body: bytes, sig: str) -> int | None:
    try:
        return requests.post(url, data=body, timeout=TIMEOUT_SECONDS, allow_redirects=False,
                             headers={"Content-Type": "application/json", "x-xero-signature": sig}).status_code
    except requests.RequestException as exc:
        log.warning("sandbox.webhook.unreachable url=%s error=%s", url, type(exc).__name__)
        return None


def intent_to_receive(app: SandboxApp) -> bool:
    """Xero's check of a webhook URL: a good signature → 200, a bad one → 401. Remembered per URL."""
    url, key = target_of(app)
    if not url or not key:
        return False
    if app.webhook_verified_url == url:
        return True
    body = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                       "entropy": _entropy()}).encode()
    good = _post(url, body, signature(body, key))
    bad = _post(url, body, signature(body, key + "-not-the-key"))
    ok = good == 200 and bad == 401
    log.info("sandbox.webhook.intent_to_receive url=%s good=%s bad=%s ok=%s", url, good, bad, ok)
    if ok:
        SandboxApp.objects.filter(pk=app.pk).update(webhook_verified_url=url)
        app.webhook_verified_url = url
    return ok


def _next_sequence() -> int:
    with transaction.atomic():
        if not Counter.objects.filter(name="webhook_sequence").update(value=F("value") + 1):
            Counter.objects.get_or_create(name="webhook_sequence", defaults={"value": 1})
        return Counter.objects.get(name="webhook_sequence").value


def notify(org: SandboxOrganisation, category: str, resource_id, *, event_type: str = "UPDATE",
           data: dict | None = None) -> int:
    """Queue one event about `resource_id` to every app connected to `org` with a webhook;
    sent after the current transaction commits. Returns the number of apps it goes to."""
    apps = list(SandboxApp.objects.filter(connections__organisation=org, connections__removed_at__isnull=True)
                .distinct())
    event = {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/{CATEGORIES[category]}/{resource_id}",
        "resourceId": str(resource_id), "tenantId": str(org.tenant_id), "tenantType": "ORGANISATION",
        "eventCategory": category, "eventType": event_type,
        "eventDateUtc": timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
    }
    if data:
        event["data"] = data
    sent = 0
    for app in apps:
        url, key = target_of(app)
        if not url:
            continue
        sent += 1
        transaction.on_commit(lambda app_id=app.pk: _dispatch(app_id, event))
    return sent


_pending: list[tuple[int, dict]] = []
_pending_lock = threading.Lock()


def _dispatch(app_id: int, event: dict) -> None:
    if settings.XERO_SANDBOX_WEBHOOK_DELIVERY == "manual":
        with _pending_lock:
            _pending.append((app_id, event))
    else:
        threading.Thread(target=_deliver_in_thread, args=(app_id, [event]), daemon=True,
                         name="sandbox-webhook").start()


def _deliver_in_thread(app_id: int, events: list[dict]) -> None:
    from django.db import connection as db_connection

    try:
        deliver(app_id, events)
    finally:
        db_connection.close()


def flush() -> list[int | None]:
    """Deliver every event waiting in this process ("manual" delivery), one delivery per app
    in the order they happened. Returns the HTTP statuses."""
    with _pending_lock:
        waiting = list(_pending)
        _pending.clear()
    by_app: dict[int, list[dict]] = {}
    for app_id, event in waiting:
        by_app.setdefault(app_id, []).append(event)
    return [deliver(app_id, events) for app_id, events in by_app.items()]


def discard() -> int:
    """Forget events waiting for a flush (a test's reset). Returns how many."""
    with _pending_lock:
        n = len(_pending)
        _pending.clear()
    return n


def deliver(app_id: int, events: list[dict]) -> int | None:
    """Send `events` to the app's webhook (after the intent-to-receive check). Returns the
    last HTTP status, or None when nothing could be sent."""
    app = SandboxApp.objects.filter(pk=app_id).first()
    if app is None or not intent_to_receive(app):
        return None
    url, key = target_of(app)
    first = _next_sequence()
    last = first + len(events) - 1
    if len(events) > 1:
        Counter.objects.filter(name="webhook_sequence").update(value=F("value") + len(events) - 1)
    body = json.dumps({"events": events, "firstEventSequence": first, "lastEventSequence": last,
                       "entropy": _entropy()}).encode()
    status = None
    for _ in range(DELIVERY_ATTEMPTS):
        status = _post(url, body, signature(body, key))
        if status == 200:
            break
    log.info("sandbox.webhook.delivered url=%s events=%s status=%s", url, len(events), status)
    return status
