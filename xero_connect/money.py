"""Money the way Xero counts it: written once, used by pre-flight, the export ledger's check of
Xero's totals (and the sandbox may use it too). Pure functions over `Decimal`; no floats, no ORM.

Xero's rules (source: Xero's developer guide "Rounding in Xero", and xero_accounting.yaml):
- Quantities and unit amounts are kept to 4 decimals when the request says `unitdp=4`
  (otherwise unit amounts are kept to 2); every summary figure — LineAmount, TaxAmount,
  SubTotal, TotalTax, Total, journal line amounts, payment amounts — to 2 decimals.
- A line's amount is quantity × unit amount, rounded to the cent.
- Tax is calculated per line and rounded to the cent, then summed ("Xero calculates tax on a
  per line basis, rounding to two decimal places, and then sums the tax totals of each line").
- LineAmountTypes: Exclusive — line amounts exclude tax, tax is added; Inclusive — line
  amounts include tax, tax = amount − amount / (1 + rate); NoTax — no tax at all.
- Rounding is half away from zero (0.005 → 0.01, −0.005 → −0.01), as Xero's guide's examples
  and the sandbox do (Decimal's ROUND_HALF_UP rounds ties away from zero).

Nothing here rounds what a person typed: `precision_problems` says which figures carry more
precision than Xero keeps, so they are refused before sending, never rounded silently.
"""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
MONEY_PLACES = 2     # LineAmount, journal lines, payments, totals
UNIT_PLACES = 4      # UnitAmount with unitdp=4
QUANTITY_PLACES = 4  # Quantity
LINE_AMOUNT_TYPES = ("Exclusive", "Inclusive", "NoTax")
ZERO = Decimal(0)


def to_decimal(value) -> Decimal:
    """`value` (Decimal, int or a numeric string; never a float) → Decimal. ValueError if not a
    finite number. Floats are refused: they have already lost the cent."""
    if isinstance(value, float):
        raise ValueError("money is never a float")
    if isinstance(value, Decimal):
        out = value
    else:
        try:
            out = Decimal(str(value).strip())
        except (InvalidOperation, TypeError) as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    if not out.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return out


def round_money(value) -> Decimal:
    """To the cent, half away from zero: Decimal('2.675') → Decimal('2.68')."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_places(value) -> int:
    """How many decimals `value` really uses (trailing zeros do not count): 1.2300 → 2, 5 → 0."""
    exponent = to_decimal(value).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def fits(value, places: int) -> bool:
    """True when `value` is exact at `places` decimals (nothing would be rounded away)."""
    return decimal_places(value) <= places


def line_amount(quantity, unit_amount) -> Decimal:
    """Xero's LineAmount: quantity × unit amount, to the cent. 7000 × 0.1648 → 1153.60."""
    return round_money(to_decimal(quantity) * to_decimal(unit_amount))


def line_tax(amount, rate_percent, line_amount_types: str) -> Decimal:
    """Tax of one line of `amount` (already to the cent) at `rate_percent` (15 for 15 %),
    rounded to the cent as Xero does per line. NoTax → 0. ValueError for another
    LineAmountTypes."""
    amount, rate = to_decimal(amount), to_decimal(rate_percent or 0)
    if line_amount_types == "NoTax" or rate == 0:
        return ZERO.quantize(CENT)
    if line_amount_types == "Exclusive":
        return round_money(amount * rate / 100)
    if line_amount_types == "Inclusive":
        return round_money(amount - amount / (1 + rate / 100))
    raise ValueError(f"LineAmountTypes {line_amount_types!r} is not one of {', '.join(LINE_AMOUNT_TYPES)}")


@dataclass(frozen=True)
class Totals:
    """A document's figures, each to the cent: SubTotal (excluding tax), TotalTax, Total."""

    sub_total: Decimal
    total_tax: Decimal
    total: Decimal


def document_totals(lines, line_amount_types: str) -> Totals:
    """Xero's SubTotal / TotalTax / Total for `lines` = [(quantity, unit_amount, rate_percent)],
    computed Xero's way: each line to the cent, tax per line to the cent, then summed.
    Inclusive: SubTotal = Σ(line − its tax). ValueError for an unknown LineAmountTypes."""
    sub_total = total_tax = ZERO
    for quantity, unit_amount, rate in lines:
        amount = line_amount(quantity, unit_amount)
        tax = line_tax(amount, rate, line_amount_types)
        total_tax += tax
        sub_total += amount - tax if line_amount_types == "Inclusive" else amount
    sub_total, total_tax = round_money(sub_total), round_money(total_tax)
    return Totals(sub_total, total_tax, sub_total + total_tax)


def exact_totals(lines, line_amount_types: str) -> Totals:
    """The same document computed without rounding anything until the end (tax on the
    document's total, as most other systems do) — what "your total" is when compared with
    Xero's. Each figure rounded once, to the cent."""
    if line_amount_types not in LINE_AMOUNT_TYPES:
        raise ValueError(f"LineAmountTypes {line_amount_types!r} is not one of {', '.join(LINE_AMOUNT_TYPES)}")
    gross = tax = ZERO
    for quantity, unit_amount, rate in lines:
        amount = to_decimal(quantity) * to_decimal(unit_amount)
        r = ZERO if line_amount_types == "NoTax" else to_decimal(rate or 0)
        gross += amount
        tax += amount * r / 100 if line_amount_types == "Exclusive" else amount - amount / (1 + r / 100)
    if line_amount_types == "Inclusive":
        total, total_tax = round_money(gross), round_money(tax)
        return Totals(total - total_tax, total_tax, total)
    sub_total, total_tax = round_money(gross), round_money(tax)
    return Totals(sub_total, total_tax, sub_total + total_tax)


def precision_problems(*, quantities=(), unit_amounts=(), money_amounts=()) -> list[str]:
    """Figures Xero would round: quantities or unit amounts beyond 4 decimals, money (journal
    lines, payments) beyond 2. Returns sentences naming each value, [] when all fit."""
    problems = []
    for value in quantities:
        if value is not None and not fits(value, QUANTITY_PLACES):
            problems.append(f"Quantity {value} has more than {QUANTITY_PLACES} decimals — Xero keeps {QUANTITY_PLACES}; "
                            f"fix the document rather than let it be rounded")
    for value in unit_amounts:
        if value is not None and not fits(value, UNIT_PLACES):
            problems.append(f"Unit amount {value} has more than {UNIT_PLACES} decimals — Xero keeps {UNIT_PLACES}; "
                            f"fix the document rather than let it be rounded")
    for value in money_amounts:
        if value is not None and not fits(value, MONEY_PLACES):
            problems.append(f"Amount {value} has more than {MONEY_PLACES} decimals — Xero keeps amounts to the cent; "
                            f"fix the document rather than let it be rounded")
    return problems


def journal_imbalance(amounts) -> Decimal:
    """Σ of a manual journal's signed line amounts (debits positive, credits negative), as
    entered. Xero refuses a journal unless this is exactly 0.00."""
    return sum((to_decimal(a) for a in amounts), ZERO)


def difference_cause(*, xero: Totals, lines, line_amount_types: str) -> str:
    """Why Xero's figures differ from the exact ones, in words: Xero's own per-line rounding,
    unit amounts cut to 2 decimals (a write without unitdp=4), or unknown."""
    if document_totals(lines, line_amount_types) == xero:
        exact = exact_totals(lines, line_amount_types)
        if exact.sub_total != xero.sub_total:
            return "rounding of each line to the cent"
        return "rounding of tax per line"
    cut = [(q, round_money(u), r) for q, u, r in lines]
    if document_totals(cut, line_amount_types) == xero:
        return "Xero kept unit amounts to 2 decimals"
    return "Xero calculated it differently (check the tax rates in Xero)"
