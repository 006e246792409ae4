"""Xero talks back (#16): webhooks in, and what changed in Xero after an export ("drift").

- `webhook_receive(body, signature)`: the receiver's whole job — check Xero's signature, store
  the events (deduplicated), enqueue the work after commit. No Xero call inline.
- `webhook_events_process()`: the worker — CONTACT events refresh just those contacts (IDs= on
  /Contacts), INVOICE / CREDITNOTE events look up exactly the documents we exported.
- `reconcile_organisation(organisation)`: for organisations without webhooks or after missed
  events — documents changed in Xero since the last run (If-Modified-Since, paged).
- `document_drift_apply(record, element)`: the one rule turning Xero's current document into
  the ledger's drift state.
- `drift_accept(record, actor)` / `drift_reexport_as_new(record, suffix, actor)`: the two
  explicit Admin actions; nothing here acts on a drifted document by itself.

Xero facts (../shared/XERO_FACTS.md "Webhooks", xero-webhooks.yaml, xero_accounting.yaml):
x-xero-signature is base64(HMAC-SHA256(raw body, webhook key)); a valid delivery is answered
200 with an empty body within 5 s, an invalid one 401 (the intent-to-receive handshake sends
both); events carry tenantId, resourceId, eventDateUtc, eventType, eventCategory; /Invoices
takes IDs=, /CreditNotes does not (read one by one at /CreditNotes/{CreditNoteID}).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import messages as words
from .. import roles
from ..models import (
    DocumentType,
    ExportRecord,
    ExportState,
    Organisation,
    ReconciliationRun,
    SourceDocument,
    XeroConnection,
    XeroDrift,
    XeroWebhookEvent,
)
from ..roles import Action
from ..xero import errors
from ..xero.accounting import AccountingApi, parse_xero_date
from .exports import exports_enqueue
from .lists import contacts_store  # one way of storing Xero's Contact in our list
from .webhooks_out import document_changed_in_xero_event
from .xero_access import NoCallSlot, api_for, connection_usable, record_xero_failure

log = logging.getLogger("xero.drift")

INVOICE_TYPES = (DocumentType.SALES_INVOICE, DocumentType.BILL)
CREDIT_NOTE_TYPES = (DocumentType.SALES_CREDIT_NOTE, DocumentType.PURCHASE_CREDIT_NOTE)
WATCHED_TYPES = INVOICE_TYPES + CREDIT_NOTE_TYPES
CATEGORIES = {"CONTACT", "INVOICE", "CREDITNOTE"}
# Ids in one IDs= query: kept well inside a URL's length (40 GUIDs ≈ 1,500 characters).
IDS_PER_CALL = 40
# Pages a reconciliation reads per resource at most (1,000 documents a page).
RECONCILE_MAX_PAGES = 50
RECONCILE_PAGE_SIZE = 1000
# How long a call waits for a slot in the shared rate budget before the work is left for later.
BUDGET_MAX_WAIT = 10.0
WORKER_BATCH = 500
CLAIM_SECONDS = 600


# --- the receiver ------------------------------------------------------------------------------

def signature_valid(*, body: bytes, signature: str, key: str) -> bool:
    """Is `signature` (the x-xero-signature header) base64(HMAC-SHA256(body, key))? Compared in
    constant time; an empty key or signature is never valid."""
    if not key or not signature:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def sign(body: bytes, key: str) -> str:
    """The x-xero-signature Xero sends for `body` (used by the sandbox and tests)."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _event_date(value) -> datetime | None:
    """eventDateUtc, e.g. '2025-12-02T00:44:09.923' (UTC, often without a zone) → aware UTC."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt_timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt_timezone.utc)


def _clean_events(payload) -> list[dict] | None:
    """The events of a delivery as rows to store, or None when the body is not Xero's shape."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return None
    if len(payload["events"]) > settings.XERO_WEBHOOK_MAX_EVENTS:
        return None
    rows = []
    for event in payload["events"]:
        if not isinstance(event, dict):
            return None
        values = {name: event.get(name) for name in ("tenantId", "resourceId", "eventType", "eventCategory")}
        if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in values.values()):
            return None
        moment = _event_date(event.get("eventDateUtc"))
        if moment is None:
            return None
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        rows.append({"tenant_id": values["tenantId"].lower(), "resource_id": values["resourceId"].lower(),
                     "event_type": values["eventType"].upper()[:20], "event_category": values["eventCategory"].upper()[:20],
                     "event_date": moment, "resource_url": str(event.get("resourceUrl") or "")[:500],
                     "data": {k: str(v)[:40] for k, v in list(data.items())[:10]}})
    return rows


@dataclass
class Received:
    """What the receiver did: `valid` (200) or not (401); events stored new, duplicates, and
    events for tenants no organisation of ours is connected to (not stored)."""

    valid: bool
    malformed: bool = False
    stored: int = 0
    duplicates: int = 0
    not_ours: int = 0


def webhook_receive(*, body: bytes, signature: str) -> Received:
    """Check and store one delivery. Invalid signature → `valid=False` (401), nothing stored; a
    correctly signed body that is not Xero's shape → `valid=True, malformed=True` (200, as
    Xero's "Configuring your server" asks for every correctly signed payload), nothing stored. Storing is one INSERT … ON CONFLICT DO NOTHING over the
    unique event key; the worker is enqueued after commit."""
    if not signature_valid(body=body, signature=signature, key=settings.XERO_WEBHOOK_KEY):
        return Received(valid=False)
    try:
        rows = _clean_events(json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, ValueError):
        rows = None
    if rows is None:
        # Correctly signed but not Xero's shape: Xero's rule is 200 for every correctly signed
        # payload (a 401 would make it retry for 24 hours, then disable the webhook). Nothing is
        # stored; the log says so.
        log.warning("xero.webhook.malformed bytes=%s", len(body))
        return Received(valid=True, malformed=True)
    ours = set(XeroConnection.objects.filter(is_current=True, tenant_id__in={r["tenant_id"] for r in rows})
               .values_list("tenant_id", flat=True))
    ours = {t.lower() for t in ours}
    kept = [r for r in rows if r["tenant_id"] in ours and r["event_category"] in CATEGORIES]
    result = Received(valid=True, not_ours=len(rows) - len(kept))
    if kept:
        with transaction.atomic():
            created = XeroWebhookEvent.objects.bulk_create([XeroWebhookEvent(**r) for r in kept],
                                                           ignore_conflicts=True)
            result.stored = len(created)
            if settings.XERO_WEBHOOK_WORKER_ON_RECEIPT:
                transaction.on_commit(_enqueue_worker)
    log.info("xero.webhook.received events=%s kept=%s not_ours=%s", len(rows), len(kept), result.not_ours)
    return result


def _enqueue_worker():
    from django_q.tasks import async_task

    async_task("xero_connect.tasks.drift.webhook_events_process")


# --- calls inside the shared rate budget ----------------------------------------------------------

class NoSlot(Exception):
    """No call slot in the shared rate budget soon enough; the work stays for the next cycle."""


def _budgeted(api: AccountingApi, fn):
    """Make the call `fn(api)`. The client from xero_access.api_for spends the tenant's shared
    rate budget around it (and books a 429), waiting at most BUDGET_MAX_WAIT seconds for a slot;
    no slot by then → NoSlot (the work stays for the next cycle)."""
    try:
        return fn(api)
    except NoCallSlot as slot:
        raise NoSlot(str(slot.retry_at)) from slot


# --- the drift rule ---------------------------------------------------------------------------------

def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _acceptance_current(record: ExportRecord) -> bool:
    """Was Xero's version accepted after the last export? (An export since replaces it.)"""
    return bool(record.accepted_at and (record.exported_at is None or record.exported_at <= record.accepted_at))


def baseline_total(record: ExportRecord) -> Decimal | None:
    """The Total a document's current Total is compared with: the accepted one (if accepted
    since the last export), else Xero's Total when it was exported; None when Xero's Total was
    never learned (a record exported before totals were kept). Never our own `document.total`:
    that is the lines' sum without tax, and comparing it with Xero's Total flags every taxed
    document as changed."""
    if _acceptance_current(record) and record.accepted_total is not None:
        return record.accepted_total
    return record.xero_total


DRIFT_FIELDS = ["xero_drift", "xero_total", "xero_status", "xero_amount_paid", "xero_amount_due", "drift_total_before",
                "drift_total_after", "xero_updated_at", "xero_seen_at", "updated_at"]
# What is read again, locked, before a drift is applied: the drift as stored, and what the
# baseline Total depends on (the export and an acceptance).
_LOCKED_FIELDS = [f for f in DRIFT_FIELDS if f != "updated_at"] + [
    f for f in ("state", "exported_at", "xero_total", "accepted_at", "accepted_status", "accepted_total")
    if f not in DRIFT_FIELDS]


def _seen(record: ExportRecord) -> dict:
    """The record's drift as the host hears it (webhook `document.changed_in_xero`): state,
    Xero's Status, Xero's Total as last seen (the baseline unless changed), paid and due."""
    total = record.drift_total_after if record.drift_total_after is not None else baseline_total(record)
    return {"state": record.xero_drift or "not_checked", "state_words": words.drift_name(record.xero_drift),
            "xero_status": record.xero_status, "total": total,
            "amount_paid": record.xero_amount_paid, "amount_due": record.xero_amount_due}


def _host_should_hear(before: dict, after: dict) -> bool:
    """A first look that finds the document as sent is no news; otherwise any change of the
    state, Xero's Status, Total or amount paid is (a repeated or older answer changes none)."""
    if before["state"] == "not_checked":
        return after["state"] != XeroDrift.AS_SENT
    if any(before[k] != after[k] for k in ("state", "xero_status", "amount_paid")):
        return True
    # A Total first learned now (a record from before Xero's totals were kept) is no change.
    return before["total"] is not None and before["total"] != after["total"]


def document_drift_apply(record: ExportRecord, element: dict, *, now: datetime | None = None) -> bool:
    """Set the record's drift from Xero's current Invoice / CreditNote `element`.

    Deleted > Voided > Changed (Total differs from the baseline; before/after stored) > Paid
    (AmountPaid > 0, or a credit note's Status PAID) > As sent. An element older (UpdatedDateUTC)
    than the one already applied only updates the last-seen time. Returns True when the drift
    state changed. Saves the record.

    The record's row is locked and read again first (a webhook worker and a reconciliation run
    may look at the same document at once), and when what the host hears changed (`_seen`:
    state, Xero's Status, Total, amount paid) one `document.changed_in_xero` event is recorded
    for the host in the same transaction (services.webhooks_out): a duplicate or out-of-order
    Xero event, which changes nothing, emits nothing."""
    now = now or timezone.now()
    updated = parse_xero_date(element.get("UpdatedDateUTC"))
    with transaction.atomic():
        current = ExportRecord.objects.select_for_update().filter(pk=record.pk).values(*_LOCKED_FIELDS).first()
        for name, value in (current or {}).items():
            setattr(record, name, value)
        record.xero_seen_at = now
        if updated and record.xero_updated_at and updated < record.xero_updated_at:
            record.save(update_fields=["xero_seen_at", "updated_at"])
            return False
        before_seen = _seen(record)
        status = str(element.get("Status") or "").upper()[:20]
        total = _decimal(element.get("Total"))
        before = baseline_total(record)
        if before is None and total is not None:
            # First sight of Xero's Total for this record: it becomes the baseline, not a change.
            record.xero_total = before = total
        paid = _decimal(element.get("AmountPaid"))
        due = _decimal(element.get("AmountDue"))
        if due is None and record.doc_type in CREDIT_NOTE_TYPES:
            due = _decimal(element.get("RemainingCredit"))
        accepted = record.accepted_status if _acceptance_current(record) else ""
        if status == "DELETED" and accepted != "DELETED":
            drift = XeroDrift.DELETED
        elif status == "VOIDED" and accepted != "VOIDED":
            drift = XeroDrift.VOIDED
        elif total is not None and total != before:
            drift = XeroDrift.CHANGED
        elif (paid or 0) > 0 or status == "PAID":
            drift = XeroDrift.PAID
        else:
            drift = XeroDrift.AS_SENT
        old = record.xero_drift
        record.xero_drift = drift
        record.xero_status = status
        record.xero_amount_paid, record.xero_amount_due = paid, due
        if total is not None and total != before:
            record.drift_total_before, record.drift_total_after = before, total
        else:
            record.drift_total_before = record.drift_total_after = None
        record.xero_updated_at = updated or record.xero_updated_at
        record.save(update_fields=DRIFT_FIELDS)
        after_seen = _seen(record)
        if _host_should_hear(before_seen, after_seen):
            document_changed_in_xero_event(record=record, before=before_seen, after=after_seen)
    if old != drift:
        log.info("xero.drift.changed record=%s from=%s to=%s", record.pk, old or "-", drift)
    return old != drift


# --- the worker ------------------------------------------------------------------------------------

def _exported(organisation_id: int, tenant_id: str, doc_types, xero_ids) -> list[ExportRecord]:
    """Our exported records of `xero_ids` in that tenant (ids compared lower-case)."""
    ids = {i.lower() for i in xero_ids} | set(xero_ids)
    return list(ExportRecord.objects.select_related("document")
                .filter(organisation_id=organisation_id, tenant_id__iexact=tenant_id, state=ExportState.EXPORTED,
                        doc_type__in=doc_types, xero_id__in=ids))


def look_up_documents(*, api: AccountingApi, records: list[ExportRecord]) -> int:
    """Read exactly these exported documents from Xero and apply their drift: invoices and bills
    IDS_PER_CALL a call with `IDs=`, credit notes one call each (/CreditNotes/{id}; the file
    gives /CreditNotes no IDs filter). A document Xero does not return keeps its state. Returns
    the number of records whose drift changed. Raises errors.XeroError / NoSlot."""
    changed = 0
    now = timezone.now()
    invoices = {r.xero_id.lower(): r for r in records if r.doc_type in INVOICE_TYPES}
    keys = sorted(invoices)
    for start in range(0, len(keys), IDS_PER_CALL):
        chunk = keys[start:start + IDS_PER_CALL]
        found = _budgeted(api, lambda a: a.find("Invoices", params={"IDs": ",".join(chunk), "unitdp": 4},
                                                 page_size=IDS_PER_CALL))
        for element in found:
            record = invoices.get(str(element.get("InvoiceID", "")).lower())
            if record is not None:
                changed += document_drift_apply(record, element, now=now)
    for record in (r for r in records if r.doc_type in CREDIT_NOTE_TYPES):
        try:
            resp = _budgeted(api, lambda a, rid=record.xero_id: a.call("GET", f"CreditNotes/{rid}",
                                                                        event="xero.creditnotes.get"))
        except errors.NotFound:
            continue
        data = resp.data if isinstance(resp.data, dict) else {}
        for element in data.get("CreditNotes") or []:
            if str(element.get("CreditNoteID", "")).lower() == record.xero_id.lower():
                changed += document_drift_apply(record, element, now=now)
    return changed


def contacts_refresh_by_id(*, organisation: Organisation, connection: XeroConnection, api: AccountingApi,
                           contact_ids: list[str]) -> int:
    """Refresh just these contacts (IDs= on /Contacts, includeArchived so an archived one is
    seen) in the organisation's lists for the connection's tenant. Returns rows written."""

    written = 0
    keys = sorted(set(contact_ids))
    for start in range(0, len(keys), IDS_PER_CALL):
        chunk = keys[start:start + IDS_PER_CALL]
        found = _budgeted(api, lambda a: a.find("Contacts", params={"IDs": ",".join(chunk), "includeArchived": "true"},
                                                 page_size=IDS_PER_CALL))
        written += contacts_store(organisation=organisation, tenant_id=connection.tenant_id, rows=found)
    return written


@dataclass
class Processed:
    events: int = 0
    applied: int = 0
    not_ours: int = 0
    failed: int = 0
    drift_changed: int = 0
    contacts: int = 0
    calls: int = 0
    left: int = 0
    notes: list = field(default_factory=list)


def _claim_events(limit: int) -> list[XeroWebhookEvent]:
    """Up to `limit` pending events, oldest first, claimed for CLAIM_SECONDS in one short
    transaction (SKIP LOCKED where the database has it): two workers never take the same."""
    now = timezone.now()
    with transaction.atomic():
        pending = (XeroWebhookEvent.objects.select_for_update(skip_locked=True)
                   .filter(processed_at__isnull=True)
                   .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                   .order_by("received_at", "id"))
        events = list(pending[:limit])
        XeroWebhookEvent.objects.filter(pk__in=[e.pk for e in events]).update(
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    return events


def webhook_events_process(*, limit: int = WORKER_BATCH) -> Processed:
    """Work off stored events, oldest first, up to `limit`: per connected organisation of the
    event's tenant, refresh the named contacts and look up the named documents we exported.
    Events whose work failed (Xero unavailable, no budget) stay pending for the next cycle;
    events naming nothing of ours are marked `not_ours`. No transaction is held while Xero is
    called."""
    result = Processed()
    events = _claim_events(limit)
    by_tenant: dict[str, list[XeroWebhookEvent]] = {}
    for event in events:
        by_tenant.setdefault(event.tenant_id, []).append(event)
    for tenant_id, tenant_events in by_tenant.items():
        outcome = _process_tenant(tenant_id, tenant_events, result)
        ids = [e.pk for e in tenant_events]
        if outcome is None:
            XeroWebhookEvent.objects.filter(pk__in=ids).update(claimed_until=None)  # next cycle
            continue
        now = timezone.now()
        for value in set(outcome.values()) | {XeroWebhookEvent.Outcome.NOT_OURS}:
            chosen = [pk for pk in ids if outcome.get(pk, XeroWebhookEvent.Outcome.NOT_OURS) == value]
            XeroWebhookEvent.objects.filter(pk__in=chosen).update(processed_at=now, outcome=value, claimed_until=None)
    result.events = len(events)
    result.left = XeroWebhookEvent.objects.filter(processed_at__isnull=True).count()
    return result


def _process_tenant(tenant_id: str, events: list[XeroWebhookEvent], result: Processed) -> dict | None:
    """{event pk: outcome} for one tenant's events, or None to leave them all pending."""
    connections = [c for c in XeroConnection.objects.select_related("organisation")
                   .filter(is_current=True, tenant_id__iexact=tenant_id) if connection_usable(c)]
    outcome: dict[int, str] = {}
    contact_ids = {e.resource_id for e in events if e.event_category == "CONTACT"}
    doc_ids = {e.resource_id for e in events if e.event_category in ("INVOICE", "CREDITNOTE")}
    for connection in connections:
        api = api_for(connection, max_wait=BUDGET_MAX_WAIT)
        try:
            if contact_ids:
                result.contacts += contacts_refresh_by_id(organisation=connection.organisation, connection=connection,
                                                          api=api, contact_ids=sorted(contact_ids))
                for e in events:
                    if e.event_category == "CONTACT":
                        outcome[e.pk] = XeroWebhookEvent.Outcome.APPLIED
            records = _exported(connection.organisation_id, connection.tenant_id, WATCHED_TYPES, doc_ids)
            if records:
                result.drift_changed += look_up_documents(api=api, records=records)
                ours = {r.xero_id.lower() for r in records}
                for e in events:
                    if e.resource_id in ours:
                        outcome[e.pk] = XeroWebhookEvent.Outcome.APPLIED
        except (errors.XeroError, NoSlot) as exc:
            result.failed += len(events)
            result.notes.append(f"{connection.organisation.slug}: {exc}")
            if isinstance(exc, errors.XeroError):
                record_xero_failure(connection=connection, error=exc)
            log.warning("xero.webhook.work_failed tenant=%s error=%s", tenant_id, type(exc).__name__)
            return None
        finally:
            result.calls += api.calls
    result.applied += sum(1 for v in outcome.values() if v == XeroWebhookEvent.Outcome.APPLIED)
    result.not_ours += len(events) - len(outcome)
    return outcome


# --- reconciliation ------------------------------------------------------------------------------

def reconcile_organisation(*, organisation: Organisation, trigger: str = "schedule") -> ReconciliationRun:
    """Read the invoices/bills and credit notes changed in Xero since the last successful run
    for this tenant (If-Modified-Since; the first run reads from the earliest export), page by
    page (pageCount decides, at most RECONCILE_MAX_PAGES), and apply the drift of those we
    exported. When nothing changed this costs two calls (one page each). The run is stored
    with its calls, what it saw and changed; a failure is stored with `ok=False` and the next
    run starts from the same moment."""
    connection = XeroConnection.objects.filter(organisation=organisation, is_current=True).first()
    run = ReconciliationRun(organisation=organisation, tenant_id=connection.tenant_id if connection else "",
                            trigger=trigger[:20], started_at=timezone.now())
    if not connection_usable(connection):
        run.detail = words.DRIFT_RECONCILE_NOT_CONNECTED
        run.finished_at = timezone.now()
        run.save()
        return run
    last = (ReconciliationRun.objects.filter(organisation=organisation, tenant_id=connection.tenant_id, ok=True)
            .order_by("-started_at").first())
    if last is not None:
        since = last.started_at
    else:
        first = (ExportRecord.objects.filter(organisation=organisation, tenant_id=connection.tenant_id,
                                             state=ExportState.EXPORTED, doc_type__in=WATCHED_TYPES)
                 .order_by("exported_at").values_list("exported_at", flat=True).first())
        since = first or run.started_at
    run.modified_since = since - timedelta(seconds=1)  # Xero compares to the second
    api = api_for(connection, max_wait=BUDGET_MAX_WAIT)
    try:
        for resource, types, id_field in (("Invoices", INVOICE_TYPES, "InvoiceID"),
                                          ("CreditNotes", CREDIT_NOTE_TYPES, "CreditNoteID")):
            pages = api.pages(resource, params={"unitdp": 4}, if_modified_since=run.modified_since,
                              page_size=RECONCILE_PAGE_SIZE, max_pages=RECONCILE_MAX_PAGES)
            while True:
                page = _budgeted(api, lambda a: next(pages, None))
                if page is None:
                    break
                run.seen += len(page)
                by_id = {str(e.get(id_field, "")).lower(): e for e in page if e.get(id_field)}
                for record in _exported(organisation.pk, connection.tenant_id, types, list(by_id)):
                    run.changed += document_drift_apply(record, by_id[record.xero_id.lower()])
        run.ok = True
    except (errors.XeroError, NoSlot) as exc:
        run.detail = str(exc)[:500]
        if isinstance(exc, errors.XeroError):
            record_xero_failure(connection=connection, error=exc)
    run.calls = api.calls
    run.finished_at = timezone.now()
    run.save()
    log.info("xero.reconcile organisation=%s ok=%s calls=%s seen=%s changed=%s", organisation.slug, run.ok,
             run.calls, run.seen, run.changed)
    return run


def reconcile_all(*, trigger: str = "schedule") -> list[ReconciliationRun]:
    """Reconcile every organisation with a current connection (bounded by their number)."""
    ids = XeroConnection.objects.filter(is_current=True).values_list("organisation_id", flat=True)
    return [reconcile_organisation(organisation=o, trigger=trigger)
            for o in Organisation.objects.filter(pk__in=list(ids)).order_by("pk")]


# --- the two explicit actions --------------------------------------------------------------------

class DriftActionRefused(Exception):
    """The action does not apply to this record; the message says why, in words for the page."""


def drift_accept(*, record: ExportRecord, actor) -> ExportRecord:
    """Accept Xero's version: Xero's Status and Total become what the record is compared with,
    the change is written into `drift_note`, and the record stops being flagged. AdminRequired
    (a PermissionDenied) unless the actor may RESOLVE_DRIFT (roles.require_actor)."""
    roles.require_actor(actor=actor, organisation=record.organisation, action=Action.RESOLVE_DRIFT)
    with transaction.atomic():
        record = ExportRecord.objects.select_for_update().select_related("document").get(pk=record.pk)
        if record.xero_drift not in (XeroDrift.CHANGED, XeroDrift.VOIDED, XeroDrift.DELETED):
            raise DriftActionRefused(words.DRIFT_NOTHING_TO_ACCEPT)
        now = timezone.now()
        record.drift_note = words.drift_accepted_note(
            drift=record.xero_drift, before=record.drift_total_before, after=record.drift_total_after,
            actor=actor, at=now)[:500]
        record.accepted_at = now
        record.accepted_by = actor if getattr(actor, "pk", None) else None
        record.accepted_status = record.xero_status
        record.accepted_total = (record.drift_total_after if record.drift_total_after is not None
                                 else baseline_total(record))
        record.xero_drift = XeroDrift.AS_SENT
        record.drift_total_before = record.drift_total_after = None
        record.save(update_fields=["drift_note", "accepted_at", "accepted_by", "accepted_status", "accepted_total", "xero_drift",
                                   "drift_total_before", "drift_total_after", "updated_at"])
    return record


def drift_reexport_as_new(*, record: ExportRecord, suffix: str, actor) -> ExportRecord:
    """Re-export a voided or deleted document as a new one: a copy of the source document
    numbered `<number><suffix>` (the suffix the Admin confirmed), with its own ledger record
    linked from the old one (`replaced_by`), queued for export. The old record keeps its Xero
    id and its drift. Raises DriftActionRefused (not voided/deleted, already replaced, empty
    suffix, number taken or longer than Xero's 255 characters); AdminRequired (a
    PermissionDenied) before anything else unless the actor may both RESOLVE_DRIFT and REEXPORT
    (roles.require_actor)."""
    for action in (Action.RESOLVE_DRIFT, Action.REEXPORT):
        roles.require_actor(actor=actor, organisation=record.organisation, action=action)
    suffix = (suffix or "").strip()
    with transaction.atomic():
        record = ExportRecord.objects.select_for_update().select_related("document").get(pk=record.pk)
        if record.xero_drift not in (XeroDrift.VOIDED, XeroDrift.DELETED):
            raise DriftActionRefused(words.DRIFT_REEXPORT_ONLY_VOIDED)
        if record.replaced_by_id:
            raise DriftActionRefused(words.DRIFT_ALREADY_REPLACED)
        old = record.document
        number = f"{old.number}{suffix}"
        if not suffix or len(number) > 255:
            raise DriftActionRefused(words.DRIFT_SUFFIX_NEEDED)
        if SourceDocument.objects.filter(organisation_id=old.organisation_id, doc_type=old.doc_type,
                                         number=number).exists():
            raise DriftActionRefused(words.drift_number_taken(number))
        lines = list(old.lines.all())
        new = SourceDocument.objects.get(pk=old.pk)
        new.pk = None
        new.id = None
        new.number = number
        try:
            with transaction.atomic():
                new.save()
        except IntegrityError:
            raise DriftActionRefused(words.drift_number_taken(number)) from None
        for line in lines:
            line.pk = None
            line.id = None
            line.document = new
        new.lines.model.objects.bulk_create(lines)
        new_record = ExportRecord.objects.create(organisation_id=old.organisation_id, document=new,
                                                 doc_type=new.doc_type, doc_date=new.date)
        record.replaced_by = new_record
        record.save(update_fields=["replaced_by", "updated_at"])
        exports_enqueue(records=[new_record], actor=actor)
    return new_record
