"""Xero's wire formats: Microsoft JSON dates, decimal amounts, If-Modified-Since, contact-name keys."""
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import timezone

UTC = dt_timezone.utc
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
CENT = Decimal("0.01")


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def ms_date(d: date | None) -> str | None:
    """A calendar date as Xero sends it: /Date(1552262400000+0000)/."""
    if d is None:
        return None
    return f"/Date({ms(datetime.combine(d, time(0), tzinfo=UTC))}+0000)/"


def ms_datetime(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return f"/Date({ms(dt)}+0000)/"


def envelope_now() -> str:
    return f"/Date({ms(timezone.now())})/"


def iso_date(d: date | None) -> str | None:
    return None if d is None else f"{d.isoformat()}T00:00:00"


def parse_date(value) -> date:
    """Xero accepts 2024-03-31, 2024-03-31T00:00:00 and /Date(ms+0000)/."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a date")
    text = value.strip()
    found = _MS_DATE.match(text)
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC).date()
    return date.fromisoformat(text[:10])


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?$")


class HeaderInvalid(ValueError):
    """A request header the API refuses (answered 400)."""


def parse_modified_since(value: str) -> datetime | None:
    """If-Modified-Since as xero_accounting.yaml types it: an ISO 8601 date-time
    (`2020-02-06T12:17:43.202-08:00`, `2026-10-01T12:00:00Z`; no offset = UTC, as Xero's
    docs call it "a UTC timestamp"). Anything else — an RFC 1123 HTTP date included — raises
    HeaderInvalid (strict reading; see docs/sandbox.md). Empty → None."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if not _ISO_DATETIME.match(text):
        raise HeaderInvalid(f"If-Modified-Since '{text[:60]}' is not an ISO 8601 date-time (e.g. 2026-10-01T12:00:00Z).")
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:  # .NET sends 7 digits; Python reads 6
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise HeaderInvalid(f"If-Modified-Since '{text[:60]}' is not a valid date-time.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def decimal(value, default=None) -> Decimal | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError("not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc


def money(value: Decimal) -> Decimal:
    """To the cent, half away from zero (Decimal's ROUND_HALF_UP), as Xero rounds amounts
    ("Rounding in Xero": all monetary calculations to two decimal places)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def places(value: Decimal, dp: int) -> Decimal:
    """`value` to `dp` decimal places, half away from zero (unit amounts: 2, or 4 with unitdp=4;
    quantities: 4)."""
    return value.quantize(Decimal(1).scaleb(-dp), rounding=ROUND_HALF_UP)


def contact_name_key(name: str) -> str:
    """How Xero compares contact names: Unicode-normalised (NFC), case-folded, surrounding
    whitespace dropped and inner runs of whitespace made one space. Stored in a column and
    compared in Python-made keys, so SQLite and PostgreSQL match names identically (no DB
    collation involved)."""
    text = unicodedata.normalize("NFC", name or "")
    return " ".join(text.split()).casefold()


def num(value) -> float | None:
    """Amounts go out as JSON numbers (Xero sends 100.00 as 100.00 → 100.0)."""
    if value is None:
        return None
    return float(value)


def days(n) -> timedelta:
    return timedelta(days=n)
