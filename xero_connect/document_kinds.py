"""Xero's document kinds: which Accounting API resource each of our document types goes to,
the id and number fields Xero gives it, and whether Xero lets an existing one be updated.

On the floor of `roles.py`: pages and selectors read it as well as the export services, so it
imports nothing above the models. Sources: Xero's accounting OpenAPI file
(`../shared/xero-openapi/xero_accounting.yaml`: Invoice.Type ACCREC/ACCPAY, CreditNote.Type
ACCRECCREDIT/ACCPAYCREDIT, Payments cannot be edited — only deleted).
"""
from dataclasses import dataclass

from .models import DocumentType


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
