"""Xero's document kinds: which Accounting API resource each of our document types goes to,
the id and number fields Xero gives it, and whether Xero lets an existing one be updated.

Also the rules that decide what Xero keeps of a document and how it is found again in Xero
after an interrupted send (its number, narration, due date). On the floor of `roles.py`: the
pre-flight selectors read it as well as the export services, so it imports nothing above the
models. Sources: Xero's accounting OpenAPI file
(`../shared/xero-openapi/xero_accounting.yaml`: Invoice.Type ACCREC/ACCPAY, CreditNote.Type
ACCRECCREDIT/ACCPAYCREDIT, Payments cannot be edited — only deleted).
"""
from dataclasses import dataclass
from datetime import timedelta

from .config import xero_config
from .models import DocumentType, SourceDocument


@dataclass(frozen=True)
class XeroKind:
    resource: str           # API resource and envelope key: "Invoices"
    id_field: str           # "InvoiceID"
    xero_type: str | None   # Type on the element: ACCREC / ACCPAY / …
    number_field: str | None
    can_update: bool        # does Xero let us update an existing one?
    update_note: str        # what a re-export does, in the user's words


KINDS: dict[str, XeroKind] = {
    DocumentType.SALES_INVOICE: XeroKind(
        "Invoices", "InvoiceID", "ACCREC", "InvoiceNumber", True,
        "updates the existing invoice in Xero (Xero refuses if it has been paid or voided there)"),
    DocumentType.BILL: XeroKind(
        "Invoices", "InvoiceID", "ACCPAY", "InvoiceNumber", True,
        "updates the existing bill in Xero (Xero refuses if it has been paid or voided there)"),
    DocumentType.SALES_CREDIT_NOTE: XeroKind(
        "CreditNotes", "CreditNoteID", "ACCRECCREDIT", "CreditNoteNumber", True,
        "updates the existing credit note in Xero (Xero refuses if it has been allocated or voided there)"),
    DocumentType.PURCHASE_CREDIT_NOTE: XeroKind(
        "CreditNotes", "CreditNoteID", "ACCPAYCREDIT", "CreditNoteNumber", True,
        "updates the existing credit note in Xero (Xero refuses if it has been allocated or voided there)"),
    DocumentType.PAYMENT: XeroKind(
        "Payments", "PaymentID", None, None, False,
        "is skipped: Xero does not allow payments to be edited, so the payment already in Xero stays as it is"),
    DocumentType.MANUAL_JOURNAL: XeroKind(
        "ManualJournals", "ManualJournalID", None, None, True,
        "updates the existing manual journal in Xero"),
}

# Invoices first, so that payments in the same run find their invoice already exported.
RESOURCE_ORDER = ["Invoices", "CreditNotes", "ManualJournals", "Payments"]
DOC_TYPES_BY_RESOURCE: dict[str, list[str]] = {}
for _doc_type, _kind in KINDS.items():
    DOC_TYPES_BY_RESOURCE.setdefault(_kind.resource, []).append(str(_doc_type))


def kind_of(doc_type: str) -> XeroKind:
    return KINDS[doc_type]


# Writes and reads of these resources carry `unitdp=4`: without it Xero keeps UnitAmount to 2
# decimals (0.1648 → 0.16). Source: xero_accounting.yaml (parameter unitdp on PUT/POST/GET
# Invoices and CreditNotes) and Xero's guide "Rounding in Xero".
UNITDP_RESOURCES = {"Invoices", "CreditNotes"}
# Xero keeps `Reference` only on sales invoices and sales credit notes; on bills and supplier
# credit notes it is dropped silently (xero_accounting.yaml, Invoice.Reference).
REFERENCE_KEPT = {DocumentType.SALES_INVOICE, DocumentType.SALES_CREDIT_NOTE}


def xero_number(document: SourceDocument) -> str:
    """The InvoiceNumber / CreditNoteNumber sent to Xero. On bills and supplier credit notes,
    where Xero drops `Reference`, the number is where Xero keeps the supplier's reference (Xero
    shows a bill's InvoiceNumber as its "Reference"), so a reference goes there after our
    number: "B-1001 / SUP-889". The look-up after an interrupted send uses the same value."""
    number = document.number
    reference = (document.reference or "").strip()
    if document.doc_type not in REFERENCE_KEPT and reference and reference != number:
        return f"{number} / {reference}"
    return number


def due_date(document: SourceDocument):
    """The DueDate sent for an approved invoice or bill: the document's own, or its date plus
    XERO_EXPORT_DUE_DAYS days when it has none ("due on receipt" at 0). None when it has none
    and the setting is empty (pre-flight then asks for one). Xero requires a DueDate on an
    AUTHORISED invoice or bill (XERO_FACTS.md: xeroizer#395, xero-python#78)."""
    if document.due_date:
        return document.due_date
    days = xero_config().export_due_days
    if days is None:
        return None
    return document.date + timedelta(days=int(days))


def journal_narration(document: SourceDocument) -> str:
    """The narration sent to Xero ends with our document number, so a journal can be found
    again in Xero (look-up after an interrupted send) without guessing."""
    narration = (document.narration or "").strip() or f"Journal {document.number}"
    return narration if document.number in narration else f"{narration} ({document.number})"
