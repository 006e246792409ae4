"""Preparation: what a claimed batch may send (pre-flight, the contacts' Xero ids, documents
kept in another Xero organisation, payments waiting for their invoice) and the payloads it
sends. Rule 4 of drain.py holds here: a document already in Xero is never sent as new, and no id
learnt from another Xero organisation is ever sent.
"""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ...config import xero_config
from ...models import DocumentType, ExportAttempt, ExportRecord, ExportState, WebhookEvent, XeroConnection
from ...names import contact_name_key
from ...selectors import preflight
from .. import payloads, webhooks_out
from .claims import DrainResult, Item
from .needs_mapping import park_needs_mapping
from .outcomes import _attempt, _fail, _requeue, _save, park_waiting

Outcome = ExportAttempt.Outcome


def _preflight(docs, *, organisation_id: int, tenant_id: str, result: DrainResult) -> dict[int, list[str]]:
    """Pre-flight against the drain's snapshot of the lists of the Xero organisation `tenant_id`
    (read once per drain and tenant: `preflight.PreflightLists`). A list refreshed while the drain
    runs is seen by the next drain at the latest; but a document is never failed on an old
    snapshot: when the snapshot finds problems, the lists are read again (the new snapshot serves
    the rest of the drain) and only what they still find counts. What the old snapshot let
    through, Xero validates."""
    lists = result.preflight_lists.get(tenant_id)
    fresh = lists is None
    if fresh:
        lists = result.preflight_lists[tenant_id] = _snapshot(organisation_id, tenant_id)
    problems = preflight.documents_preflight(documents=docs, lists=lists)
    failing = [d for d in docs if problems.get(d.pk)]
    if failing and not fresh:
        lists = result.preflight_lists[tenant_id] = _snapshot(organisation_id, tenant_id)
        problems.update(preflight.documents_preflight(documents=failing, lists=lists))
    return problems


def _snapshot(organisation_id: int, tenant_id: str) -> preflight.PreflightLists:
    return preflight.PreflightLists(organisation_ids=[organisation_id], tenant_ids={organisation_id: tenant_id},
                                    whole_lists=True)


def _elsewhere(record: ExportRecord, tenant_id: str) -> bool:
    """The record's last write went to another Xero organisation than `tenant_id`."""
    return bool(record.tenant_id) and record.tenant_id != tenant_id


def _tenant_name(tenant_id: str) -> str:
    connection = XeroConnection.objects.filter(tenant_id=tenant_id).exclude(tenant_name="").order_by("-pk").first()
    return f"the Xero organisation {connection.tenant_name}" if connection else "another Xero organisation"


def _prepare(records: list[ExportRecord], *, organisation_id: int, tenant_id: str,
             result: DrainResult) -> list[Item]:
    """Pre-flight and payloads for a send to the Xero organisation `tenant_id`. Items that
    cannot go now are failed (with the reason, no call spent) or put back (a payment whose
    invoice is still on its way). No id learnt from another Xero organisation is ever sent:
    a document that is in another one stays recorded as exported there."""
    records = park_needs_mapping(records, organisation_id=organisation_id, tenant_id=tenant_id, result=result,
                                 park=park_waiting)
    docs = [r.document for r in records]
    problems = _preflight(docs, organisation_id=organisation_id, tenant_id=tenant_id, result=result)
    failed, deferred, ready, kept_elsewhere = [], [], [], []
    # Contact ids come from the same snapshot: read once per drain and tenant for the names not
    # seen yet, misses too.
    contact_ids = result.preflight_lists[tenant_id].contact_ids(
        organisation_id=organisation_id, keys={contact_name_key(d.contact_name) for d in docs})
    for r in records:
        doc = r.document
        if r.xero_id and _elsewhere(r, tenant_id):
            kept_elsewhere.append(Item(r))
            continue
        if r.in_doubt and _elsewhere(r, tenant_id):
            r.in_doubt = False
            failed.append((Item(r), [
                f"This may already be in {_tenant_name(r.tenant_id)}: it was being sent there when the link to "
                f"Xero changed. Look for {doc} there; if it is not there, press Export to send it to the Xero "
                f"organisation linked now."]))
            continue
        if problems.get(doc.pk):
            failed.append((Item(r), problems[doc.pk]))
            continue
        paid_xero_id = ""
        if doc.doc_type == DocumentType.PAYMENT:
            paid = doc.paid_document
            paid_record = getattr(paid, "export_record", None) if paid else None
            if paid is None:
                failed.append((Item(r), ["This payment does not say which invoice or bill it pays."]))
                continue
            if (paid_record and paid_record.state == ExportState.EXPORTED and paid_record.xero_id
                    and _elsewhere(paid_record, tenant_id)):
                failed.append((Item(r), [
                    f"{paid} that this payment pays is in {_tenant_name(paid_record.tenant_id)}, not in the Xero "
                    f"organisation linked now, so the payment cannot be recorded against it here. Record the "
                    f"payment in that Xero organisation, or export {paid} to the one linked now first."]))
                continue
            if paid_record and paid_record.state == ExportState.EXPORTED and paid_record.xero_id:
                paid_xero_id = paid_record.xero_id
            elif paid_record and paid_record.state in (ExportState.QUEUED, ExportState.EXPORTING,
                                                       ExportState.WAITING_FOR_CONNECTION,
                                                       ExportState.NEEDS_MAPPING):
                deferred.append(Item(r))
                continue
            else:
                state = paid_record.get_state_display().lower() if paid_record else "not exported"
                failed.append((Item(r), [
                    f"{paid} that this payment pays is not in Xero yet ({state}). Export it first, then press "
                    f"Retry on this payment."]))
                continue
        xero_id = r.xero_id if (r.xero_id and r.update_existing) else ""
        if r.xero_id and not r.update_existing:
            # Already in Xero and nobody asked for an update: never send it as new.
            ready.append(Item(r, element=None))
            continue
        element = payloads.build_element(doc, xero_id=xero_id, paid_xero_id=paid_xero_id, contact_ids=contact_ids)
        ready.append(Item(r, element=element, payload_hash=payloads.payload_hash(element)))
    if kept_elsewhere:
        _keep_elsewhere(kept_elsewhere)
    if failed:
        problem_of = {id(it): msgs for it, msgs in failed}
        _save([it.record for it, _ in failed], ["in_doubt"])
        _fail([it for it, _ in failed], lambda it: problem_of[id(it)], outcome=Outcome.PREFLIGHT_FAILED)
        result.failed += len(failed)
    if deferred:
        # Not before the invoice it pays is tried again (it may be waiting for Xero for minutes).
        soon = timezone.now() + timedelta(seconds=xero_config().export_payment_defer)
        by_time = {}
        for it in deferred:
            paid_next = it.record.document.paid_document.export_record.next_attempt_at
            by_time.setdefault(max(soon, paid_next) if paid_next else soon, []).append(it)
        for at, group in by_time.items():
            _requeue(group, at=at)
        result.rescheduled += len(deferred)
    already = [it for it in ready if it.element is None]
    if already:
        for it in already:
            it.record.state = ExportState.EXPORTED
            it.record.claimed_by = ""
        _save([it.record for it in already], ["state", "claimed_by"])
        webhooks_out.documents_event(event_type=WebhookEvent.DOCUMENT_EXPORTED,
                                     record_ids=[it.record.pk for it in already])
    return [it for it in ready if it.element is not None]


def _keep_elsewhere(items: list[Item]) -> None:
    """Documents in another Xero organisation than the one linked now: never sent (their ids
    mean nothing to it). They stay exported there, View links and all; the attempt says why."""
    now = timezone.now()
    attempts = []
    for it in items:
        r = it.record
        reason = (f"Not sent: {r.document} is in {_tenant_name(r.tenant_id)}, which is no longer linked. It stays "
                  f"there; it is not re-exported to the Xero organisation linked now.")
        r.state = ExportState.EXPORTED
        r.update_existing = False
        r.claimed_by = ""
        r.updated_at = now
        attempts.append(_attempt(r, Outcome.PREFLIGHT_FAILED, messages=[reason], now=now))
    with transaction.atomic():
        _save([it.record for it in items], ["state", "update_existing", "claimed_by"])
        ExportAttempt.objects.bulk_create(attempts)
