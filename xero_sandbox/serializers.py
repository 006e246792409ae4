"""Sandbox rows → Xero's JSON shapes (see xero_accounting.yaml components/schemas)."""
from decimal import Decimal

from .formats import iso_date, ms_date, ms_datetime, num, places
from .models import Account, Contact, Currency, Document, SandboxOrganisation, TaxRate, TrackingCategory

def organisation(org: SandboxOrganisation) -> dict:
    return _drop_none({
        "OrganisationID": str(org.tenant_id),
        "APIKey": "",
        "Name": org.name,
        "LegalName": org.legal_name or org.name,
        "PaysTax": True,
        "Version": org.version,
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.base_currency,
        "CountryCode": org.country_code,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": org.financial_year_end_day,
        "FinancialYearEndMonth": org.financial_year_end_month,
        "SalesTaxBasis": "ACCRUALS",
        "PeriodLockDate": ms_date(org.period_lock_date),
        "CreatedDateUTC": ms_datetime(org.created_at),
        "OrganisationEntityType": "COMPANY",
        "Timezone": org.timezone,
        "ShortCode": org.short_code,
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "LineOfBusiness": org.line_of_business or None,
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
    })


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def account(a: Account) -> dict:
    return _drop_none({
        "AccountID": str(a.account_id),
        "Code": a.code or None,
        "Name": a.name,
        "Status": a.status,
        "Type": a.type,
        "TaxType": a.tax_type or None,
        "Description": a.description or None,
        "Class": a.account_class,
        "EnablePaymentsToAccount": a.enable_payments,
        "ShowInExpenseClaims": a.type in {"EXPENSE", "OVERHEADS", "DIRECTCOSTS"},
        "BankAccountNumber": a.bank_account_number or None,
        "BankAccountType": "BANK" if a.type == "BANK" else None,
        "CurrencyCode": a.currency_code or None,
        "SystemAccount": a.system_account or None,
        "HasAttachments": False,
        "UpdatedDateUTC": ms_datetime(a.updated_at),
        "AddToWatchlist": False,
    })


def currency(c: Currency) -> dict:
    return {"Code": c.code, "Description": c.description}


def tax_rate(t: TaxRate) -> dict:
    rate = num(t.rate)
    return _drop_none({
        "Name": t.name,
        "TaxType": t.tax_type,
        "TaxComponents": [{"Name": t.name.split(" ")[0] if rate else "No Tax", "Rate": rate, "IsCompound": False,
                           "IsNonRecoverable": False}],
        "Status": t.status,
        "ReportTaxType": t.report_tax_type or None,
        "CanApplyToAssets": t.for_expenses,
        "CanApplyToEquity": t.for_expenses,
        "CanApplyToExpenses": t.for_expenses,
        "CanApplyToLiabilities": t.for_expenses,
        "CanApplyToRevenue": t.for_revenue,
        "DisplayTaxRate": rate,
        "EffectiveRate": rate,
    })


def contact(c: Contact) -> dict:
    return _drop_none({
        "ContactID": str(c.contact_id),
        "ContactStatus": c.status,
        "Name": c.name,
        "FirstName": c.first_name or None,
        "LastName": c.last_name or None,
        "EmailAddress": c.email or None,
        "AccountNumber": c.account_number or None,
        "Addresses": [],
        "Phones": [],
        "UpdatedDateUTC": ms_datetime(c.updated_at),
        "ContactGroups": [],
        "IsSupplier": c.is_supplier,
        "IsCustomer": c.is_customer,
        "DefaultCurrency": c.default_currency or None,
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    })


def contact_ref(c: Contact | None) -> dict:
    if c is None:
        return {}
    return {"ContactID": str(c.contact_id), "Name": c.name, "ContactStatus": c.status,
            "IsSupplier": c.is_supplier, "IsCustomer": c.is_customer}


def tracking_category(tc: TrackingCategory) -> dict:
    return {
        "TrackingCategoryID": str(tc.tracking_category_id),
        "Name": tc.name,
        "Status": tc.status,
        "Options": [
            {"TrackingOptionID": str(o.tracking_option_id), "Name": o.name, "Status": o.status,
             "TrackingCategoryID": str(tc.tracking_category_id)}
            for o in tc.options.all()
        ],
    }


def _payments_of(doc: Document) -> list:
    return [
        {"PaymentID": str(p.document_id), "Date": ms_date(p.date), "Amount": num(p.total),
         "Reference": p.reference or "", "CurrencyRate": p.data.get("CurrencyRate", 1.0), "HasAccount": True,
         "HasValidationErrors": False}
        for p in doc.payments.all() if p.status != "DELETED"
    ]


def document(doc: Document, *, unit_dp: int = 2) -> dict:
    """Xero's JSON for a document. `unit_dp`: decimals of UnitAmount shown (2, or 4 when the
    request carried unitdp=4 — "Rounding in Xero")."""
    if doc.kind == Document.Kind.INVOICE:
        return invoice(doc, unit_dp=unit_dp)
    if doc.kind == Document.Kind.CREDIT_NOTE:
        return credit_note(doc, unit_dp=unit_dp)
    return {Document.Kind.PAYMENT: payment, Document.Kind.MANUAL_JOURNAL: manual_journal}[doc.kind](doc)


def _lines(d: dict, unit_dp: int) -> list:
    lines = d.get("LineItems", [])
    if unit_dp >= 4:
        return lines
    return [{**line, "UnitAmount": num(places(Decimal(str(line["UnitAmount"])), unit_dp))}
            if line.get("UnitAmount") is not None else line for line in lines]


def invoice(doc: Document, *, unit_dp: int = 2) -> dict:
    d = doc.data
    due = doc.total - doc.amount_paid if doc.status not in {"VOIDED", "DELETED"} else 0
    return _drop_none({
        "Type": doc.doc_type,
        "InvoiceID": str(doc.document_id),
        "InvoiceNumber": doc.number,
        "Reference": doc.reference,
        "Payments": _payments_of(doc),
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": num(due),
        "AmountPaid": num(doc.amount_paid),
        "AmountCredited": 0.0,
        "CurrencyRate": d.get("CurrencyRate", 1.0),
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": contact_ref(doc.contact),
        "DateString": iso_date(doc.date),
        "Date": ms_date(doc.date),
        "DueDateString": d.get("DueDate") and f"{d['DueDate']}T00:00:00",
        "DueDate": d.get("DueDate") and ms_date(_date(d["DueDate"])),
        "Status": doc.status,
        "LineAmountTypes": d.get("LineAmountTypes", "Exclusive"),
        "LineItems": _lines(d, unit_dp),
        "SubTotal": d.get("SubTotal", 0.0),
        "TotalTax": d.get("TotalTax", 0.0),
        "Total": num(doc.total),
        "UpdatedDateUTC": ms_datetime(doc.updated_at),
        "CurrencyCode": doc.currency_code,
        "FullyPaidOnDate": ms_date(doc.updated_at.date()) if doc.status == "PAID" else None,
    })


def credit_note(doc: Document, *, unit_dp: int = 2) -> dict:
    d = doc.data
    remaining = doc.total - doc.amount_paid if doc.status == "AUTHORISED" else 0
    return _drop_none({
        "Type": doc.doc_type,
        "CreditNoteID": str(doc.document_id),
        "CreditNoteNumber": doc.number,
        "Reference": doc.reference,
        "Contact": contact_ref(doc.contact),
        "Date": ms_date(doc.date),
        "DueDate": d.get("DueDate") and ms_date(_date(d["DueDate"])),
        "Status": doc.status,
        "LineAmountTypes": d.get("LineAmountTypes", "Exclusive"),
        "LineItems": _lines(d, unit_dp),
        "SubTotal": d.get("SubTotal", 0.0),
        "TotalTax": d.get("TotalTax", 0.0),
        "Total": num(doc.total),
        "UpdatedDateUTC": ms_datetime(doc.updated_at),
        "CurrencyCode": doc.currency_code,
        "CurrencyRate": d.get("CurrencyRate", 1.0),
        "FullyPaidOnDate": ms_date(doc.updated_at.date()) if doc.status == "PAID" else None,
        "RemainingCredit": num(remaining),
        "Allocations": [],
        "Payments": _payments_of(doc),
        "HasAttachments": False,
        "HasErrors": False,
    })


def payment(doc: Document) -> dict:
    d = doc.data
    target = doc.target
    body = {
        "PaymentID": str(doc.document_id),
        "Date": ms_date(doc.date),
        "Amount": num(doc.total),
        "BankAmount": num(doc.total),
        "Reference": doc.reference,
        "CurrencyRate": d.get("CurrencyRate", 1.0),
        "PaymentType": doc.doc_type,
        "Status": doc.status,
        "UpdatedDateUTC": ms_datetime(doc.updated_at),
        "HasAccount": True,
        "IsReconciled": False,
        "HasValidationErrors": False,
        "Account": d.get("Account", {}),
    }
    if target is not None:
        ref = {"Type": target.doc_type, "Contact": contact_ref(target.contact), "CurrencyCode": target.currency_code}
        if target.kind == Document.Kind.INVOICE:
            body["Invoice"] = ref | {"InvoiceID": str(target.document_id), "InvoiceNumber": target.number}
        else:
            body["CreditNote"] = ref | {"CreditNoteID": str(target.document_id), "CreditNoteNumber": target.number}
    return body


def manual_journal(doc: Document) -> dict:
    d = doc.data
    return {
        "ManualJournalID": str(doc.document_id),
        "Date": ms_date(doc.date),
        "Status": doc.status,
        "LineAmountTypes": d.get("LineAmountTypes", "NoTax"),
        "UpdatedDateUTC": ms_datetime(doc.updated_at),
        "Narration": d.get("Narration", ""),
        "JournalLines": d.get("JournalLines", []),
        "ShowOnCashBasisReports": d.get("ShowOnCashBasisReports", True),
        "HasAttachments": False,
    }


def _date(text):
    from .formats import parse_date
    return parse_date(text)
