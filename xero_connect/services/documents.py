"""Source documents: created one by one (admin, seed, tests) or imported from a CSV file.

CSV import — one row per document *line*; rows with the same type and number are one
document, and must agree on the document's own columns. All or nothing: when any row has a
problem, nothing is imported and every problem is reported with its row number.

Columns (header row required; names are case-insensitive, unknown columns are refused):

| column | for | notes |
| --- | --- | --- |
| type | all | sales_invoice, bill, sales_credit_note, purchase_credit_note, payment, manual_journal |
| number | all | unique per type in the organisation |
| date | all | YYYY-MM-DD |
| due_date | invoices, bills | optional |
| contact | invoices, bills, credit notes | the contact's name in Xero |
| reference | optional | |
| currency | optional | 3 letters; empty = the organisation's base currency |
| line_amount_types | optional | Exclusive (default), Inclusive, NoTax |
| description | lines | |
| quantity, unit_amount | lines of invoices, bills, credit notes | numbers, at most 4 decimal places |
| line_amount | lines of manual journals | debit positive, credit negative, 2 places; must balance |
| account_code | lines | the Xero account code — or, instead, `category` |
| category | lines of invoices, bills, credit notes | your own sales or purchase category (mapped to a Xero account on the Account mapping page) |
| tax_code | lines | optional: your own tax code (mapped to a Xero tax rate), instead of tax_type |
| dimension | lines | optional: your own dimension (mapped to a Xero tracking option), beside tracking |
| tax_type | lines | optional |
| tracking | lines | optional, `Category=Option;Category2=Option2` |
| narration | manual journals | required for journals |
| paid_number | payments | number of the invoice or bill it pays (in the system or earlier in the file) |
| paid_type | payments | optional: sales_invoice or bill, when the number is ambiguous |
| payment_account | payments | code of the bank account the money went through — or, instead, `payment_method` |
| payment_method | payments | your own payment method (mapped to a Xero account that accepts payments) |
| amount | payments | more than zero, 2 decimal places |

Every value goes through `xero_connect.parsing` (the one strict parser): numbers with a point
for decimals and no thousands separators, precision enforced (never rounded), sizes bounded by
the columns, dates as YYYY-MM-DD, text no longer than Xero takes. Sign rules: an invoice, bill
or credit note must not total less than zero ("a negative invoice is a credit note").
"""
import csv
import io
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction

from .. import parsing, roles
from ..models import DocumentLine, DocumentType, ExportRecord, HostCategory, SourceDocument
from ..selectors.mapping import line_category_kind
from .exports.ledger import ledger_sync
from .mapping import categories_register, mapping_suggest

COLUMNS = ["type", "number", "date", "due_date", "contact", "reference", "currency", "line_amount_types",
           "description", "quantity", "unit_amount", "line_amount", "account_code", "tax_type", "tracking",
           "narration", "paid_number", "paid_type", "payment_account", "amount", "category", "tax_code",
           "payment_method", "dimension"]
REQUIRED = {"type", "number", "date"}
DOC_COLUMNS = ["date", "due_date", "contact", "reference", "currency", "line_amount_types", "narration",
               "paid_number", "paid_type", "payment_account", "amount", "payment_method"]
LINE_AMOUNT_TYPES = {"exclusive": "Exclusive", "inclusive": "Inclusive", "notax": "NoTax"}
_TYPE_WORDS = {t.value: t.value for t in DocumentType}
_TYPE_WORDS.update({t.label.lower().rstrip("s"): t.value for t in DocumentType})
_TYPE_WORDS.update({"invoice": DocumentType.SALES_INVOICE, "purchase_bill": DocumentType.BILL,
                    "journal": DocumentType.MANUAL_JOURNAL, "credit_note": DocumentType.SALES_CREDIT_NOTE})
MAX_ROWS = 50_000


@dataclass
class RowError:
    row: int  # 1-based line number in the file (the header is row 1)
    message: str

    def __str__(self):
        return f"Row {self.row}: {self.message}"


@dataclass
class ImportResult:
    created: int = 0
    lines: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportRefused(Exception):
    def __init__(self, errors):
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


@dataclass
class LineSpec:
    description: str = ""
    quantity: Decimal = Decimal(1)
    unit_amount: Decimal = Decimal(0)
    line_amount: Decimal | None = None
    account_code: str = ""
    tax_type: str = ""
    tracking: list = field(default_factory=list)
    category: str = ""
    tax_code: str = ""
    dimension: str = ""


def _total(doc_type: str, line_amount_types: str, lines: list[LineSpec], amount=None) -> Decimal:
    if doc_type == DocumentType.PAYMENT:
        return Decimal(amount or 0)
    if doc_type == DocumentType.MANUAL_JOURNAL:
        return sum((line.line_amount for line in lines if line.line_amount and line.line_amount > 0), Decimal(0))
    return sum((Decimal(line.quantity) * Decimal(line.unit_amount) for line in lines), Decimal(0)).quantize(
        Decimal("0.01"))


def document_create(*, organisation, doc_type: str, number: str, date: date, lines: list[LineSpec] = (),
                    contact_name: str = "", reference: str = "", currency_code: str = "", due_date=None,
                    line_amount_types: str = "Exclusive", narration: str = "", paid_document=None,
                    payment_account_code: str = "", amount=None, sync_ledger: bool = True,
                    payment_method: str = "") -> SourceDocument:
    """One document with its lines (and its ledger record). Host categories named on it (lines'
    category / tax_code / dimension, a payment's payment_method) are registered for the
    Account mapping page."""
    doc = SourceDocument.objects.create(
        organisation=organisation, doc_type=doc_type, number=number, date=date, due_date=due_date,
        contact_name=contact_name, reference=reference, currency_code=currency_code,
        line_amount_types=line_amount_types, narration=narration, paid_document=paid_document,
        payment_account_code=payment_account_code, payment_method=payment_method, total=_total(doc_type, line_amount_types, list(lines), amount))
    DocumentLine.objects.bulk_create([
        DocumentLine(document=doc, position=i, description=line.description, quantity=line.quantity,
                     unit_amount=line.unit_amount, line_amount=line.line_amount, account_code=line.account_code,
                     tax_type=line.tax_type, tracking=line.tracking, category=line.category, tax_code=line.tax_code,
                     dimension=line.dimension) for i, line in enumerate(lines)])
    _register_categories(organisation, doc, lines)
    if sync_ledger:
        ExportRecord.objects.get_or_create(document=doc, defaults={
            "organisation": organisation, "doc_type": doc_type, "doc_date": date})
    return doc


# --- CSV ---------------------------------------------------------------------------------------

def _decimal(value, label, errors, row, *, rule: parsing.NumberRule, required=False):
    try:
        number = parsing.parse_number(value, column=label, rule=rule)
    except parsing.ValueRefused as exc:
        errors.append(RowError(row, str(exc)))
        return None
    if number is None and required:
        errors.append(RowError(row, f"{label} is required."))
    return number


def _date(value, label, errors, row, *, required=False):
    try:
        parsed = parsing.parse_date(value, column=label)
    except parsing.ValueRefused as exc:
        errors.append(RowError(row, str(exc)))
        return None
    if parsed is None and required:
        errors.append(RowError(row, f"{label} is required ({parsing.DATE_FORMS})."))
    return parsed


_INVOICE_TYPES = (DocumentType.SALES_INVOICE, DocumentType.BILL)
_CREDIT_TYPES = (DocumentType.SALES_CREDIT_NOTE, DocumentType.PURCHASE_CREDIT_NOTE)


def _sign_and_size(doc_type: str, number: str, lines: list[LineSpec], errors, row) -> None:
    """A document's total must fit its column, and invoices and credit notes must not be
    negative: Xero has credit notes for that (and refuses a negative invoice)."""
    if doc_type not in _INVOICE_TYPES + _CREDIT_TYPES:
        return
    total = sum((line.quantity * line.unit_amount for line in lines), Decimal(0))
    if abs(total) >= parsing.TOTAL_LIMIT:
        errors.append(RowError(row, f"{number} totals {total:,}, more than a document can hold (less than "
                                    f"{parsing.TOTAL_LIMIT:,})."))
    elif total < 0 and doc_type in _INVOICE_TYPES:
        errors.append(RowError(row, f"{number} totals {total}: a negative invoice is a credit note. Import it as "
                                    f"a {'sales_credit_note' if doc_type == DocumentType.SALES_INVOICE else 'purchase_credit_note'} "
                                    f"with positive amounts."))
    elif total < 0:
        errors.append(RowError(row, f"{number} totals {total}: a negative credit note is an invoice. Import it as "
                                    f"a {'sales_invoice' if doc_type == DocumentType.SALES_CREDIT_NOTE else 'bill'} "
                                    f"with positive amounts."))


def _tracking(value, errors, row):
    out = []
    for part in (value or "").split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            errors.append(RowError(row, f"Tracking “{part}” should look like Category=Option."))
            continue
        cat, opt = (p.strip() for p in part.split("=", 1))
        try:
            cat = parsing.parse_text(cat, column="tracking_category")
            opt = parsing.parse_text(opt, column="tracking_option")
        except parsing.ValueRefused as exc:
            errors.append(RowError(row, str(exc)))
            continue
        out.append({"category": cat, "option": opt})
    return out


_TEXT_COLUMNS = ("number", "contact", "reference", "description", "narration", "account_code", "payment_account",
                 "tax_type", "category", "tax_code", "payment_method", "dimension")


def _text_problems(row: dict) -> list[parsing.ValueRefused]:
    problems = []
    for column in _TEXT_COLUMNS:
        try:
            parsing.parse_text(row.get(column, ""), column=column)
        except parsing.ValueRefused as exc:
            problems.append(exc)
    return problems


def parse_csv(*, organisation, text: str, refuse_existing: bool = True) -> tuple[list[dict], list[RowError]]:
    """Rows → document specs, checking everything that can be checked before writing.
    `refuse_existing=False` (the API, which updates documents) leaves documents already in
    the system to the caller."""
    errors: list[RowError] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        return [], [RowError(1, "The file is empty: the first row must name the columns.")]
    header = [(h or "").strip().lower() for h in reader.fieldnames]
    unknown = [h for h in header if h not in COLUMNS]
    missing = REQUIRED - set(header)
    if unknown:
        errors.append(RowError(1, f"Unknown column(s): {', '.join(unknown)}. Known columns: {', '.join(COLUMNS)}."))
    if missing:
        errors.append(RowError(1, f"Missing column(s): {', '.join(sorted(missing))}."))
    if errors:
        return [], errors
    docs: "OrderedDict[tuple, dict]" = OrderedDict()
    for index, raw in enumerate(reader, start=2):
        if index > MAX_ROWS + 1:
            errors.append(RowError(index, f"Too many rows: import at most {MAX_ROWS} lines per file."))
            break
        row = {h: (raw.get(orig) or "").strip() for h, orig in zip(header, reader.fieldnames)}
        if not any(row.values()):
            continue
        doc_type = _TYPE_WORDS.get(row["type"].lower().replace(" ", "_")) if row.get("type") else None
        if not doc_type:
            errors.append(RowError(index, f"Type “{row.get('type', '')}” is not one of: "
                                          f"{', '.join(t.value for t in DocumentType)}."))
            continue
        number = row.get("number", "")
        if not number:
            errors.append(RowError(index, "Number is required."))
            continue
        bad_text = [RowError(index, str(exc)) for exc in _text_problems(row)]
        if bad_text:
            errors.extend(bad_text)
            continue
        key = (doc_type, number)
        doc_fields = {c: row.get(c, "") for c in DOC_COLUMNS}
        spec = docs.get(key)
        if spec is None:
            spec = docs[key] = {"row": index, "doc_type": doc_type, "number": number, "fields": doc_fields,
                                "lines": []}
        else:
            for c in DOC_COLUMNS:
                if doc_fields[c] and spec["fields"][c] and doc_fields[c] != spec["fields"][c]:
                    errors.append(RowError(index, f"{c} “{doc_fields[c]}” differs from row {spec['row']} "
                                                  f"(“{spec['fields'][c]}”) of the same document {number}."))
                elif doc_fields[c] and not spec["fields"][c]:
                    spec["fields"][c] = doc_fields[c]
        if doc_type == DocumentType.PAYMENT:
            continue
        has_line = any(row.get(c) for c in ("description", "quantity", "unit_amount", "line_amount", "account_code",
                                            "category"))
        if not has_line:
            continue
        line = LineSpec(description=row.get("description", ""), account_code=row.get("account_code", ""),
                        tax_type=row.get("tax_type", ""), tracking=_tracking(row.get("tracking"), errors, index),
                        category=row.get("category", ""), tax_code=row.get("tax_code", ""),
                        dimension=row.get("dimension", ""))
        if line.category and line.account_code:
            errors.append(RowError(index, "Give account_code or category on a line, not both."))
        if line.tax_code and line.tax_type:
            errors.append(RowError(index, "Give tax_type or tax_code on a line, not both."))
        if line.category and doc_type == DocumentType.MANUAL_JOURNAL:
            errors.append(RowError(index, "Manual journals name Xero account codes (account_code), not categories."))
        if doc_type == DocumentType.MANUAL_JOURNAL:
            line.line_amount = _decimal(row.get("line_amount"), "line_amount", errors, index,
                                        rule=parsing.LINE_AMOUNT, required=True)
        else:
            qty = _decimal(row.get("quantity"), "quantity", errors, index, rule=parsing.QUANTITY)
            line.quantity = qty if qty is not None else Decimal(1)
            unit = _decimal(row.get("unit_amount"), "unit_amount", errors, index, rule=parsing.UNIT_AMOUNT,
                            required=True)
            line.unit_amount = unit if unit is not None else Decimal(0)
        if not line.account_code and not line.category:
            errors.append(RowError(index, "account_code (or category) is required on each line."))
        spec["lines"].append(line)

    existing = set(SourceDocument.objects.filter(
        organisation=organisation, number__in={k[1] for k in docs}).values_list("doc_type", "number"))
    for (doc_type, number), spec in docs.items():
        row, f = spec["row"], spec["fields"]
        if refuse_existing and (doc_type, number) in existing:
            errors.append(RowError(row, f"{DocumentType(doc_type).label[:-1]} {number} already exists."))
        spec["date"] = _date(f["date"], "date", errors, row, required=True)
        spec["due_date"] = _date(f["due_date"], "due_date", errors, row)
        lat = f["line_amount_types"].lower() or ("notax" if doc_type == DocumentType.MANUAL_JOURNAL else "exclusive")
        if lat not in LINE_AMOUNT_TYPES:
            errors.append(RowError(row, f"line_amount_types “{f['line_amount_types']}” is not Exclusive, Inclusive "
                                        f"or NoTax."))
        spec["line_amount_types"] = LINE_AMOUNT_TYPES.get(lat, "Exclusive")
        if f["currency"] and len(f["currency"]) != 3:
            errors.append(RowError(row, f"currency “{f['currency']}” should be a 3-letter code like NZD."))
        if doc_type in (DocumentType.SALES_INVOICE, DocumentType.BILL, DocumentType.SALES_CREDIT_NOTE,
                        DocumentType.PURCHASE_CREDIT_NOTE):
            if not f["contact"]:
                errors.append(RowError(row, f"contact is required for {number}."))
            if not spec["lines"]:
                errors.append(RowError(row, f"{number} has no lines (description, quantity, unit_amount, "
                                            f"account_code)."))
            _sign_and_size(doc_type, number, spec["lines"], errors, row)
        elif doc_type == DocumentType.MANUAL_JOURNAL:
            if not f["narration"]:
                errors.append(RowError(row, f"narration is required for the manual journal {number}."))
            if len(spec["lines"]) < 2:
                errors.append(RowError(row, f"The manual journal {number} needs at least two lines."))
            balance = sum((line.line_amount or 0 for line in spec["lines"]), Decimal(0))
            if balance != 0:
                errors.append(RowError(row, f"The manual journal {number} does not balance (debits and credits "
                                            f"differ by {balance})."))
        elif doc_type == DocumentType.PAYMENT:
            spec["amount"] = _decimal(f["amount"], "amount", errors, row, rule=parsing.PAYMENT_AMOUNT, required=True)
            if spec["amount"] is not None and spec["amount"] <= 0:
                errors.append(RowError(row, "amount must be more than zero."))
            if not f["payment_account"] and not f["payment_method"]:
                errors.append(RowError(row, "payment_account (the bank account code) or payment_method is required "
                                            "for a payment."))
            elif f["payment_account"] and f["payment_method"]:
                errors.append(RowError(row, "Give payment_account or payment_method on a payment, not both."))
            if not f["paid_number"]:
                errors.append(RowError(row, "paid_number (the invoice or bill it pays) is required for a payment."))
    return list(docs.values()), errors


def _resolve_paid(organisation, specs, errors):
    """A payment's invoice/bill: from the file (earlier or later rows) or already in the system."""
    in_file = {(s["doc_type"], s["number"]) for s in specs}
    wanted = {s["fields"]["paid_number"] for s in specs if s["doc_type"] == DocumentType.PAYMENT}
    existing = {}
    for doc in SourceDocument.objects.filter(organisation=organisation, number__in=wanted,
                                             doc_type__in=[DocumentType.SALES_INVOICE, DocumentType.BILL]):
        existing[(doc.doc_type, doc.number)] = doc
    for s in specs:
        if s["doc_type"] != DocumentType.PAYMENT:
            continue
        number, paid_type = s["fields"]["paid_number"], s["fields"]["paid_type"]
        if not number:
            continue
        options = [t for t in (DocumentType.SALES_INVOICE, DocumentType.BILL)
                   if (t, number) in in_file or (t, number) in existing]
        if paid_type:
            paid_type = _TYPE_WORDS.get(paid_type.lower().replace(" ", "_"))
            options = [t for t in options if t == paid_type]
        if not options:
            errors.append(RowError(s["row"], f"The invoice or bill {number} that payment {s['number']} pays is not "
                                             f"in the system or the file."))
        elif len(options) > 1:
            errors.append(RowError(s["row"], f"Both a sales invoice and a bill are numbered {number}: say which in "
                                             f"paid_type."))
        else:
            s["paid_key"] = (options[0], number)
    return existing


def documents_import_csv(*, organisation, actor, text: str) -> ImportResult:
    """Import a CSV file: everything, or nothing with the list of problems by row."""
    roles.require_actor(actor=actor, organisation=organisation, action=roles.Action.IMPORT_DOCUMENTS)
    specs, errors = parse_csv(organisation=organisation, text=text)
    existing = _resolve_paid(organisation, specs, errors)
    if errors:
        return ImportResult(errors=sorted(errors, key=lambda e: e.row))
    result = ImportResult()
    with transaction.atomic():
        made = dict(existing)
        # Invoices and bills first, so payments in the same file can point at them.
        for spec in sorted(specs, key=lambda s: s["doc_type"] == DocumentType.PAYMENT):
            f = spec["fields"]
            doc = document_create(
                organisation=organisation, doc_type=spec["doc_type"], number=spec["number"], date=spec["date"],
                due_date=spec["due_date"], contact_name=f["contact"], reference=f["reference"],
                currency_code=f["currency"].upper(), line_amount_types=spec["line_amount_types"],
                narration=f["narration"], lines=spec["lines"], paid_document=made.get(spec.get("paid_key")),
                payment_account_code=f["payment_account"], amount=spec.get("amount"), sync_ledger=False,
                payment_method=f["payment_method"])
            made[(doc.doc_type, doc.number)] = doc
            result.created += 1
            result.lines += len(spec["lines"])
        ledger_sync(organisation=organisation)
    mapping_suggest(organisation=organisation)
    return result


def _register_categories(organisation, doc, lines) -> None:
    """The host categories `doc` names (its `lines` are LineSpecs), registered (#15)."""
    kind = line_category_kind(doc.doc_type)
    found = {(HostCategory.Kind.PAYMENT_METHOD, doc.payment_method)}
    for line in lines:
        found |= {(kind, line.category), (HostCategory.Kind.TAX_CODE, line.tax_code),
                  (HostCategory.Kind.DIMENSION, line.dimension)}
    found = {(k, c) for k, c in found if k and c}
    if found:
        categories_register(organisation=organisation, found=found)
