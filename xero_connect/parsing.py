"""The one strict parser for untrusted values: CSV imports today, the host API next.

Every function takes the raw text and the column it came from, and either returns the value or
raises `ValueRefused` whose message names the value, the column and the forms accepted. Nothing
is ever rounded, clipped or guessed:

- Numbers: an optional sign, digits, and at most one point "." as the decimal separator —
  `1234.56`, `-80`, `0.5`. Refused: a comma in any role (`2,5`, `1,234.56`, `1.234,56` are
  ambiguous between countries), exponents (`1e20`), `NaN`/`Infinity`, spaces inside, currency
  signs. Trailing zeros beyond the allowed places are fine (`1.2300` is 1.23); a significant
  digit beyond them is refused (`1.234` as an amount), never rounded.
- Bounds come from the database columns that hold the value (DecimalField max_digits and
  decimal_places in models/documents.py), identical on SQLite and PostgreSQL.
- Dates: exactly `YYYY-MM-DD`, years 1900–2099 (`date.fromisoformat` alone would also take
  `20260301` or `2026-W10-1`).
- Text: at most the length Xero takes (the OpenAPI file's `maxLength`, shared/xero-openapi/
  xero_accounting.yaml), which the columns are sized to hold.
"""
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from . import money

# Decimal places, enforced (not rounded): Xero's, from xero_connect.money — line and payment
# amounts to the cent, unit amounts and quantities to 4 places (with unitdp=4).
LINE_AMOUNT_PLACES = money.MONEY_PLACES
PAYMENT_AMOUNT_PLACES = money.MONEY_PLACES
UNIT_AMOUNT_PLACES = money.UNIT_PLACES
QUANTITY_PLACES = money.QUANTITY_PLACES

# Largest magnitudes, from the columns: DecimalField(max_digits=14, decimal_places=4) holds
# |x| < 10**10; (14, 2) holds |x| < 10**12.
QUANTITY_LIMIT = Decimal(10) ** 10
UNIT_AMOUNT_LIMIT = Decimal(10) ** 10
LINE_AMOUNT_LIMIT = Decimal(10) ** 12
TOTAL_LIMIT = Decimal(10) ** 12

# Text lengths: Xero's maxLength where the OpenAPI file gives one (InvoiceNumber 255, Contact
# Name 255, TrackingCategory/TrackingOption Name 100), Xero's documented 255 for Reference and
# 4,000 for line descriptions (XERO_FACTS.md: "treat it as 4,000"), and our columns otherwise.
MAX_LENGTH = {
    "number": 255,
    "contact": 255,
    "reference": 255,
    "description": 4000,
    "narration": 4000,
    "account_code": 20,
    "payment_account": 20,
    "tax_type": 50,
    "tracking_category": 100,
    "tracking_option": 100,
    # Host categories (#15): the host's own codes, as HostCategory.code holds them.
    "category": 100,
    "tax_code": 100,
    "payment_method": 100,
    "dimension": 100,
}

NUMBER_FORMS = "digits with a point for decimals, e.g. 1234.56 or -80 (no commas, spaces or exponents)"
DATE_FORMS = "YYYY-MM-DD, e.g. 2026-03-31"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MIN_YEAR, MAX_YEAR = 1900, 2099


class ValueRefused(ValueError):
    """A value that is not accepted; `str()` is the sentence to show, naming value and column."""

    def __init__(self, message: str, *, column: str, value: str):
        super().__init__(message)
        self.column = column
        self.value = value


@dataclass(frozen=True)
class NumberRule:
    places: int
    limit: Decimal
    negative: bool = True
    figure: str = "money_amounts"  # which of money.precision_problems' figures this is


QUANTITY = NumberRule(QUANTITY_PLACES, QUANTITY_LIMIT, figure="quantities")
UNIT_AMOUNT = NumberRule(UNIT_AMOUNT_PLACES, UNIT_AMOUNT_LIMIT, figure="unit_amounts")
LINE_AMOUNT = NumberRule(LINE_AMOUNT_PLACES, LINE_AMOUNT_LIMIT)
PAYMENT_AMOUNT = NumberRule(PAYMENT_AMOUNT_PLACES, TOTAL_LIMIT, negative=False)


def _show(value: str) -> str:
    return value if len(value) <= 40 else value[:40] + "…"


def parse_number(text: str | None, *, column: str, rule: NumberRule) -> Decimal | None:
    """"12.50" → Decimal("12.50"); "" → None. Raises ValueRefused for anything else than the
    accepted form, more places than `rule.places`, |value| ≥ `rule.limit`, or a sign the rule
    does not allow."""
    raw = "" if text is None else str(text)
    value = raw.strip()
    if not value:
        return None
    if not _NUMBER.fullmatch(value):
        raise ValueRefused(f"{column} “{_show(raw)}” is not a number. Accepted: {NUMBER_FORMS}.",
                           column=column, value=raw)
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a finite decimal
        raise ValueRefused(f"{column} “{_show(raw)}” is not a number. Accepted: {NUMBER_FORMS}.",
                           column=column, value=raw) from None
    if abs(number) >= rule.limit:
        raise ValueRefused(f"{column} “{_show(raw)}” is too large: it must be less than {rule.limit:,} in size.",
                           column=column, value=raw)
    problems = money.precision_problems(**{rule.figure: [number]})
    if problems:  # Xero's rule, in money's words: "Unit amount 0.16485 has more than 4 decimals — …"
        raise ValueRefused(f"{column}: {problems[0]}", column=column, value=raw)
    if number < 0 and not rule.negative:
        raise ValueRefused(f"{column} “{_show(raw)}” must not be negative.", column=column, value=raw)
    return number + 0  # "-0" → 0


def parse_date(text: str | None, *, column: str) -> date | None:
    """"2026-03-31" → date(2026, 3, 31); "" → None; anything else raises ValueRefused."""
    raw = "" if text is None else str(text)
    value = raw.strip()
    if not value:
        return None
    refused = ValueRefused(f"{column} “{_show(raw)}” is not a date. Accepted: {DATE_FORMS}.", column=column, value=raw)
    if not _DATE.fullmatch(value):
        raise refused
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise refused from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueRefused(f"{column} “{_show(raw)}” is outside the years {MIN_YEAR}–{MAX_YEAR}.",
                           column=column, value=raw)
    return parsed


def parse_text(text: str | None, *, column: str, max_length: int | None = None) -> str:
    """Stripped text, at most `max_length` (default MAX_LENGTH[column]) characters; control
    characters other than tab and newline are refused (Xero refuses them in XML and JSON)."""
    value = ("" if text is None else str(text)).strip()
    limit = max_length if max_length is not None else MAX_LENGTH.get(column)
    if limit is not None and len(value) > limit:
        raise ValueRefused(f"{column} “{_show(value)}” is {len(value):,} characters long; Xero takes at most "
                           f"{limit:,}.", column=column, value=value)
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value) or "\x7f" in value:
        raise ValueRefused(f"{column} “{_show(value)}” contains control characters.", column=column, value=value)
    return value


# --- query-string and form parameters -----------------------------------------------------------

MAX_ID = 2 ** 63 - 1  # the largest primary key either database holds (bigint)
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)


def parse_id(text: str | None) -> int | None:
    """A row id from a query string or form: "42" → 42; anything else (empty, "abc", "-1",
    "1e3", "٤٢", a number past bigint) → None. Never raises: callers answer 404 or a notice."""
    value = ("" if text is None else str(text)).strip()
    if not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def parse_page(text: str | None, *, last: int | None = None) -> int:
    """A page number: a positive whole number, else 1; at most `last` when given."""
    page = parse_id(text) or 1
    return min(page, last) if last else page
