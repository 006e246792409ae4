"""Webhooks out: tell the host system what happened, signed per the Standard Webhooks spec.

- `webhooks_emit` records one delivery per interested endpoint in the caller's transaction and
  starts a worker task after commit: an event is never lost once its change is committed
  (at least once: the sweeper picks up anything a dead worker left).
- `webhook_endpoint_drain` (django-q2) sends an endpoint's due deliveries, oldest first. A
  delivery is retried on the RETRY_SCHEDULE (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — the
  schedule the Standard Webhooks spec suggests, about 27.6 hours in all) and then given up.
- An endpoint that has failed for WEBHOOK_DISABLE_AFTER_HOURS (default 24) is disabled and its
  Admins (platform-wide: staff) are emailed.
- Outside DEBUG (WEBHOOK_ALLOW_PRIVATE off) nothing is sent to private, loopback, link-local or otherwise non-global
  addresses, checked on the resolved addresses at delivery time, and only https is used.

Headers: `webhook-id` (the same on every attempt, for the host to deduplicate),
`webhook-timestamp` (Unix seconds), `webhook-signature` (`v1,<base64 HMAC-SHA256>` made by the
`standardwebhooks` library). Body: `{"type": event, "timestamp": ISO 8601, "data": {...}}`.
"""
import base64
import ipaddress
import json
import logging
import os
import socket
import time
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from .. import crypto, roles
from .. import messages as words
from ..models import ExportRecord, Organisation, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..roles import Action
from ..selectors.connections import presentation

log = logging.getLogger("xero.webhooks")

RETRY_SCHEDULE = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]  # seconds before attempts 2…8
CLAIM_LEASE = timedelta(seconds=120)
DRAIN_LIMIT = 500


class AddressRefused(Exception):
    pass


# Inside `listeners_read_once` (an export drain): whether any endpoint is active, once read.
_listening: ContextVar[dict | None] = ContextVar("webhooks_out_listening", default=None)


@contextmanager
def listeners_read_once():
    """Within this block, whether any webhook endpoint is active is read once, at the first
    document event, not once per event (an export drain wraps its run in it: one query per
    drain instead of one per batch). When one is, every event still reads the endpoints that
    want it (`webhooks_emit`), so one disabled or deleted meanwhile gets nothing. When none is,
    an endpoint added while the block runs gets the events from the next block on (the next
    drain, at most XERO_EXPORT_DRAIN_SECONDS later), not those of this one. Nests: an inner
    block keeps the outer one's answer."""
    if _listening.get() is not None:
        yield
        return
    token = _listening.set({})
    try:
        yield
    finally:
        _listening.reset(token)


def _anyone_listening() -> bool:
    """Whether any webhook endpoint is active (one query; none again inside `listeners_read_once`)."""
    seen = _listening.get()
    if seen is not None and "active" in seen:
        return seen["active"]
    active = WebhookEndpoint.objects.filter(is_active=True).exists()
    if seen is not None:
        seen["active"] = active
    return active


# --- endpoints ------------------------------------------------------------------------------


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def endpoint_url_check(url: str) -> str:
    """http(s) with WEBHOOK_ALLOW_PRIVATE (DEBUG), https otherwise; ValueError with the reason when not."""
    parts = urlsplit(url or "")
    allowed = ("http", "https") if settings.WEBHOOK_ALLOW_PRIVATE else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise ValueError("The address must start with https:// ." if not settings.WEBHOOK_ALLOW_PRIVATE
                         else "The address must start with http:// or https:// .")
    return url


def _require_admin(organisation, actor, as_staff: bool) -> None:
    """Organisation endpoints are an Admin's (or an API key's of the organisation,
    roles.API_KEY_ACTIONS) to change; platform-wide ones (no organisation) platform staff's, in
    the Django admin (`as_staff=True` there: the staff status is checked here, it is no bypass).
    AdminRequired / PermissionDenied otherwise."""
    if organisation is not None:
        roles.require_actor(actor=actor, organisation=organisation, action=Action.MANAGE_API_KEYS, as_staff=as_staff)
    elif not (actor is None or (as_staff and roles.staff_may(user=actor, action=Action.MANAGE_API_KEYS))):
        raise PermissionDenied(words.PLATFORM_ENDPOINTS_STAFF_ONLY)


def endpoint_create(*, organisation: Organisation | None, actor, url: str, events=(), description: str = "",
                    as_staff: bool = False) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; returns it with its signing secret (shown once). Organisation endpoints
    need an Admin (AdminRequired); platform-wide ones are made in the admin. ValueError for a
    bad address or an unknown event."""
    _require_admin(organisation, actor, as_staff)
    endpoint_url_check(url)
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if unknown:
        raise ValueError(f"Unknown event(s): {', '.join(unknown)}.")
    secret = _new_secret()
    endpoint = WebhookEndpoint.objects.create(organisation=organisation, url=url, events=sorted(set(events)),
                                              description=description, secret_encrypted=secret,  # sealed by the field
                                              created_by=actor)
    log.info("xero.webhooks.endpoint.created endpoint=%s organisation=%s by=%s", endpoint.pk,
             getattr(organisation, "pk", None), getattr(actor, "pk", None))
    return endpoint, secret


def endpoint_delete(*, endpoint: WebhookEndpoint, actor, as_staff: bool = False) -> None:
    _require_admin(endpoint.organisation, actor, as_staff)
    log.info("xero.webhooks.endpoint.deleted endpoint=%s by=%s", endpoint.pk, getattr(actor, "pk", None))
    endpoint.delete()


def endpoint_enable(*, endpoint: WebhookEndpoint, actor, as_staff: bool = False) -> None:
    _require_admin(endpoint.organisation, actor, as_staff)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=True, disabled_reason="", failing_since=None)
    _start_drain(endpoint.pk)


def webhook_resend(*, delivery: WebhookDelivery, actor, as_staff: bool = False) -> None:
    """Send this delivery again now (same webhook-id), with a fresh retry schedule."""
    endpoint = delivery.endpoint
    _require_admin(endpoint.organisation, actor, as_staff)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.PENDING, attempts=0,
                                                          next_attempt_at=timezone.now())
    log.info("xero.webhooks.resend delivery=%s by=%s", delivery.pk, getattr(actor, "pk", None))
    _start_drain(endpoint.pk)


# --- emitting -------------------------------------------------------------------------------


def _start_drain(endpoint_id: int) -> None:
    def start():
        from django_q.tasks import async_task

        async_task("xero_connect.tasks.webhooks.webhook_endpoint_drain", endpoint_id)

    transaction.on_commit(start)


def _organisation_ref(organisation) -> dict:
    return {"slug": organisation.slug, "external_id": organisation.external_id, "name": organisation.name}


def webhooks_emit(*, organisation: Organisation, event_type: str, items: list[dict]) -> int:
    """One delivery per item per active endpoint that wants `event_type` (the organisation's own
    and the platform-wide ones). Returns how many were recorded; one query when nobody listens."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(
        Q(organisation=organisation) | Q(organisation__isnull=True), is_active=True) if e.wants(event_type)]
    if not endpoints or not items:
        return 0
    now = timezone.now()
    ref = _organisation_ref(organisation)
    deliveries = [
        WebhookDelivery(endpoint=e, organisation=organisation, message_id=f"msg_{uuid.uuid4().hex}",
                        event_type=event_type, next_attempt_at=now, created_at=now,
                        payload={"type": event_type, "timestamp": now.isoformat(),
                                 "data": {"organisation": ref, **item}})
        for item in items for e in endpoints]
    WebhookDelivery.objects.bulk_create(deliveries, batch_size=500)
    for e in endpoints:
        _start_drain(e.pk)
    return len(deliveries)


def documents_event(*, event_type: str, record_ids) -> int:
    """`document.exported` / `document.failed` / `document.waiting` for these ledger records,
    with the ids the host knows (its organisation's external_id, the document's type and number)."""
    record_ids = list(record_ids)
    if not record_ids or not _anyone_listening():
        return 0
    rows = (ExportRecord.objects.filter(pk__in=record_ids)
            .values_list("organisation_id", "document_id", "document__doc_type", "document__number", "state",
                         "xero_id", "last_error"))
    by_org: dict[int, list[dict]] = {}
    for org_id, doc_id, doc_type, number, state, xero_id, last_error in rows:
        by_org.setdefault(org_id, []).append({"document": {
            "id": doc_id, "type": doc_type, "number": number, "state": state, "xero_id": xero_id,
            "last_error": last_error}})
    made = 0
    for organisation in Organisation.objects.filter(pk__in=by_org):
        made += webhooks_emit(organisation=organisation, event_type=event_type, items=by_org[organisation.pk])
    return made


def _json_amounts(seen: dict) -> dict:
    """Decimals as strings with (at least) the ledger's two places, never floats, never rounded:
    Xero's 92.0 is "92.00"; a value with more places keeps them all."""
    cent = Decimal("0.01")
    return {k: ((f"{v:.2f}" if v == v.quantize(cent) else str(v)) if isinstance(v, Decimal) else v)
            for k, v in seen.items()}


def document_changed_in_xero_event(*, record: ExportRecord, before: dict, after: dict) -> int:
    """`document.changed_in_xero` for one exported document whose state in Xero changed (called
    by services.drift inside the transaction that saves the drift). `before` / `after`: the
    drift as the host hears it — state (not_checked / as_sent / paid / changed / voided /
    deleted), its words, Xero's Status, Total, amount paid and due (Decimals, sent as strings).
    Carries the ids the host knows: the organisation's external_id, the document's type and
    number. Returns the deliveries recorded (0 when nobody listens)."""
    if not _anyone_listening():
        return 0
    document = record.document
    item = {"document": {"id": document.pk, "type": document.doc_type, "number": document.number,
                         "xero_id": record.xero_id},
            "in_xero": {"before": _json_amounts(before), "after": _json_amounts(after),
                        "updated_in_xero_at": record.xero_updated_at.isoformat() if record.xero_updated_at else None,
                        "seen_at": record.xero_seen_at.isoformat() if record.xero_seen_at else None}}
    organisation = Organisation.objects.get(pk=record.organisation_id)
    return webhooks_emit(organisation=organisation, event_type=WebhookEvent.DOCUMENT_CHANGED_IN_XERO, items=[item])


# --- delivering -----------------------------------------------------------------------------


def address_check(url: str) -> None:
    """Unless WEBHOOK_ALLOW_PRIVATE (DEBUG): AddressRefused unless every address the host resolves to is global
    (not private, loopback, link-local, multicast or reserved)."""
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise AddressRefused("Only https addresses are delivered to.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise AddressRefused(f"{parts.hostname} could not be resolved ({exc}).")
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise AddressRefused(f"{parts.hostname} resolves to {ip}, a private, loopback or link-local address: "
                                 f"not delivered to.")


def _notify_disabled(endpoint: WebhookEndpoint) -> None:
    User = get_user_model()
    if endpoint.organisation_id:
        people = roles.admins_of(endpoint.organisation)
        where = f"for {endpoint.organisation.name}"
    else:
        people = User.objects.filter(is_staff=True, is_active=True)
        where = "(platform-wide)"
    emails = [u.email for u in people if u.email]
    if emails:
        send_mail(f"Webhook endpoint disabled {where}",
                  f"The webhook endpoint {endpoint.url} {where} has failed every delivery for "
                  f"{settings.WEBHOOK_DISABLE_AFTER_HOURS} hours, so it is now disabled: {endpoint.disabled_reason}\n\n"
                  f"Fix the endpoint, then enable it again on the Webhooks page; pending deliveries are then sent "
                  f"and any that gave up can be sent again with Resend.",
                  settings.DEFAULT_FROM_EMAIL, emails)


def _deliver(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> bool:
    now = timezone.now()
    number = delivery.attempt_log.count() + 1
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
    code, error = None, ""
    started = time.monotonic()
    try:
        address_check(endpoint.url)
        signature = Webhook(endpoint.get_secret()).sign(delivery.message_id, now, body)
        response = requests.post(endpoint.url, data=body.encode(), timeout=settings.WEBHOOK_TIMEOUT,
                                 allow_redirects=False, headers={
                                     "content-type": "application/json", "user-agent": "XeroConnect-Webhooks/1",
                                     "webhook-id": delivery.message_id,
                                     "webhook-timestamp": str(int(now.timestamp())),
                                     "webhook-signature": signature})
        code = response.status_code
        if not 200 <= code < 300:
            error = f"The endpoint answered {code}."
    except AddressRefused as exc:
        error = str(exc)
    except crypto.TokenDecryptionError:
        # Never sent unsigned; retried on the schedule, so a key put back in time delivers it.
        error = words.WEBHOOK_SECRET_UNREADABLE
    except requests.RequestException as exc:
        error = f"Could not reach the endpoint: {type(exc).__name__}."
    ok = not error
    WebhookAttempt.objects.create(delivery=delivery, number=number, at=now, status_code=code, error=error,
                                  duration_ms=int((time.monotonic() - started) * 1000))
    delivery.attempts += 1
    delivery.last_status_code, delivery.last_error = code, error
    if ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = WebhookDelivery.Status.DELIVERED, now, None
        if endpoint.failing_since:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            endpoint.failing_since = None
    else:
        if delivery.attempts > len(RETRY_SCHEDULE):
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=RETRY_SCHEDULE[delivery.attempts - 1])
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        elif now - endpoint.failing_since >= timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS):
            endpoint.is_active = False
            endpoint.disabled_reason = (f"Every delivery failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC; "
                                        f"the last: {error}")
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False,
                                                                  disabled_reason=endpoint.disabled_reason)
            log.warning("xero.webhooks.endpoint.disabled endpoint=%s", endpoint.pk)
            _notify_disabled(endpoint)
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at",
                                 "next_attempt_at"])
    log.info("xero.webhooks.delivery delivery=%s endpoint=%s attempt=%s status=%s error=%s", delivery.pk,
             endpoint.pk, number, code, error)
    return ok


def _claim(delivery_id: int, seen_next) -> bool:
    """Take a due delivery for this process (a conditional UPDATE: one winner)."""
    return WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING,
                                          next_attempt_at=seen_next).update(
        next_attempt_at=timezone.now() + CLAIM_LEASE) == 1


def webhook_endpoint_drain(*, endpoint_id: int, limit: int = DRAIN_LIMIT) -> int:
    """Send the endpoint's due deliveries, oldest first, at most `limit`. Returns how many
    were delivered."""
    delivered = 0
    for _ in range(limit):
        endpoint = WebhookEndpoint.objects.select_related("organisation").filter(pk=endpoint_id).first()
        if endpoint is None or not endpoint.is_active:
            break
        due = (WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING,
                                              next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at", "id").values_list("pk", "next_attempt_at").first())
        if due is None:
            break
        if not _claim(*due):
            continue
        delivery = WebhookDelivery.objects.get(pk=due[0])
        delivered += _deliver(delivery, endpoint)
    return delivered


def webhooks_sweep() -> int:
    """Every minute: drain each active endpoint with due deliveries (retries, and anything a
    dead worker left behind)."""
    endpoint_ids = set(WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now(), endpoint__is_active=True)
        .values_list("endpoint_id", flat=True).distinct()[:1000])
    return sum(webhook_endpoint_drain(endpoint_id=pk) for pk in endpoint_ids)


def connection_status_changed(connection, *, current: str, target: str, reason: str) -> None:
    """`connection.status_changed` for the host system, in the transition's transaction
    (registered with connection_states.TRANSITION_LISTENERS by apps.py)."""
    webhooks_emit(organisation=connection.organisation, event_type=WebhookEvent.CONNECTION_STATUS_CHANGED,
                  items=[{"connection": {"from": current, "to": target,
                                         "status_words": presentation(connection).words,
                                         "reason": reason,
                                         "xero_organisation_name": connection.tenant_name}}])
