"""Pre-flight for exports: what a document needs from the lists that they do not hold, or hold
as inactive, in a bookkeeper's words. An empty list means nothing stands in the way.

Choices:
- Contacts: Xero creates a contact when an invoice names one it does not know, so an unknown
  contact name is fine. A contact that is archived in Xero is a problem (Xero refuses it).
  Names are compared by `names.contact_name_key` (case, accents' composition and stray spaces
  ignored), as the export matches them to ContactIDs.
- Lists belong to one Xero organisation (tenant): only the current one's lists count, and only
  if they were refreshed from it. What an earlier Xero organisation archived says nothing about
  the current one.
- A list that has never been imported for the organisation is not checked (there is nothing to
  compare with, and Xero still validates); accounts and currencies are imported on every
  (re)connect, the others by Refresh lists.
- The organisation's base currency is always fine. Manual journals and payments carry no
  currency or contact of their own, so only their account codes (and tax types) are checked;
  a payment's account must accept payments (a bank account, or payments enabled).

`documents_preflight` makes the same small number of queries for any number of documents.
"""
from collections import defaultdict

from django.conf import settings
from django.db.models.functions import Lower

from .. import document_kinds, money
from ..models import (
    Account,
    Contact,
    Currency,
    DocumentLine,
    DocumentType,
    ExchangeRate,
    ListName,
    ListSyncState,
    Organisation,
    TaxRate,
    TrackingCategory,
    TrackingOption,
)
from ..names import contact_name_key
from .connections import lists_tenant_ids

_NO_CONTACT_OR_CURRENCY = {DocumentType.MANUAL_JOURNAL, DocumentType.PAYMENT}


def _product() -> str:
    return settings.PRODUCT_NAME


def _gone(status: str) -> str:
    return "deleted in Xero" if (status or "").upper() == "DELETED" else "archived in Xero"


def document_preflight(*, document) -> list[str]:
    return documents_preflight(documents=[document]).get(document.pk, [])


def documents_preflight(*, documents) -> dict[int, list[str]]:
    """{document id: problems}. At most eleven queries (one more to load a queryset), however many
    documents."""
    docs = list(documents)
    if not docs:
        return {}
    doc_ids = [d.pk for d in docs]
    org_ids = {d.organisation_id for d in docs}

    lines_by_doc = defaultdict(list)
    for line in DocumentLine.objects.filter(document_id__in=doc_ids).values(
            "document_id", "account_code", "tax_type", "tracking", "quantity", "unit_amount",
            "line_amount").order_by("document_id", "position", "id"):
        lines_by_doc[line["document_id"]].append(line)

    base_currency = dict(Organisation.objects.filter(pk__in=org_ids).values_list("pk", "base_currency"))
    tenant_of = lists_tenant_ids(organisation_ids=org_ids)
    tenant_ids = set(tenant_of.values())
    imported = {(org, name) for org, name, tenant in ListSyncState.objects.filter(
        organisation_id__in=org_ids, last_refreshed_at__isnull=False).values_list(
        "organisation_id", "list_name", "tenant_id") if tenant == tenant_of.get(org, "")}
    tenant_ids.add("")  # an organisation never connected: its lists (if any) carry no tenant

    def current(row) -> bool:
        return row["tenant_id"] == tenant_of.get(row["organisation_id"], "")

    # What the documents need, across all of them.
    codes, tax_types, contacts, currencies, categories, options = set(), set(), set(), set(), set(), set()
    for doc in docs:
        if doc.doc_type == DocumentType.PAYMENT and doc.payment_account_code:
            codes.add(doc.payment_account_code.strip())
        if doc.doc_type not in _NO_CONTACT_OR_CURRENCY:
            if contact_name_key(doc.contact_name):
                contacts.add(contact_name_key(doc.contact_name))
            if doc.currency_code:
                currencies.add(doc.currency_code.upper())
        for line in lines_by_doc[doc.pk]:
            if line["account_code"]:
                codes.add(line["account_code"].strip())
            if line["tax_type"]:
                tax_types.add(line["tax_type"].strip())
            for tracking in line["tracking"] or []:
                cat = str((tracking or {}).get("category") or "").strip().lower()
                opt = str((tracking or {}).get("option") or "").strip().lower()
                if cat:
                    categories.add(cat)
                    if opt:
                        options.add((cat, opt))

    accounts = {}
    if codes:
        for a in Account.objects.filter(organisation_id__in=org_ids, tenant_id__in=tenant_ids, code__in=codes).values(
                "organisation_id", "tenant_id", "code", "name", "is_active", "status", "type", "enable_payments"):
            if not current(a):
                continue
            key = (a["organisation_id"], a["code"])
            # An active row wins over an archived one with the same code.
            if key not in accounts or a["is_active"]:
                accounts[key] = a
    taxes = {}
    if tax_types:
        taxes = {(t["organisation_id"], t["tax_type"]): t for t in TaxRate.objects.filter(
            organisation_id__in=org_ids, tenant_id__in=tenant_ids, tax_type__in=tax_types).values(
            "organisation_id", "tenant_id", "tax_type", "name", "is_active", "status") if current(t)}
    contact_rows = {}
    if contacts:
        for c in Contact.objects.filter(
                organisation_id__in=org_ids, tenant_id__in=tenant_ids, match_key__in=contacts).values(
                "organisation_id", "tenant_id", "match_key", "name", "is_active", "status"):
            if not current(c):
                continue
            key = (c["organisation_id"], c["match_key"])
            if key not in contact_rows or c["is_active"]:
                contact_rows[key] = c
    currency_rows, rates = {}, {}
    if currencies:
        currency_rows = {(c["organisation_id"], c["code"]): c for c in Currency.objects.filter(
            organisation_id__in=org_ids, tenant_id__in=tenant_ids, code__in=currencies).values(
            "organisation_id", "tenant_id", "code", "is_active") if current(c)}
        rates = {(r.organisation_id, r.currency_code.upper()): r for r in ExchangeRate.objects.filter(
            organisation_id__in=org_ids, currency_code__in=currencies)}
    category_rows, option_rows = {}, {}
    if categories:
        for c in TrackingCategory.objects.annotate(lname=Lower("name")).filter(
                organisation_id__in=org_ids, tenant_id__in=tenant_ids, lname__in=categories).values(
                "organisation_id", "tenant_id", "lname", "name", "is_active", "status"):
            if not current(c):
                continue
            key = (c["organisation_id"], c["lname"])
            if key not in category_rows or c["is_active"]:
                category_rows[key] = c
        if options:
            for o in TrackingOption.objects.annotate(lname=Lower("name"), lcat=Lower("category__name")).filter(
                    organisation_id__in=org_ids, tenant_id__in=tenant_ids, lcat__in=categories,
                    lname__in={opt for _, opt in options}).values("organisation_id", "tenant_id", "lcat", "lname",
                                                                    "name", "is_active", "status"):
                if not current(o):
                    continue
                key = (o["organisation_id"], o["lcat"], o["lname"])
                if key not in option_rows or o["is_active"]:
                    option_rows[key] = o

    out: dict[int, list[str]] = {}
    for doc in docs:
        org = doc.organisation_id
        problems: list[str] = []

        def add(text):
            if text not in problems:
                problems.append(text)

        if doc.doc_type not in _NO_CONTACT_OR_CURRENCY:
            name = contact_name_key(doc.contact_name)
            if name and (org, ListName.CONTACTS) in imported:
                row = contact_rows.get((org, name))
                if row and not row["is_active"]:
                    add(f"Contact {row['name']} is {_gone(row['status'])} — restore the contact in Xero and "
                        f"refresh lists, or choose another contact")
            code = (doc.currency_code or "").upper()
            if code and code != (base_currency.get(org) or "").upper() and (org, ListName.CURRENCIES) in imported:
                row = currency_rows.get((org, code))
                if row is None or not row["is_active"]:
                    rate = rates.get((org, code))
                    if rate is None or not rate.is_valid:
                        add(f"Currency {code} is not in your currency list: no exchange rate set up for {code} in "
                            f"{_product()} — add a rate, then refresh lists")
                    else:
                        add(f"Currency {code} is not in your currency list: it is not enabled in Xero — enable "
                            f"{code} in Xero, then refresh lists")

        doc_codes = [line["account_code"].strip() for line in lines_by_doc[doc.pk] if line["account_code"]]
        payment_code = doc.payment_account_code.strip() if doc.doc_type == DocumentType.PAYMENT else ""
        if (org, ListName.ACCOUNTS) in imported:
            for code in ([payment_code] if payment_code else []) + doc_codes:
                row = accounts.get((org, code))
                if row is None:
                    add(f"Account code {code} is not in your Xero chart of accounts — refresh lists or fix the code")
                elif not row["is_active"]:
                    add(f"Account code {code} ({row['name']}) is {_gone(row['status'])} — restore it in Xero and "
                        f"refresh lists, or use another account")
                elif code == payment_code and row["type"] != "BANK" and not row["enable_payments"]:
                    add(f"Account code {code} ({row['name']}) cannot receive payments in Xero — use a bank account, "
                        f"or turn on “Enable payments to this account” in Xero and refresh lists")

        if (org, ListName.TAX_RATES) in imported:
            for line in lines_by_doc[doc.pk]:
                tax_type = (line["tax_type"] or "").strip()
                if not tax_type:
                    continue
                row = taxes.get((org, tax_type))
                if row is None:
                    add(f"Tax type {tax_type} is not in your Xero tax rates — refresh lists or fix the tax type")
                elif not row["is_active"]:
                    add(f"Tax rate {row['name']} ({tax_type}) is {_gone(row['status'])} — use another tax rate, "
                        f"or restore it in Xero and refresh lists")

        if (org, ListName.TRACKING) in imported:
            for line in lines_by_doc[doc.pk]:
                for tracking in line["tracking"] or []:
                    cat = str((tracking or {}).get("category") or "").strip()
                    opt = str((tracking or {}).get("option") or "").strip()
                    if not cat:
                        continue
                    row = category_rows.get((org, cat.lower()))
                    if row is None:
                        add(f"Tracking category {cat} is not in your Xero tracking categories — refresh lists or "
                            f"fix the document")
                        continue
                    if not row["is_active"]:
                        add(f"Tracking category {row['name']} is {_gone(row['status'])} — restore it in Xero and "
                            f"refresh lists, or fix the document")
                        continue
                    if not opt:
                        continue
                    opt_row = option_rows.get((org, cat.lower(), opt.lower()))
                    if opt_row is None:
                        add(f"Tracking option {opt} is not in tracking category {row['name']} in Xero — add it in "
                            f"Xero and refresh lists, or fix the document")
                    elif not opt_row["is_active"]:
                        add(f"Tracking option {opt_row['name']} in {row['name']} is {_gone(opt_row['status'])} — "
                            f"restore it in Xero and refresh lists, or fix the document")
        for text in xero_rules_problems(doc, lines_by_doc[doc.pk]):
            add(text)
        out[doc.pk] = problems
    return out


# Xero's InvoiceNumber maxLength (xero_accounting.yaml); CreditNoteNumber is held to the same.
NUMBER_MAX_LENGTH = 255


def xero_rules_problems(doc, lines) -> list[str]:
    """What Xero would round, refuse or drop, said before any call: figures with more
    precision than Xero keeps (refused, never rounded silently), a manual journal that does not
    balance to the cent, an approved invoice or bill with no due date (and none derivable, see
    document_kinds.due_date), a number longer than Xero holds. `lines` are dicts with quantity,
    unit_amount, line_amount."""
    problems = []
    if doc.doc_type == DocumentType.PAYMENT:
        problems += money.precision_problems(money_amounts=[doc.total])
        return problems
    if doc.doc_type == DocumentType.MANUAL_JOURNAL:
        amounts = [line["line_amount"] if line["line_amount"] is not None
                   else money.line_amount(line["quantity"] or 0, line["unit_amount"] or 0) for line in lines]
        problems += money.precision_problems(money_amounts=amounts)
        if not problems:
            off = money.journal_imbalance(amounts)
            if off:
                debits = sum((a for a in amounts if a > 0), money.ZERO)
                credits = -sum((a for a in amounts if a < 0), money.ZERO)
                problems.append(f"The journal does not balance: debits {debits:.2f}, credits {credits:.2f} "
                                f"(off by {abs(off):.2f}) — Xero accepts a manual journal only when they are equal")
        return problems
    problems += money.precision_problems(quantities=[line["quantity"] for line in lines],
                                         unit_amounts=[line["unit_amount"] for line in lines])
    if (doc.line_amount_types or "Exclusive") not in money.LINE_AMOUNT_TYPES:
        problems.append(f"Line amount types “{doc.line_amount_types}” is not one Xero knows — use Exclusive, "
                        f"Inclusive or NoTax")
    if document_kinds.kind_of(doc.doc_type).resource == "Invoices" and document_kinds.due_date(doc) is None:
        problems.append("Due date missing — Xero requires one on an approved invoice or bill; add it to the "
                        "document (or set XERO_EXPORT_DUE_DAYS to derive it from the date)")
    number = document_kinds.xero_number(doc)
    if len(number) > NUMBER_MAX_LENGTH:
        problems.append(f"The number sent to Xero, “{number[:40]}…”, is {len(number)} characters — Xero holds "
                        f"{NUMBER_MAX_LENGTH}; shorten the number or the reference")
    return problems
