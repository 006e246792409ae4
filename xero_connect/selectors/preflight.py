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


# The lists read whole by a drain's snapshot (Xero keeps them short: a chart of accounts, tax
# rates, currencies, at most two tracking categories of 100 options each); contacts, which can
# run to hundreds of thousands, are read only for the names asked about.
_WHOLE_LISTS = ("accounts", "taxes", "currencies", "tracking")


class PreflightLists:
    """What the pre-flight compares documents with, for some organisations: the Xero tenant whose
    lists count for each (`selectors.connections.lists_tenant_ids`, or `tenant_ids` given), its
    base currency, which lists were imported from that tenant, and the rows of the lists asked
    about so far. Rows are read on demand and kept, misses too, so asking again costs nothing.

    `whole_lists=False` (what `documents_preflight` makes for one call): only the codes, tax types,
    currencies, tracking names and contacts the documents name are read — one query per list.
    `whole_lists=True` (an export drain's snapshot, one per drain and tenant): the short lists are
    read whole the first time any document needs them, contacts by the names not asked yet; later
    batches of the drain then cost no query for lists they have seen. Both give the same answers
    for the same rows: the rows are folded by the same code. A list refreshed after the snapshot
    was read is seen by the next drain at the latest (a drain lasts at most its max_seconds,
    XERO_EXPORT_DRAIN_SECONDS); the caller decides what a stale "problem" is worth (the drain
    reads the lists again before it fails a document, see services/exports/prepare.py), and Xero
    validates every document anyway."""

    def __init__(self, *, organisation_ids, tenant_ids: dict[int, str] | None = None, whole_lists: bool = False):
        self.organisation_ids = set(organisation_ids)
        self.whole_lists = whole_lists
        self.base_currency = {org: (code or "").upper() for org, code in Organisation.objects.filter(
            pk__in=self.organisation_ids).values_list("pk", "base_currency")}
        self.tenant_of = dict(tenant_ids) if tenant_ids is not None else lists_tenant_ids(
            organisation_ids=self.organisation_ids)
        # "" too: an organisation never connected has lists (if any) that carry no tenant.
        self._tenant_ids = set(self.tenant_of.values()) | {""}
        self.imported = {(org, name) for org, name, tenant in ListSyncState.objects.filter(
            organisation_id__in=self.organisation_ids, last_refreshed_at__isnull=False).values_list(
            "organisation_id", "list_name", "tenant_id") if tenant == self.tenant_of.get(org, "")}
        self.accounts, self.taxes, self.contacts, self.currencies, self.rates = {}, {}, {}, {}, {}
        self.categories, self.options = {}, {}
        self._active_contact_ids: dict[tuple, set] = {}
        self._asked: dict[str, set] = defaultdict(set)
        self._whole: set[str] = set()

    def _current(self, row) -> bool:
        return row["tenant_id"] == self.tenant_of.get(row["organisation_id"], "")

    def _rows(self, model, **filters):
        return model.objects.filter(organisation_id__in=self.organisation_ids, tenant_id__in=self._tenant_ids,
                                    **filters)

    def _todo(self, kind: str, keys: set):
        """The keys of `kind` to read now: None for the whole list, an empty set for nothing."""
        if not keys or kind in self._whole:
            return set()
        if self.whole_lists and kind in _WHOLE_LISTS:
            self._whole.add(kind)
            return None
        todo = keys - self._asked[kind]
        self._asked[kind] |= todo
        return todo

    @staticmethod
    def _keep(rows: dict, key, row) -> None:
        # An active row wins over an archived one with the same key.
        if key not in rows or row["is_active"]:
            rows[key] = row

    def load(self, *, codes=(), tax_types=(), contacts=(), currencies=(), categories=(), options=()) -> None:
        """Read what is not read yet of these keys (account codes, tax types, contact name keys,
        upper-case currency codes, lower-case tracking category names, (category, option) pairs
        in lower case): at most one query per list (two for currencies and tracking)."""
        todo = self._todo("accounts", set(codes))
        if todo is None or todo:
            qs = self._rows(Account) if todo is None else self._rows(Account, code__in=todo)
            for a in qs.values("organisation_id", "tenant_id", "code", "name", "is_active", "status", "type",
                               "enable_payments"):
                if self._current(a):
                    self._keep(self.accounts, (a["organisation_id"], a["code"]), a)
        todo = self._todo("taxes", set(tax_types))
        if todo is None or todo:
            qs = self._rows(TaxRate) if todo is None else self._rows(TaxRate, tax_type__in=todo)
            self.taxes.update({(t["organisation_id"], t["tax_type"]): t for t in qs.values(
                "organisation_id", "tenant_id", "tax_type", "name", "is_active", "status") if self._current(t)})
        todo = self._todo("contacts", set(contacts))
        if todo:
            for c in self._rows(Contact, match_key__in=todo).values(
                    "organisation_id", "tenant_id", "match_key", "name", "is_active", "status", "xero_id"):
                if self._current(c):
                    key = (c["organisation_id"], c["match_key"])
                    self._keep(self.contacts, key, c)
                    if c["is_active"]:
                        self._active_contact_ids.setdefault(key, set()).add(c["xero_id"])
        todo = self._todo("currencies", set(currencies))
        if todo is None or todo:
            qs = self._rows(Currency) if todo is None else self._rows(Currency, code__in=todo)
            self.currencies.update({(c["organisation_id"], c["code"]): c for c in qs.values(
                "organisation_id", "tenant_id", "code", "is_active") if self._current(c)})
            rates = ExchangeRate.objects.filter(organisation_id__in=self.organisation_ids)
            if todo is not None:
                rates = rates.filter(currency_code__in=todo)
            self.rates.update({(r.organisation_id, r.currency_code.upper()): r for r in rates})
        # A whole snapshot reads the tracking options with their categories.
        todo = self._todo("tracking", set(categories))
        if todo is None or todo:
            qs = self._rows(TrackingCategory).annotate(lname=Lower("name"))
            if todo is not None:
                qs = qs.filter(lname__in=todo)
            for c in qs.values("organisation_id", "tenant_id", "lname", "name", "is_active", "status"):
                if self._current(c):
                    self._keep(self.categories, (c["organisation_id"], c["lname"]), c)
        if todo is None:
            self._load_options(None)
        elif not self.whole_lists:
            todo = self._todo("options", set(options))
            if todo:
                self._load_options(todo)

    def _load_options(self, pairs) -> None:
        """Tracking options: all of them (pairs None), or those named by (category, option) pairs."""
        qs = self._rows(TrackingOption).annotate(lname=Lower("name"), lcat=Lower("category__name"))
        if pairs is not None:
            qs = qs.filter(lcat__in={cat for cat, _ in pairs}, lname__in={opt for _, opt in pairs})
        for o in qs.values("organisation_id", "tenant_id", "lcat", "lname", "name", "is_active", "status"):
            if self._current(o):
                self._keep(self.options, (o["organisation_id"], o["lcat"], o["lname"]), o)

    def contact_ids(self, *, organisation_id: int, keys) -> dict[str, str]:
        """{contact name key: ContactID} for the keys whose contact the organisation's current
        Xero list holds, active (read now if not read yet). A key held by two active contacts
        is left out (sent by Name; Xero decides)."""
        keys = {k for k in keys if k}
        self.load(contacts=keys)
        out = {}
        for key in keys:
            ids = self._active_contact_ids.get((organisation_id, key))
            if ids and len(ids) == 1:
                out[key] = next(iter(ids))
        return out


def _lines_by_doc(docs) -> dict[int, list[dict]]:
    """{document id: its lines as dicts (account_code, tax_type, tracking, quantity, unit_amount,
    line_amount), in order}. Lines already loaded with the documents (`prefetch_related("lines")`,
    as the export claim does) are used as they are; the others are read in one query."""
    out = defaultdict(list)
    fields = ("account_code", "tax_type", "tracking", "quantity", "unit_amount", "line_amount")
    unread = []
    for doc in docs:
        cached = getattr(doc, "_prefetched_objects_cache", {}).get("lines")
        if cached is None:
            unread.append(doc.pk)
            continue
        out[doc.pk] = [{"document_id": doc.pk, **{f: getattr(line, f) for f in fields}} for line in cached]
    if unread:
        for line in DocumentLine.objects.filter(document_id__in=unread).values("document_id", *fields).order_by(
                "document_id", "position", "id"):
            out[line["document_id"]].append(line)
    return out


def documents_preflight(*, documents, lists: PreflightLists | None = None) -> dict[int, list[str]]:
    """{document id: problems (bookkeeper's words, in order; [] when nothing stands in the
    way)}. `lists`: the lists to compare with (an export drain passes the snapshot it keeps,
    covering the documents' organisations); by default they are read now for these documents.
    At most eleven queries however many documents (one more to load a queryset, none for lines
    prefetched with the documents), and with a drain's snapshot none for lists it has read."""
    docs = list(documents)
    if not docs:
        return {}
    lines_by_doc = _lines_by_doc(docs)
    if lists is None:
        lists = PreflightLists(organisation_ids={d.organisation_id for d in docs})

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
    lists.load(codes=codes, tax_types=tax_types, contacts=contacts, currencies=currencies, categories=categories,
               options=options)
    imported, base_currency = lists.imported, lists.base_currency
    accounts, taxes, contact_rows, currency_rows, rates = (lists.accounts, lists.taxes, lists.contacts,
                                                           lists.currencies, lists.rates)
    category_rows, option_rows = lists.categories, lists.options

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
            if code and code != base_currency.get(org, "") and (org, ListName.CURRENCIES) in imported:
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
