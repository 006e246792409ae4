"""Documents pushed by the host system in batches (the API's POST /documents).

Each element is checked by the CSV import's own parser (`services.documents.parse_csv`): the
batch is written as CSV rows — one row for the document, one per line — and every problem the
parser finds is given back to the element (and line) it came from. So the API and the CSV
import accept and refuse exactly the same documents.

Unlike the CSV import, a batch is never all-or-nothing: each element is, by (type, number),

- ``created`` — new here;
- ``updated`` — already here and not yet on its way to Xero (never exported, or failed before
  Xero had it), and different;
- ``unchanged`` — already here with the same contents (a repeated batch creates nothing);
- ``refused`` — with its errors, ``[{"field": "lines[1].unit_amount", "message": …}]``; nothing
  of it is written. A document already sent to Xero (or on its way) is refused, not changed.

A batch costs a constant number of SQL statements whatever its size (bulk writes).
"""
import csv
import io
import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import roles
from ..models import DocumentLine, DocumentType, ExportRecord, ExportState, HostCategory, SourceDocument
from ..roles import Action
from ..selectors.mapping import line_category_kind
from . import documents
from .mapping import categories_register, mapping_suggest
from .documents import COLUMNS, DOC_COLUMNS, _resolve_paid, _total, _TYPE_WORDS  # the import's own rules

log = logging.getLogger("xero.api")

MAX_BATCH = 500
MAX_LINES = 500
# `category`, `tax_code` and `dimension` are the host's own categories (#15), mapped at export.
LINE_FIELDS = ("description", "quantity", "unit_amount", "line_amount", "account_code", "tax_type", "category",
               "tax_code", "dimension", "tracking")
DOCUMENT_FIELDS = ("type", "number") + tuple(DOC_COLUMNS) + ("lines",)
# Longest first so "due_date" wins over "date" and "line_amount_types" over "line_amount".
_FIELD_WORDS = sorted(COLUMNS, key=len, reverse=True)
_FIELD_RE = re.compile(r"(?<![\w])(" + "|".join(re.escape(c) for c in _FIELD_WORDS) + r")(?![\w])", re.IGNORECASE)
# A document may still change here while Xero does not have it and nothing is sending it.
CHANGEABLE = (ExportState.NOT_EXPORTED, ExportState.FAILED)


@dataclass
class ElementResult:
    index: int
    type: str = ""
    number: str = ""
    result: str = "refused"  # created / updated / unchanged / refused
    id: int | None = None
    errors: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"index": self.index, "type": self.type, "number": self.number, "result": self.result,
                "id": self.id, "errors": self.errors}


def _scalar(value) -> str | None:
    """A JSON scalar as the CSV cell the import reads; None when it is not a scalar."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):  # only when a caller bypasses the Decimal JSON parser
        return repr(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON escape: not text
            return None
        return None if "\x00" in value else value
    return None


def _tracking_cell(value, errors: list, where: str) -> str:
    if value in (None, "", []):
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        errors.append({"field": where, "message": "tracking should be a list of {category, option}."})
        return ""
    parts = []
    for i, item in enumerate(value):
        if (not isinstance(item, dict) or set(item) - {"category", "option"}
                or not all(isinstance(item.get(k), str) and item.get(k) for k in ("category", "option"))):
            errors.append({"field": f"{where}[{i}]", "message": "each tracking entry needs a category and an "
                                                              "option (text)."})
            continue
        if any(_scalar(item[k]) is None for k in ("category", "option")):
            errors.append({"field": f"{where}[{i}]", "message": "tracking names must be text."})
            continue
        if any(ch in item[k] for k in ("category", "option") for ch in "=;"):
            errors.append({"field": f"{where}[{i}]", "message": "tracking names cannot contain “=” or “;”."})
            continue
        parts.append(f"{item['category']}={item['option']}")
    return ";".join(parts)


def _rows_of(element, index: int) -> tuple[list[dict], list[dict]]:
    """One element → (CSV rows: the document's, then one per line; shape errors)."""
    errors: list[dict] = []
    if not isinstance(element, dict):
        return [], [{"field": "", "message": "Each document must be a JSON object."}]
    for name in sorted(set(element) - set(DOCUMENT_FIELDS)):
        errors.append({"field": name, "message": f"Unknown field “{name}”. Known fields: "
                                                 f"{', '.join(DOCUMENT_FIELDS)}."})
    head = {}
    for name in ("type", "number") + tuple(DOC_COLUMNS):
        cell = _scalar(element.get(name))
        if cell is None:
            errors.append({"field": name, "message": f"{name} must be text (without NUL characters) or a "
                                                     f"number."})
            cell = ""
        head[name] = cell
    lines = element.get("lines") or []
    if not isinstance(lines, list):
        errors.append({"field": "lines", "message": "lines must be a list."})
        lines = []
    if len(lines) > MAX_LINES:
        errors.append({"field": "lines", "message": f"At most {MAX_LINES} lines per document."})
        lines = []
    rows = [head]
    for i, line in enumerate(lines):
        where = f"lines[{i}]"
        if not isinstance(line, dict):
            errors.append({"field": where, "message": "Each line must be a JSON object."})
            continue
        for name in sorted(set(line) - set(LINE_FIELDS)):
            errors.append({"field": f"{where}.{name}", "message": f"Unknown field “{name}”. Known fields: "
                                                                  f"{', '.join(LINE_FIELDS)}."})
        row = {"type": head["type"], "number": head["number"]}
        for name in LINE_FIELDS[:-1]:
            cell = _scalar(line.get(name))
            if cell is None:
                errors.append({"field": f"{where}.{name}", "message": f"{name} must be text (without NUL "
                                                                      f"characters) or a number."})
                cell = ""
            row[name] = cell
        row["tracking"] = _tracking_cell(line.get("tracking"), errors, f"{where}.tracking")
        if not any(row.get(c) for c in ("description", "quantity", "unit_amount", "line_amount", "account_code",
                                         "category")):
            errors.append({"field": where, "message": "The line is empty."})
            continue
        rows.append(row)
    return rows, errors


def _field_for(message: str, line: int | None) -> str:
    match = _FIELD_RE.search(message)
    name = match.group(1).lower() if match else ""
    if line is None:
        return name
    return f"lines[{line}].{name}" if name else f"lines[{line}]"


def _fingerprint_spec(spec: dict, paid_id) -> tuple:
    f = spec["fields"]
    lines = tuple((line.description, Decimal(line.quantity), Decimal(line.unit_amount),
                   None if line.line_amount is None else Decimal(line.line_amount), line.account_code,
                   line.tax_type, tuple((t["category"], t["option"]) for t in line.tracking), line.category,
                   line.tax_code, line.dimension)
                  for line in spec["lines"])
    return (spec["date"], spec["due_date"], f["contact"], f["reference"], f["currency"].upper(),
            spec["line_amount_types"], f["narration"], paid_id, f["payment_account"], f["payment_method"],
            _total(spec["doc_type"], spec["line_amount_types"], spec["lines"], spec.get("amount")), lines)


def _fingerprint_doc(doc: SourceDocument) -> tuple:
    lines = tuple((line.description, line.quantity, line.unit_amount, line.line_amount, line.account_code,
                   line.tax_type, tuple((t.get("category"), t.get("option")) for t in line.tracking or []),
                   line.category, line.tax_code, line.dimension)
                  for line in doc.lines.all())
    return (doc.date, doc.due_date, doc.contact_name, doc.reference, doc.currency_code, doc.line_amount_types,
            doc.narration, doc.paid_document_id, doc.payment_account_code, doc.payment_method, doc.total, lines)


def _apply(doc: SourceDocument, spec: dict, paid) -> list[DocumentLine]:
    f = spec["fields"]
    doc.date, doc.due_date = spec["date"], spec["due_date"]
    doc.contact_name, doc.reference, doc.currency_code = f["contact"], f["reference"], f["currency"].upper()
    doc.line_amount_types, doc.narration = spec["line_amount_types"], f["narration"]
    doc.paid_document, doc.payment_account_code = paid, f["payment_account"]
    doc.payment_method = f["payment_method"]
    doc.total = _total(spec["doc_type"], spec["line_amount_types"], spec["lines"], spec.get("amount"))
    doc.updated_at = timezone.now()  # bulk_update does not touch auto_now fields
    return [DocumentLine(document=doc, position=i, description=line.description, quantity=line.quantity,
                         unit_amount=line.unit_amount, line_amount=line.line_amount, account_code=line.account_code,
                         tax_type=line.tax_type, tracking=line.tracking, category=line.category,
                         tax_code=line.tax_code, dimension=line.dimension) for i, line in enumerate(spec["lines"])]


_UPDATED_FIELDS = ["date", "due_date", "contact_name", "reference", "currency_code", "line_amount_types", "narration",
                   "paid_document", "payment_account_code", "payment_method", "total", "updated_at"]


def _parse(*, organisation, elements: list, results: list[ElementResult]) -> list[tuple[int, dict]]:
    """Check every element with the import's parser; returns [(element index, spec)] of the
    elements without problems, and fills the others' errors."""
    seen: dict[tuple, int] = {}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    row_owner: dict[int, tuple[int, int | None]] = {}  # CSV row → (element, line)
    next_row = 2
    for index, element in enumerate(elements):
        result = results[index]
        rows, shape_errors = _rows_of(element, index)
        result.errors.extend(shape_errors)
        if rows:
            result.type = rows[0]["type"]
            result.number = rows[0]["number"]
            doc_type = _TYPE_WORDS.get(result.type.lower().replace(" ", "_"))
            if doc_type:
                result.type = doc_type
                first = seen.setdefault((doc_type, result.number), index)
                if first != index:
                    result.errors.append({"field": "number", "message": f"{result.number} appears twice in this "
                                                                        f"batch (first at index {first})."})
        if result.errors or not rows:
            continue
        for line, row in enumerate(rows, start=-1):
            writer.writerow(row)
            row_owner[next_row] = (index, None if line < 0 else line)
            next_row += 1
    specs, errors = documents.parse_csv(organisation=organisation, text=buffer.getvalue(), refuse_existing=False)
    for error in errors:
        index, line = row_owner.get(error.row, (None, None))
        if index is not None:
            results[index].errors.append({"field": _field_for(error.message, line), "message": error.message})
    accepted = [(row_owner[s["row"]][0], s) for s in specs if not results[row_owner[s["row"]][0]].errors]
    paid_errors: list = []
    _resolve_paid(organisation, [s for _, s in accepted], paid_errors)
    for error in paid_errors:
        results[row_owner[error.row][0]].errors.append({"field": "paid_number", "message": error.message})
    return [(i, s) for i, s in accepted if not results[i].errors]


def _write(*, organisation, accepted: list[tuple[int, dict]], results: list[ElementResult]) -> int:
    """Write the accepted elements; returns how many host categories they named for the first time."""
    keys = {(s["doc_type"], s["number"]) for _, s in accepted}
    paid_numbers = {s["paid_key"][1] for _, s in accepted if s.get("paid_key")}
    existing = {(d.doc_type, d.number): d for d in SourceDocument.objects.filter(
        organisation=organisation, number__in={k[1] for k in keys} | paid_numbers,
    ).select_related("export_record").prefetch_related("lines")}
    new_docs, new_payments, updated, new_lines, old_line_docs = [], [], [], [], []
    pending_paid: list[tuple[SourceDocument, tuple]] = []
    for index, spec in sorted(accepted, key=lambda item: item[1]["doc_type"] == DocumentType.PAYMENT):
        key = (spec["doc_type"], spec["number"])
        result = results[index]
        doc = existing.get(key)
        paid_key = spec.get("paid_key")
        paid = existing.get(paid_key) if paid_key else None
        if doc is None:
            doc = SourceDocument(organisation=organisation, doc_type=spec["doc_type"], number=spec["number"])
            lines = _apply(doc, spec, paid)
            (new_payments if spec["doc_type"] == DocumentType.PAYMENT else new_docs).append(doc)
            if paid_key and paid is None:
                pending_paid.append((doc, paid_key))
            new_lines.extend(lines)
            existing[key] = doc
            result.result = "created"
            result._doc = doc
            continue
        result.id = doc.pk
        paid_id = paid.pk if paid is not None else None
        if _fingerprint_spec(spec, paid_id) == _fingerprint_doc(doc):
            result.result = "unchanged"
            continue
        record = getattr(doc, "export_record", None)
        if record is not None and (record.state not in CHANGEABLE or record.xero_id or record.in_doubt):
            result.errors.append({"field": "", "message": (
                f"{doc} is already {record.get_state_display().lower()} for Xero, so it can no longer be changed "
                f"here; send it with another number, or change it in Xero.")})
            continue
        new_lines.extend(_apply(doc, spec, paid))
        updated.append(doc)
        old_line_docs.append(doc.pk)
        result.result = "updated"
    SourceDocument.objects.bulk_create(new_docs)
    for doc, paid_key in pending_paid:
        doc.paid_document = existing[paid_key]
    SourceDocument.objects.bulk_create(new_payments)
    if updated:
        SourceDocument.objects.bulk_update(updated, _UPDATED_FIELDS)
        DocumentLine.objects.filter(document_id__in=old_line_docs).delete()
        ExportRecord.objects.bulk_update(
            [ExportRecord(pk=d.export_record.pk, doc_date=d.date) for d in updated if hasattr(d, "export_record")],
            ["doc_date"])
    for line in new_lines:
        line.document_id = line.document.pk
    DocumentLine.objects.bulk_create(new_lines)
    new_categories = _register_categories(organisation, new_docs + new_payments + updated, new_lines)
    ExportRecord.objects.bulk_create(
        [ExportRecord(organisation=organisation, document=d, doc_type=d.doc_type, doc_date=d.date)
         for d in new_docs + new_payments], ignore_conflicts=True)
    for result in results:
        doc = getattr(result, "_doc", None)
        if doc is not None:
            result.id = doc.pk
            del result._doc
    return new_categories


def _register_categories(organisation, docs, lines) -> int:
    """The host categories the written documents name (#15), registered in one go; how many were new."""
    Kind = HostCategory.Kind
    found = {(Kind.PAYMENT_METHOD, d.payment_method) for d in docs}
    doc_type_of = {d.pk: d.doc_type for d in docs}  # (line.document would be loaded again, line by line)
    for line in lines:
        found |= {(line_category_kind(doc_type_of.get(line.document_id)), line.category),
                  (Kind.TAX_CODE, line.tax_code), (Kind.DIMENSION, line.dimension)}
    return categories_register(organisation=organisation, found={(k, c) for k, c in found if k and c})


def documents_upsert(*, organisation, actor, elements: list) -> list[ElementResult]:
    """Create, update or leave each of up to MAX_BATCH documents; one result per element,
    in the order given. Raises ValueError for a batch that is not a list or too long;
    AdminRequired (a PermissionDenied) first unless the actor may IMPORT_DOCUMENTS
    (roles.require_actor: the host API's key of the organisation, an Admin, or the app itself)."""
    roles.require_actor(actor=actor, organisation=organisation, action=Action.IMPORT_DOCUMENTS)
    if not isinstance(elements, list):
        raise ValueError("documents must be a list.")
    if len(elements) > MAX_BATCH:
        raise ValueError(f"At most {MAX_BATCH} documents per request; this one has {len(elements)}.")
    for attempt in range(3):  # a concurrent batch may create the same number between our read and write
        results = [ElementResult(index=i) for i in range(len(elements))]
        accepted = _parse(organisation=organisation, elements=elements, results=results)
        try:
            with transaction.atomic():
                new_categories = _write(organisation=organisation, accepted=accepted, results=results)
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        break
    if new_categories:

        mapping_suggest(organisation=organisation)  # for the categories the batch named first
    for r in results:
        if r.errors:
            r.result, r.id = "refused", None
    counts = {k: sum(1 for r in results if r.result == k) for k in ("created", "updated", "unchanged", "refused")}
    log.info("xero.api.documents.upserted organisation=%s actor=%s %s", organisation.pk,
             getattr(actor, "get_full_name", lambda: "")(), " ".join(f"{k}={v}" for k, v in counts.items()))
    return results
