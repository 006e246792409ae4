"""Source documents → the JSON elements Xero's Accounting API takes.

Deterministic on purpose: the same document always gives the same element (keys sorted when
hashed, decimals as fixed strings), so the payload hash — and with it the Idempotency-Key —
is stable across retries and across processes.
"""
import hashlib
import json
from decimal import Decimal

from .. import money
from ..document_kinds import (DOC_TYPES_BY_RESOURCE, KINDS, REFERENCE_KEPT, RESOURCE_ORDER, UNITDP_RESOURCES,  # noqa: F401
                              XeroKind, due_date, journal_narration, kind_of, xero_number)
from ..models import DocumentType, SourceDocument
from ..names import contact_name_key


def _money(value) -> float:
    """Amounts go out as JSON numbers, as Xero's API types them."""
    return float(Decimal(value or 0).quantize(Decimal("0.01")))


def _qty(value) -> float:
    return float(Decimal(value if value is not None else 1).quantize(Decimal("0.0001")))


def _amount(value) -> float:
    return float(Decimal(value or 0).quantize(Decimal("0.0001")))


def _tracking(line) -> list[dict]:
    out = []
    for item in line.tracking or []:
        if isinstance(item, dict) and item.get("category") and item.get("option"):
            out.append({"Name": item["category"], "Option": item["option"]})
    return out


def reference_note(document: SourceDocument) -> str:
    """What the ledger says when Xero does not keep the document's Reference ("" otherwise)."""
    reference = (document.reference or "").strip()
    if document.doc_type in REFERENCE_KEPT or not reference or reference == document.number:
        return ""
    what = "bills" if document.doc_type == DocumentType.BILL else "supplier credit notes"
    return (f"Xero keeps no Reference on {what}: the reference {reference} was sent as part of the number, "
            f"“{xero_number(document)}”.")


def build_element(document: SourceDocument, *, xero_id: str = "", paid_xero_id: str = "",
                  contact_ids: dict[str, str] | None = None) -> dict:
    """One element for the API. `xero_id` makes it an update of the document already in Xero;
    `paid_xero_id` is the Xero id of the invoice/bill a payment pays; `contact_ids` maps
    `names.contact_name_key(name)` to ContactIDs from the current Xero organisation's list (a
    name not in it is sent by Name, and Xero creates the contact)."""
    kind = KINDS[document.doc_type]
    lines = list(document.lines.all())
    if document.doc_type == DocumentType.PAYMENT:
        element = {
            "Invoice": {"InvoiceID": paid_xero_id},
            "Account": {"Code": document.payment_account_code},
            "Date": document.date.isoformat(),
            "Amount": _money(document.total),
            "Reference": document.number,
        }
        if document.currency_code:
            element["CurrencyCode"] = document.currency_code
        return element
    if document.doc_type == DocumentType.MANUAL_JOURNAL:
        element = {
            "Narration": journal_narration(document),
            "Date": document.date.isoformat(),
            "Status": "POSTED",
            "LineAmountTypes": document.line_amount_types or "NoTax",
            "JournalLines": [
                {k: v for k, v in {
                    "Description": line.description,
                    "LineAmount": _money(line.line_amount if line.line_amount is not None
                                         else Decimal(line.quantity or 0) * Decimal(line.unit_amount or 0)),
                    "AccountCode": line.account_code,
                    "TaxType": line.tax_type or None,
                    "Tracking": _tracking(line) or None,
                }.items() if v not in (None, "")}
                for line in lines
            ],
        }
        if xero_id:
            element[kind.id_field] = xero_id
        return element
    contact_id = (contact_ids or {}).get(contact_name_key(document.contact_name))
    element = {
        "Type": kind.xero_type,
        "Contact": {"ContactID": contact_id} if contact_id else {"Name": document.contact_name},
        "Date": document.date.isoformat(),
        "LineAmountTypes": document.line_amount_types or "Exclusive",
        kind.number_field: xero_number(document),
        "Status": "AUTHORISED",
        "LineItems": [
            {k: v for k, v in {
                "Description": line.description or document.number,
                "Quantity": _qty(line.quantity),
                "UnitAmount": _amount(line.unit_amount),
                "AccountCode": line.account_code,
                "TaxType": line.tax_type or None,
                "Tracking": _tracking(line) or None,
            }.items() if v not in (None, "")}
            for line in lines
        ],
    }
    due = due_date(document) if kind.resource == "Invoices" else document.due_date
    if due:
        element["DueDate"] = due.isoformat()
    if document.reference and document.doc_type in REFERENCE_KEPT:
        element["Reference"] = document.reference
    if document.currency_code:
        element["CurrencyCode"] = document.currency_code
    if xero_id:
        element[kind.id_field] = xero_id
    return element


def payload_hash(element: dict) -> str:
    canonical = json.dumps(element, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def element_xero_id(doc_type: str, element: dict) -> str:
    return str(element.get(KINDS[doc_type].id_field) or "")


def element_totals(element: dict):
    """Xero's SubTotal / TotalTax / Total of an answered element as `money.Totals`, or None
    when Xero gave none (payments, journals) or they are not numbers."""
    try:
        values = [money.round_money(str(element[k])) for k in ("SubTotal", "TotalTax", "Total")]
    except (KeyError, ValueError, TypeError):
        return None
    return money.Totals(*values)


def element_messages(element: dict) -> list[str]:
    """Xero's validation messages for one element, verbatim (errors, then warnings)."""
    out = []
    for key in ("ValidationErrors", "Warnings"):
        for item in element.get(key) or []:
            if isinstance(item, dict) and item.get("Message"):
                out.append(str(item["Message"]))
    return out


def element_failed(element: dict) -> bool:
    status = str(element.get("StatusAttributeString") or "").upper()
    return status == "ERROR" or bool(element.get("HasErrors")) or bool(element.get("ValidationErrors"))
