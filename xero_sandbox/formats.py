"""Xero's wire formats: Microsoft JSON dates, decimal amounts, If-Modified-Since."""
import re
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

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


def parse_http_datetime(value: str) -> datetime | None:
    """If-Modified-Since: ISO 8601 (as Xero's SDKs send) or an RFC 7231 HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        found = _MS_DATE.match(text)
        if found:
            return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
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
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def num(value) -> float | None:
    """Amounts go out as JSON numbers (Xero sends 100.00 as 100.00 → 100.0)."""
    if value is None:
        return None
    return float(value)


def days(n) -> timedelta:
    return timedelta(days=n)
