"""Look-ups: an in-doubt record is looked for in Xero before it is sent again (rule 3 of
drain.py): by Xero's documented parameters (InvoiceNumbers=), else by a `where` holding no string
with a double quote, else by date; matched here field by field. Found → adopted as exported;
a look-up that fails is waited out (an outage) or counted (XERO_EXPORT_MAX_ATTEMPTS).
"""
import logging
import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ... import messages as user_messages
from ... import money
from ...config import xero_config
from ...models import ExportAttempt, ExportState
from ...xero import errors
from ...xero.accounting import parse_xero_date
from .. import payloads
from .claims import DrainResult, Item
from .outcomes import (OUTAGE_STATUSES, _compare_totals, _fail, _mark_exported, _outage_wait, _requeue, _save,
                       backoff_seconds)

log = logging.getLogger("xero.exports")
Outcome = ExportAttempt.Outcome
# Xero answers 100 elements a page unless pageSize says otherwise (XERO_FACTS.md, "paging";
# Invoices, CreditNotes, Payments and ManualJournals take pageSize up to 1000). A page shorter
# than this is the last.
LOOKUP_PAGE_SIZE = 100
LOOKUP_MAX_PAGES = 10  # per look-up query: at most 1,000 candidates are read (every loop bounded)


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _quote_free(text: str) -> bool:
    """Can `text` stand in a `where` string literal? Xero answers 400 QueryParseException for a
    string containing a double quote, escaped or not (XERO_FACTS.md: Xero-Java#347,
    xeroizer#160); a backslash is kept out too."""
    return '"' not in text and "\\" not in text


def _by_date(items: list[Item]) -> str:
    dates = sorted({it.record.document.date for it in items})
    return " OR ".join(f"Date==DateTime({d.year},{d.month},{d.day})" for d in dates)


def _lookup_queries(resource: str, items: list[Item]) -> list[dict]:
    """The look-ups (keyword arguments of AccountingApi.find) that find `items` in Xero if they
    are there: Xero's documented parameters where it has them (InvoiceNumbers= on Invoices),
    otherwise a `where` with no string that holds a double quote; items whose own text cannot
    be put in one are looked for by date (then matched here, field by field)."""
    queries, leftover = [], []
    unitdp = {"unitdp": money.UNIT_PLACES} if resource in payloads.UNITDP_RESOURCES else {}
    if resource == "Invoices":
        numbers = sorted({payloads.xero_number(it.record.document) for it in items
                          if "," not in payloads.xero_number(it.record.document)})
        leftover = [it for it in items if "," in payloads.xero_number(it.record.document)]
        if numbers:
            queries.append({"params": {"InvoiceNumbers": ",".join(numbers), **unitdp}})
    elif resource == "Payments":
        paid = sorted({str((it.element or {}).get("Invoice", {}).get("InvoiceID") or "") for it in items})
        leftover = [it for it in items if not _GUID.match(str((it.element or {}).get("Invoice", {}).get("InvoiceID") or ""))]
        guids = [p for p in paid if _GUID.match(p)]
        if guids:
            queries.append({"where": " OR ".join(f'Invoice.InvoiceID==Guid("{p}")' for p in guids)})
    else:
        field_name = "CreditNoteNumber" if resource == "CreditNotes" else "Narration"
        text_of = payloads.xero_number if resource == "CreditNotes" else payloads.journal_narration
        texts = sorted({text_of(it.record.document) for it in items if _quote_free(text_of(it.record.document))})
        leftover = [it for it in items if not _quote_free(text_of(it.record.document))]
        if texts:
            queries.append({"where": " OR ".join(f'{field_name}=="{t}"' for t in texts), "params": dict(unitdp)})
    if leftover:
        queries.append({"where": _by_date(leftover), "params": dict(unitdp)})
    return queries


def _matching_element(resource: str, it: Item, found: list[dict]) -> dict | None:
    """The element of a look-up answer that is this item (same number, type, date and contact,
    neither deleted nor voided), or None."""
    doc = it.record.document
    kind = payloads.kind_of(doc.doc_type)
    for el in found:
        if str(el.get("Status") or "").upper() in {"DELETED", "VOIDED"}:
            continue
        when = payloads_date(el)
        if when and when != doc.date.isoformat():
            continue
        if resource in ("Invoices", "CreditNotes"):
            if el.get(kind.number_field) != payloads.xero_number(doc) or el.get("Type") != kind.xero_type:
                continue
            sent = (it.element or {}).get("Contact") or {}
            got = el.get("Contact") or {}
            if sent.get("ContactID") and got.get("ContactID"):
                if str(sent["ContactID"]).lower() != str(got["ContactID"]).lower():
                    continue
            else:
                name = " ".join(str(got.get("Name") or "").split()).lower()
                if doc.contact_name and name and name != " ".join(doc.contact_name.split()).lower():
                    continue
        elif resource == "Payments":
            if el.get("Reference") != doc.number:
                continue
            paid = (it.element or {}).get("Invoice", {}).get("InvoiceID")
            if paid and (el.get("Invoice") or {}).get("InvoiceID") not in (None, paid):
                continue
        else:
            if el.get("Narration") != payloads.journal_narration(doc):
                continue
        if el.get(kind.id_field):
            return el
    return None


def payloads_date(el: dict) -> str:
    value = el.get("Date")
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-":
        return value[:10]
    parsed = parse_xero_date(value)
    return parsed.date().isoformat() if parsed else ""


def _lookup(api, resource: str, items: list[Item], connection, result: DrainResult, deadline: float) -> list[Item]:
    """Look in-doubt items up in Xero (see _lookup_queries; each call takes its slot in the
    shared budget, each query reads at most LOOKUP_MAX_PAGES pages). Those found are recorded
    as exported (adopted, never sent again); the rest come back to be sent. Raises the Xero
    error of a look-up that failed (the caller counts it)."""
    found = []
    for query in _lookup_queries(resource, items):
        for page in range(1, LOOKUP_MAX_PAGES + 1):
            got = api.find(resource, page=page, page_size=LOOKUP_PAGE_SIZE, **query)
            result.calls += 1
            found += got
            if len(got) < LOOKUP_PAGE_SIZE:
                break
    recovered, remaining, elements = [], [], []
    for it in items:
        el = _matching_element(resource, it, found)
        if el and not it.record.update_existing:
            xero_id = str(el[payloads.kind_of(it.record.doc_type).id_field])
            recovered.append((it, xero_id))
            elements.append((it, xero_id, el))
        else:
            remaining.append(it)
    if recovered:
        # Xero's totals of an adopted document are kept and compared exactly as after a send:
        # drift is measured against them, never against our subtotal.
        _compare_totals(elements, organisation_id=connection.organisation_id, result=result)
        with transaction.atomic():
            attempts = _mark_exported(
                recovered, connection=connection, outcome=Outcome.RECOVERED, status=200,
                messages_for=lambda it: ["Found in Xero after an interrupted send; not sent again."],
                row_fields=("xero_total", "total_difference", "total_note"))
            ExportAttempt.objects.bulk_create(attempts)
        result.recovered += len(recovered)
        result.exported += len(recovered)
    for it in remaining:
        it.record.in_doubt = False
        it.record.lookups_failed = 0
    if remaining:
        _save([it.record for it in remaining], ["in_doubt", "lookups_failed"])
    log.info("xero.exports.lookup resource=%s looked_up=%s recovered=%s", resource, len(items), len(recovered))
    return remaining


def _lookup_failed(items: list[Item], doubtful: list[Item], exc: errors.XeroError, result: DrainResult) -> None:
    """A look-up failed. An outage is waited out (Waiting for Xero, backoff capped); anything
    else (a 400, a 500…) is counted on the in-doubt items, and after XERO_EXPORT_MAX_ATTEMPTS
    in a row they fail with the reason — never sent blind, since they may already be in Xero."""
    max_attempts = xero_config().export_max_attempts
    outage = isinstance(exc, errors.XeroUnavailable) and exc.status in OUTAGE_STATUSES
    said = str(user_messages.message_for(exc)) if outage else (str(exc) or exc.__class__.__name__)
    now = timezone.now()
    if not outage:  # an outage is not the look-up failing: it is waited out, not counted against it
        for it in doubtful:
            it.record.lookups_failed += 1
    give_up = [] if outage else [it for it in doubtful if it.record.lookups_failed >= max_attempts]
    give_up_ids = {id(it) for it in give_up}
    retry = [it for it in items if id(it) not in give_up_ids and it.record.state == ExportState.EXPORTING]
    with transaction.atomic():
        if give_up:
            _save([it.record for it in give_up], ["lookups_failed"])
            _fail(give_up, lambda it: [
                f"Could not check in Xero whether {it.record.document} arrived after an interrupted send: "
                f"{max_attempts} look-ups failed (Xero said: {said}). Look for it in Xero before pressing Retry, "
                f"so it is not created twice."], outcome=Outcome.ERROR, status=exc.status)
        if retry:
            extra = ["lookups_failed"]
            if outage:
                since, delay = _outage_wait(retry, now)
                for it in retry:
                    it.record.xero_unavailable_since = since
                    it.record.last_error = said
                extra += ["xero_unavailable_since", "last_error"]
            else:
                delay = backoff_seconds(max([it.record.lookups_failed for it in doubtful] or [1]))
            _requeue(retry, at=now + timedelta(seconds=delay), fields_extra=extra)
    result.rescheduled += len(retry)
    result.failed += len(give_up)
    log.warning("xero.exports.lookup_failed error=%s status=%s outage=%s gave_up=%s", exc.__class__.__name__,
                exc.status, outage, len(give_up))
