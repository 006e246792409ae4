"""Creating and updating documents and contacts, with Xero's validation.

Each writer takes one submitted element and either returns the saved row or raises
ElementInvalid with every message that applies (Xero reports them all at once). The batch
runner in accounting.py wraps each element in a savepoint, so a failed element leaves
nothing behind (not even a contact it would have created by name).
"""
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from .formats import contact_name_key, decimal, money, num, parse_date, places
from .models import Account, Contact, Currency, Document, SandboxApp, SandboxOrganisation, TaxRate, TrackingCategory

SALES_TYPES = {"ACCREC", "ACCRECCREDIT"}
INVOICE_TYPES = {"ACCREC", "ACCPAY"}
CREDIT_NOTE_TYPES = {"ACCRECCREDIT", "ACCPAYCREDIT"}
LINE_AMOUNT_TYPES = {"Exclusive", "Inclusive", "NoTax"}
CREATE_STATUSES = {"DRAFT", "SUBMITTED", "AUTHORISED"}
MAX_NUMBER = Decimal(10) ** 14  # amounts and quantities beyond this are refused (a money column holds 18 digits)


class ElementInvalid(Exception):
    def __init__(self, messages):
        super().__init__("; ".join(messages))
        self.messages = list(messages)


@dataclass
class Context:
    """What every element of one batch validates against (loaded once per call)."""

    org: SandboxOrganisation
    app: SandboxApp | None
    unit_dp: int = 2  # decimals UnitAmount keeps: 4 only with ?unitdp=4 ("Rounding in Xero")
    accounts: dict = field(default_factory=dict)
    accounts_by_id: dict = field(default_factory=dict)
    tax_rates: dict = field(default_factory=dict)
    currencies: set = field(default_factory=set)
    tracking: dict = field(default_factory=dict)

    @classmethod
    def load(cls, org, app=None, *, unit_dp=2):
        ctx = cls(org=org, app=app, unit_dp=unit_dp)
        for account in Account.objects.filter(organisation=org):
            if account.code:
                ctx.accounts[account.code.upper()] = account
            ctx.accounts_by_id[str(account.account_id)] = account
        ctx.tax_rates = {t.tax_type.upper(): t for t in TaxRate.objects.filter(organisation=org)}
        ctx.currencies = set(Currency.objects.filter(organisation=org).values_list("code", flat=True))
        for category in TrackingCategory.objects.filter(organisation=org).prefetch_related("options"):
            ctx.tracking[category.name.lower()] = (category, {o.name.lower(): o for o in category.options.all()})
        return ctx


# --- messages (Xero's words where known; see docs/sandbox.md) ---------------------------

def msg_account_invalid(code):
    return f"Account code '{code}' is not a valid code for this document."


def msg_account_archived(code):
    return f"Account code '{code}' has been archived, or has been deleted. Each line item must reference a valid account."


def msg_tax_type(tax_type):
    return f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."


def msg_currency(code):
    return f"Organisation is not subscribed to currency {code}"


def msg_lock_date(lock: date):
    return f"The document date cannot be before the period lock date of {lock:%d %b %Y}."


MSG_CONTACT_REQUIRED = "A Contact must be specified for this type of transaction"
MSG_DUPLICATE_INVOICE = "Invoice # must be unique."
MSG_NOT_EDITABLE = "This document cannot be edited as it has a payment or credit note allocated to it."
MSG_STATUS = "Invoice not of valid status for modification"
MSG_NARRATION = "The Narration field is mandatory."
# waynerobinson/xeroizer#290 (Xero's answer quoted), #395 (required only when AUTHORISED); XeroAPI/xero-python#78.
MSG_DUE_DATE = "The document DueDate field must be specified."


def msg_contact_name_taken(name):
    return (f"The contact name {name} is already assigned to another contact. "
            "The contact name must be unique across all active contacts.")


def active_contact_named(org, name, *, exclude_pk=None):
    """The ACTIVE contact whose name matches `name` as Xero matches names (case, surrounding and
    repeated whitespace ignored; see formats.contact_name_key), or None. Same on every database."""
    qs = Contact.objects.filter(organisation=org, name_key=contact_name_key(name), status="ACTIVE")
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("id").first()


# --- shared pieces -------------------------------------------------------------------


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        return None


def _date(value, errors, label="Date", default=None):
    if value in (None, ""):
        return default
    try:
        return parse_date(value)
    except ValueError:
        errors.append(f"The {label} is not a valid date.")
        return default


def _check_lock(ctx, when, errors):
    lock = ctx.org.period_lock_date
    if lock and when and when <= lock:
        errors.append(msg_lock_date(lock))


def _currency(ctx, el, errors):
    code = (el.get("CurrencyCode") or ctx.org.base_currency).upper()
    if code not in ctx.currencies:
        errors.append(msg_currency(code))
    return code


def _contact(ctx, raw, errors, *, sales):
    if not isinstance(raw, dict) or not (raw.get("ContactID") or (raw.get("Name") or "").strip()):
        errors.append(MSG_CONTACT_REQUIRED)
        return None
    if raw.get("ContactID"):
        contact_id = _uuid(raw["ContactID"])
        found = contact_id and Contact.objects.filter(organisation=ctx.org, contact_id=contact_id).first()
        if not found:
            errors.append(f"The contact with ContactID '{raw['ContactID']}' could not be found.")
            return None
        return found
    name = " ".join(raw["Name"].split())
    found = active_contact_named(ctx.org, name)
    if found:
        return found
    # Xero creates a contact named on a document when no active contact has that name.
    return Contact.objects.create(
        organisation=ctx.org, name=name, email=raw.get("EmailAddress") or "", first_name=raw.get("FirstName") or "",
        last_name=raw.get("LastName") or "", is_customer=bool(sales), is_supplier=sales is False,
        updated_at=timezone.now(),
    )


def _mark_contact_role(contact, *, sales):
    if contact is None:
        return
    flag = "is_customer" if sales else "is_supplier"
    if not getattr(contact, flag):
        Contact.objects.filter(pk=contact.pk).update(**{flag: True, "updated_at": timezone.now()})


def _account(ctx, raw_line, errors, *, allow_bank):
    code = raw_line.get("AccountCode")
    account = None
    if code not in (None, ""):
        account = ctx.accounts.get(str(code).upper())
        label = code
    elif raw_line.get("AccountID"):
        account = ctx.accounts_by_id.get(str(raw_line["AccountID"]).lower())
        label = raw_line["AccountID"]
    else:
        return None
    if account is None or account.status == "DELETED" or (account.type == "BANK" and not allow_bank) or (
            account.system_account and (not allow_bank or account.system_account in {"DEBTORS", "CREDITORS"})):
        errors.append(msg_account_invalid(label))
        return None
    if account.status != "ACTIVE":
        errors.append(msg_account_archived(account.code))
        return None
    return account


def _tax(ctx, tax_type, errors, *, sales):
    rate = ctx.tax_rates.get(str(tax_type).upper())
    usable = rate is not None and rate.status == "ACTIVE" and (
        sales is None or (rate.for_revenue if sales else rate.for_expenses))
    if not usable:
        errors.append(msg_tax_type(tax_type))
        return None
    return rate


def _tracking(ctx, raw, errors):
    out = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        name = (item.get("Name") or "").strip()
        option_name = (item.get("Option") or "").strip()
        found = ctx.tracking.get(name.lower())
        if found is None and item.get("TrackingCategoryID"):
            found = next((v for v in ctx.tracking.values()
                          if str(v[0].tracking_category_id) == str(item["TrackingCategoryID"]).lower()), None)
        if found is None or found[0].status != "ACTIVE":
            errors.append(f"The tracking category '{name or item.get('TrackingCategoryID')}' does not exist or has been archived.")
            continue
        category, options = found
        option = options.get(option_name.lower())
        if option is None or option.status != "ACTIVE":
            errors.append(f"The tracking option '{option_name}' does not exist for tracking category '{category.name}'.")
            continue
        out.append({"TrackingCategoryID": str(category.tracking_category_id), "TrackingOptionID": str(option.tracking_option_id),
                    "Name": category.name, "Option": option.name})
    return out


def _number(value, errors, label):
    try:
        number = decimal(value)
    except ValueError:
        errors.append(f"{label} must be a number.")
        return None
    if number is not None and (not number.is_finite() or abs(number) >= MAX_NUMBER):
        errors.append(f"{label} is out of range.")
        return None
    return number


def _line_items(ctx, raw_lines, errors, *, sales, line_amount_types):
    """Validate lines and compute Xero's amounts. Returns (lines, subtotal, tax, total)."""
    lines, subtotal, total_tax = [], Decimal(0), Decimal(0)
    if raw_lines is not None and not isinstance(raw_lines, list):
        errors.append("LineItems must be a list.")
        return [], Decimal(0), Decimal(0), Decimal(0)
    for raw in raw_lines or []:
        if not isinstance(raw, dict):
            errors.append("Each line item must be an object.")
            continue
        quantity = _number(raw.get("Quantity"), errors, "Quantity")
        unit = _number(raw.get("UnitAmount"), errors, "UnitAmount")
        discount = _number(raw.get("DiscountRate"), errors, "DiscountRate")
        given_amount = _number(raw.get("LineAmount"), errors, "LineAmount")
        account = _account(ctx, raw, errors, allow_bank=False)
        tax_type = raw.get("TaxType") or (account.tax_type if account else "") or ""
        if line_amount_types == "NoTax":
            tax_type = raw.get("TaxType") or "NONE"
        rate = _tax(ctx, tax_type, errors, sales=sales) if tax_type else None
        tracking = _tracking(ctx, raw.get("Tracking"), errors)
        if quantity is None:
            quantity = Decimal(1) if unit is not None or given_amount is not None else Decimal(0)
        quantity = places(quantity, 4)  # Xero keeps quantities to 4 decimals
        if unit is None:
            unit = given_amount / quantity if given_amount is not None and quantity else Decimal(0)
        # UnitAmount is kept to 2 decimals unless the request says unitdp=4 ("Rounding in Xero";
        # xero_accounting.yaml parameter unitdp): 0.1648 becomes 0.16 without it.
        unit = places(unit, ctx.unit_dp)
        expected = money(quantity * unit * (1 - (discount or Decimal(0)) / Decimal(100)))
        if given_amount is not None:
            amount = money(given_amount)
            # A LineAmount sent with Quantity and UnitAmount must equal what they make (after
            # UnitAmount's rounding): Xero-NetStandard#74, #147, #412.
            if raw.get("Quantity") is not None and raw.get("UnitAmount") is not None and amount != expected:
                errors.append(f"The line total {amount:.2f} does not match the expected line total {expected:.2f}")
        else:
            amount = expected
        # Tax per line, rounded to the cent, then summed ("Rounding in Xero": line item totals).
        percent = rate.rate if rate and line_amount_types != "NoTax" else Decimal(0)
        if line_amount_types == "Inclusive":
            tax = money(amount * percent / (100 + percent))
            subtotal += amount - tax
        else:
            tax = money(amount * percent / 100)
            subtotal += amount
        given_tax = _number(raw.get("TaxAmount"), errors, "TaxAmount")
        if given_tax is not None and line_amount_types != "NoTax":
            given_tax = money(given_tax)
            if line_amount_types == "Inclusive":
                subtotal += tax - given_tax
            tax = given_tax
        total_tax += tax
        line = {
            "LineItemID": str(_uuid(raw.get("LineItemID")) or uuid.uuid4()),
            "Description": raw.get("Description") or "",
            "Quantity": num(quantity),
            "UnitAmount": num(unit),
            "ItemCode": raw.get("ItemCode") or None,
            "AccountCode": account.code if account else None,
            "AccountID": str(account.account_id) if account else None,
            "TaxType": rate.tax_type if rate else None,
            "TaxAmount": num(tax),
            "LineAmount": num(amount),
            "DiscountRate": num(discount) if discount is not None else None,
            "Tracking": tracking,
        }
        lines.append({k: v for k, v in line.items() if v is not None})
    subtotal = money(subtotal)
    return lines, subtotal, total_tax, subtotal + total_tax


def _find_existing(ctx, kind, el, id_field, path_id, errors, number_field=None):
    wanted = path_id or el.get(id_field)
    if not wanted:
        return None
    doc_id = _uuid(wanted)
    qs = Document.objects.select_for_update().filter(organisation=ctx.org, kind=kind)
    found = qs.filter(document_id=doc_id).first() if doc_id else None
    if found is None and number_field and not doc_id:
        found = qs.filter(number=wanted).first()
    if found is None:
        errors.append(f"The {id_field} '{wanted}' could not be found.")
        raise ElementInvalid(errors)
    return found


def _next_number(org, field_name, prefix, kind, doc_types):
    while True:
        SandboxOrganisation.objects.filter(pk=org.pk).update(**{field_name: F(field_name) + 1})
        seq = SandboxOrganisation.objects.values_list(field_name, flat=True).get(pk=org.pk)
        number = f"{prefix}-{seq:04d}"
        if not Document.objects.filter(organisation=org, kind=kind, doc_type__in=doc_types, number=number).exists():
            return number


# --- invoices and credit notes --------------------------------------------------------


def write_invoice(ctx: Context, el: dict, path_id=None) -> Document:
    return _write_invoice_like(ctx, el, path_id, kind=Document.Kind.INVOICE)


def write_credit_note(ctx: Context, el: dict, path_id=None) -> Document:
    return _write_invoice_like(ctx, el, path_id, kind=Document.Kind.CREDIT_NOTE)


def _write_invoice_like(ctx, el, path_id, *, kind):
    errors = []
    is_invoice = kind == Document.Kind.INVOICE
    id_field, number_field = ("InvoiceID", "InvoiceNumber") if is_invoice else ("CreditNoteID", "CreditNoteNumber")
    valid_types = INVOICE_TYPES if is_invoice else CREDIT_NOTE_TYPES
    existing = _find_existing(ctx, kind, el, id_field, path_id, errors, number_field=number_field)
    now = timezone.now()

    if existing is not None:
        if existing.status in {"PAID", "VOIDED", "DELETED"} or existing.amount_paid:
            raise ElementInvalid([MSG_NOT_EDITABLE if existing.amount_paid else MSG_STATUS])
        wanted_status = (el.get("Status") or existing.status).upper()
        if wanted_status in {"VOIDED", "DELETED"} and set(el) <= {id_field, "Status", number_field}:
            allowed = {"DELETED": {"DRAFT", "SUBMITTED"}, "VOIDED": {"AUTHORISED"}}[wanted_status]
            if existing.status not in allowed:
                raise ElementInvalid([MSG_STATUS])
            existing.status = wanted_status
            existing.updated_at = now
            existing.save(update_fields=["status", "updated_at"])
            return existing
        merged = dict(existing.data.get("Input", {}))
        merged.update({k: v for k, v in el.items() if k != id_field})
        merged["Type"] = existing.doc_type
        el = merged

    doc_type = (el.get("Type") or "").upper()
    if doc_type not in valid_types:
        raise ElementInvalid([f"The Type field is mandatory and must be one of {', '.join(sorted(valid_types))}."])
    sales = doc_type in SALES_TYPES
    status = (el.get("Status") or (existing.status if existing else "DRAFT")).upper()
    if existing is None and status not in CREATE_STATUSES:
        errors.append(f"'{status}' is not a valid status for a new document.")
    elif existing is not None:
        order = ["DRAFT", "SUBMITTED", "AUTHORISED"]
        if status in {"VOIDED", "DELETED"}:
            allowed = {"DELETED": {"DRAFT", "SUBMITTED"}, "VOIDED": {"AUTHORISED"}}[status]
            if existing.status not in allowed:
                errors.append(MSG_STATUS)
        elif status not in order or order.index(status) < order.index(existing.status):
            errors.append(MSG_STATUS)
    line_amount_types = el.get("LineAmountTypes") or "Exclusive"
    if line_amount_types not in LINE_AMOUNT_TYPES:
        errors.append(f"LineAmountTypes '{line_amount_types}' is not valid. Use Exclusive, Inclusive or NoTax.")
        line_amount_types = "Exclusive"
    contact = _contact(ctx, el.get("Contact"), errors, sales=sales)
    when = _date(el.get("Date"), errors, default=timezone.localdate())
    due = _date(el.get("DueDate"), errors, label="DueDate")
    _check_lock(ctx, when, errors)
    currency = _currency(ctx, el, errors)
    lines, subtotal, total_tax, total = _line_items(ctx, el.get("LineItems"), errors, sales=sales,
                                                     line_amount_types=line_amount_types)
    if status == "AUTHORISED" and not lines:
        errors.append("At least one line item is required to approve this document.")
    if status == "AUTHORISED" and is_invoice and due is None:
        errors.append(MSG_DUE_DATE)
    number = (el.get(number_field) or "").strip() or (existing.number if existing else "")
    if is_invoice and doc_type == "ACCREC" and number:
        clash = Document.objects.filter(organisation=ctx.org, kind=kind, doc_type="ACCREC", number__iexact=number)
        clash = clash.exclude(status__in=["DELETED", "VOIDED"])
        if existing is not None:
            clash = clash.exclude(pk=existing.pk)
        if clash.exists():
            errors.append(MSG_DUPLICATE_INVOICE)
    if errors:
        raise ElementInvalid(errors)

    if not number and doc_type == "ACCREC":
        number = _next_number(ctx.org, "invoice_sequence", "INV", kind, ["ACCREC"])
    elif not number and doc_type == "ACCRECCREDIT":
        number = _next_number(ctx.org, "credit_note_sequence", "CN", kind, ["ACCRECCREDIT"])
    _mark_contact_role(contact, sales=sales)
    data = {
        "Input": {k: v for k, v in el.items() if k not in {id_field} and not (k == "Reference" and not sales)},
        "LineAmountTypes": line_amount_types,
        "LineItems": lines,
        "SubTotal": num(subtotal),
        "TotalTax": num(total_tax),
        "CurrencyRate": num(decimal(el.get("CurrencyRate"), Decimal(1))) if not isinstance(el.get("CurrencyRate"), str) else 1.0,
    }
    if due:
        data["DueDate"] = due.isoformat()
    doc = existing or Document(organisation=ctx.org, kind=kind, created_by_app=ctx.app)
    doc.doc_type = doc_type
    doc.number = number
    # Reference is kept on ACCREC invoices and ACCRECCREDIT credit notes only; on bills Xero drops
    # it silently (xero_accounting.yaml: "ACCREC only" / "ACCRECCREDIT only").
    doc.reference = (el.get("Reference") or "") if doc_type in SALES_TYPES else ""
    doc.status = status
    doc.date = when
    doc.contact = contact
    doc.currency_code = currency
    doc.total = money(total)
    doc.data = data
    doc.updated_at = now
    doc.save()
    return doc


# --- payments ------------------------------------------------------------------------


def write_payment(ctx: Context, el: dict, path_id=None) -> Document:
    errors = []
    now = timezone.now()
    wanted_id = path_id or el.get("PaymentID")
    if wanted_id:
        payment = Document.objects.select_for_update().filter(
            organisation=ctx.org, kind=Document.Kind.PAYMENT, document_id=_uuid(wanted_id)).first()
        if payment is None:
            raise ElementInvalid([f"The PaymentID '{wanted_id}' could not be found."])
        if (el.get("Status") or "").upper() != "DELETED":
            raise ElementInvalid(["Payments can only be deleted (Status DELETED), not edited."])
        if payment.status == "DELETED":
            return payment
        target = Document.objects.select_for_update().get(pk=payment.target_id)
        target.amount_paid -= payment.total
        if target.status == "PAID":
            target.status = "AUTHORISED"
        target.updated_at = now
        target.save(update_fields=["amount_paid", "status", "updated_at"])
        payment.status = "DELETED"
        payment.updated_at = now
        payment.save(update_fields=["status", "updated_at"])
        return payment

    target = None
    for key, kind, id_field, number_field in (
        ("Invoice", Document.Kind.INVOICE, "InvoiceID", "InvoiceNumber"),
        ("CreditNote", Document.Kind.CREDIT_NOTE, "CreditNoteID", "CreditNoteNumber"),
    ):
        ref = el.get(key)
        if not isinstance(ref, dict):
            continue
        qs = Document.objects.select_for_update().filter(organisation=ctx.org, kind=kind)
        if ref.get(id_field):
            target = qs.filter(document_id=_uuid(ref[id_field])).first()
        elif ref.get(number_field):
            target = qs.filter(number=ref[number_field]).exclude(status="DELETED").first()
        if target is None:
            errors.append(f"The {key} could not be found.")
        break
    else:
        errors.append("An Invoice or CreditNote must be specified for a payment.")
    account_ref = el.get("Account") if isinstance(el.get("Account"), dict) else {}
    account = None
    if not (account_ref.get("Code") or account_ref.get("AccountID")):
        errors.append("An Account must be specified for a payment.")
    else:
        account = _account(ctx, {"AccountCode": account_ref.get("Code"), "AccountID": account_ref.get("AccountID")},
                           errors, allow_bank=True)
        if account is not None and account.type != "BANK" and not account.enable_payments:
            errors.append("Account type is invalid for making a payment to/from")
    amount = _number(el.get("Amount"), errors, "Amount")
    when = _date(el.get("Date"), errors, default=timezone.localdate())
    _check_lock(ctx, when, errors)
    if target is not None:
        if target.status != "AUTHORISED":
            errors.append(MSG_STATUS if target.kind == Document.Kind.INVOICE
                          else "Credit Note not of valid status for modification")
        elif amount is not None:
            outstanding = target.total - target.amount_paid
            if amount <= 0:
                errors.append("Payment amount must be greater than zero.")
            elif money(amount) > outstanding:
                errors.append("Payment amount exceeds the amount outstanding on this document.")
    elif amount is None:
        errors.append("The Amount field is mandatory.")
    if errors:
        raise ElementInvalid(errors)

    payment_type = {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT", "ACCRECCREDIT": "ARCREDITPAYMENT",
                    "ACCPAYCREDIT": "APCREDITPAYMENT"}[target.doc_type]
    amount = money(amount)
    target.amount_paid += amount
    if target.amount_paid >= target.total:
        target.status = "PAID"
    target.updated_at = now
    target.save(update_fields=["amount_paid", "status", "updated_at"])
    return Document.objects.create(
        organisation=ctx.org, kind=Document.Kind.PAYMENT, doc_type=payment_type, number="",
        reference=(el.get("Reference") or "")[:255], status="AUTHORISED", date=when, contact=target.contact,
        currency_code=target.currency_code, total=amount, target=target, created_by_app=ctx.app, updated_at=now,
        data={"Account": {"AccountID": str(account.account_id), "Code": account.code},
              "CurrencyRate": num(decimal(el.get("CurrencyRate"), Decimal(1))) if not isinstance(el.get("CurrencyRate"), str) else 1.0,
              "Input": el},
    )


# --- manual journals -------------------------------------------------------------------


def write_manual_journal(ctx: Context, el: dict, path_id=None) -> Document:
    errors = []
    now = timezone.now()
    existing = _find_existing(ctx, Document.Kind.MANUAL_JOURNAL, el, "ManualJournalID", path_id, errors)
    if existing is not None:
        if existing.status in {"VOIDED", "DELETED"}:
            raise ElementInvalid(["This manual journal cannot be edited."])
        merged = dict(existing.data.get("Input", {}))
        merged.update({k: v for k, v in el.items() if k != "ManualJournalID"})
        el = merged
    narration = (el.get("Narration") or "").strip()
    if not narration:
        errors.append(MSG_NARRATION)
    status = (el.get("Status") or "DRAFT").upper()
    if status not in {"DRAFT", "POSTED"} and not (existing and status in {"DELETED", "VOIDED"}):
        errors.append(f"'{status}' is not a valid status for a manual journal.")
    line_amount_types = el.get("LineAmountTypes") or "NoTax"
    if line_amount_types not in LINE_AMOUNT_TYPES:
        errors.append(f"LineAmountTypes '{line_amount_types}' is not valid. Use Exclusive, Inclusive or NoTax.")
    when = _date(el.get("Date"), errors, default=timezone.localdate())
    _check_lock(ctx, when, errors)
    raw_lines = el.get("JournalLines")
    lines, debits, credits = [], Decimal(0), Decimal(0)
    if not isinstance(raw_lines, list) or len(raw_lines) < 2:
        errors.append("A manual journal must have at least two journal lines.")
        raw_lines = raw_lines if isinstance(raw_lines, list) else []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            errors.append("Each journal line must be an object.")
            continue
        amount = _number(raw.get("LineAmount"), errors, "LineAmount")
        if amount is None:
            errors.append("The LineAmount field is mandatory.")
            amount = Decimal(0)
        account = _account(ctx, raw, errors, allow_bank=True)
        if account is None and not (raw.get("AccountCode") or raw.get("AccountID")):
            errors.append("The AccountCode field is mandatory on each journal line.")
        tax_type = raw.get("TaxType") or ("NONE" if line_amount_types == "NoTax" else (account.tax_type if account else ""))
        rate = _tax(ctx, tax_type, errors, sales=None) if tax_type else None
        tracking = _tracking(ctx, raw.get("Tracking"), errors)
        amount = money(amount)
        if amount > 0:
            debits += amount
        else:
            credits -= amount
        line = {"LineAmount": num(amount), "AccountCode": account.code if account else raw.get("AccountCode"),
                "AccountID": str(account.account_id) if account else None, "Description": raw.get("Description") or "",
                "TaxType": rate.tax_type if rate else None, "TaxAmount": 0.0, "Tracking": tracking, "IsBlank": False}
        lines.append({k: v for k, v in line.items() if v is not None})
    if debits != credits:
        errors.append(f"The total debits ({money(debits)}) must equal total credits ({money(credits)}).")
    if errors:
        raise ElementInvalid(errors)
    doc = existing or Document(organisation=ctx.org, kind=Document.Kind.MANUAL_JOURNAL, created_by_app=ctx.app)
    doc.doc_type = ""
    doc.number = ""
    doc.reference = narration[:255]
    doc.status = status
    doc.date = when
    doc.total = money(debits)
    doc.data = {"Input": {k: v for k, v in el.items() if k != "ManualJournalID"}, "Narration": narration,
                "LineAmountTypes": line_amount_types, "JournalLines": lines,
                "ShowOnCashBasisReports": bool(el.get("ShowOnCashBasisReports", True))}
    doc.updated_at = now
    doc.save()
    return doc


# --- contacts ------------------------------------------------------------------------


def write_contact(ctx: Context, el: dict, path_id=None) -> Contact:
    errors = []
    wanted = path_id or el.get("ContactID")
    contact = None
    if wanted:
        contact = Contact.objects.filter(organisation=ctx.org, contact_id=_uuid(wanted)).first()
        if contact is None:
            raise ElementInvalid([f"The contact with ContactID '{wanted}' could not be found."])
    name = (el.get("Name") if "Name" in el else (contact.name if contact else "")) or ""
    name = " ".join(name.split())
    status = (el.get("ContactStatus") or (contact.status if contact else "ACTIVE")).upper()
    if not name:
        errors.append("The contact name must be specified.")
    elif status == "ACTIVE" and active_contact_named(ctx.org, name, exclude_pk=getattr(contact, "pk", None)):
        errors.append(msg_contact_name_taken(name))
    currency = el.get("DefaultCurrency")
    if currency and currency.upper() not in ctx.currencies:
        errors.append(msg_currency(currency.upper()))
    if status not in {"ACTIVE", "ARCHIVED"}:
        errors.append(f"'{status}' is not a valid ContactStatus.")
    if errors:
        raise ElementInvalid(errors)
    contact = contact or Contact(organisation=ctx.org)
    contact.name = name
    for attr, key in (("first_name", "FirstName"), ("last_name", "LastName"), ("email", "EmailAddress"),
                      ("account_number", "AccountNumber")):
        if key in el:
            setattr(contact, attr, el.get(key) or "")
    if currency:
        contact.default_currency = currency.upper()
    contact.status = status
    contact.updated_at = timezone.now()
    contact.save()
    return contact


# --- accounts (#15: "create a missing account", PUT /Accounts, one per request) --------------------

# AccountType (xero_accounting.yaml `AccountType` enum) → its Class, as Xero assigns it.
ACCOUNT_CLASS_OF_TYPE = {
    "BANK": "ASSET", "CURRENT": "ASSET", "FIXED": "ASSET", "INVENTORY": "ASSET", "NONCURRENT": "ASSET",
    "PREPAYMENT": "ASSET", "CURRLIAB": "LIABILITY", "LIABILITY": "LIABILITY", "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY", "EQUITY": "EQUITY", "DEPRECIATN": "EXPENSE", "DIRECTCOSTS": "EXPENSE",
    "EXPENSE": "EXPENSE", "OVERHEADS": "EXPENSE", "OTHERINCOME": "REVENUE", "REVENUE": "REVENUE", "SALES": "REVENUE",
}
ACCOUNT_CODE_MAX = 10  # "Account Code is too long. Maximum of 10 characters allowed" (Xero-Net#285)


def write_account(ctx: Context, el: dict, path_id=None):
    """Create one account, with Xero's validation: a unique Code ("Please enter a unique
    Code.") and Name ("Please enter a unique Name.", xero_accounting.yaml createAccount 400
    example), a Code of at most 10 characters, a Type from the AccountType enum. Updates (POST
    /Accounts/{id}) and bank accounts (which need bank details) are not taken."""
    from . import contract
    from .models import Account

    if path_id or el.get("AccountID"):
        raise ElementInvalid(["The sandbox creates accounts only (PUT /Accounts)."])
    errors = []
    code = str(el.get("Code") or "").strip()
    name = " ".join(str(el.get("Name") or "").split())
    type_ = str(el.get("Type") or "").strip()
    # Compared in Python (case-folded), not with the database's iexact: SQLite folds ASCII only,
    # PostgreSQL every letter, and the sandbox must answer the same on both.
    taken = list(Account.objects.filter(organisation=ctx.org).values_list("code", "name"))
    codes_taken = {c.casefold() for c, _ in taken}
    names_taken = {" ".join(n.split()).casefold() for _, n in taken}
    if not code:
        errors.append("Please enter a Code.")
    elif len(code) > ACCOUNT_CODE_MAX:
        errors.append(f"Account Code is too long. Maximum of {ACCOUNT_CODE_MAX} characters allowed")
    elif code.casefold() in codes_taken:
        errors.append("Please enter a unique Code.")
    if not name:
        errors.append("Please enter a Name.")
    elif len(name) > 150:
        errors.append(contract.msg_too_long("Name", 150))
    elif name.casefold() in names_taken:
        errors.append("Please enter a unique Name.")
    if type_ not in ACCOUNT_CLASS_OF_TYPE:
        errors.append(contract.msg_enum("Type", type_))
    elif type_ == "BANK":
        errors.append("The sandbox does not create bank accounts (Xero needs the bank account number).")
    tax_type = str(el.get("TaxType") or "")
    if tax_type and tax_type.upper() not in ctx.tax_rates:
        errors.append(msg_tax_type(tax_type))
    if errors:
        raise ElementInvalid(errors)
    return Account.objects.create(organisation=ctx.org, code=code, name=name, type=type_,
                                  account_class=ACCOUNT_CLASS_OF_TYPE[type_], tax_type=tax_type,
                                  description=str(el.get("Description") or ""))
