"""Xero's list rows → this product's list fields, for everything that stores a row Xero sent:
Refresh lists, and the mapping page when it creates an account in Xero (#15). Below both, so
neither imports the other for it."""
from ..xero.accounting import parse_xero_date


def is_active(status: str | None) -> bool:
    """Xero's Status ACTIVE (or none) → active; ARCHIVED, DELETED and the rest → inactive."""
    return (status or "ACTIVE").upper() == "ACTIVE"


def account_fields(row: dict) -> dict:
    """An element of GET /Accounts → Account fields (lengths as the columns hold them)."""
    status = (row.get("Status") or "ACTIVE").upper()
    return {
        "code": (row.get("Code") or "")[:20], "name": (row.get("Name") or "")[:255], "type": (row.get("Type") or "")[:40],
        "account_class": (row.get("Class") or "")[:20], "tax_type": (row.get("TaxType") or "")[:50],
        "currency_code": (row.get("CurrencyCode") or "")[:3],
        "enable_payments": bool(row.get("EnablePaymentsToAccount")), "status": status, "is_active": is_active(status),
        "updated_in_xero_at": parse_xero_date(row.get("UpdatedDateUTC")),
    }
