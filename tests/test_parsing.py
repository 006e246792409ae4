"""The one strict parser (xero_connect.parsing): accepted forms, refusals that name the value,
the column and the accepted forms, precision enforced instead of rounded, bounds from the columns."""
from datetime import date
from decimal import Decimal

import pytest

from xero_connect import parsing
from xero_connect.parsing import ValueRefused, parse_date, parse_number, parse_text


@pytest.mark.parametrize("text, rule, expected", [
    ("12.50", parsing.UNIT_AMOUNT, Decimal("12.50")),
    ("-80", parsing.LINE_AMOUNT, Decimal("-80")),
    ("+3", parsing.QUANTITY, Decimal("3")),
    (" 0.5 ", parsing.QUANTITY, Decimal("0.5")),
    ("1.2300", parsing.LINE_AMOUNT, Decimal("1.23")),  # trailing zeros are not precision
    ("2.1234", parsing.QUANTITY, Decimal("2.1234")),
    (".5", parsing.UNIT_AMOUNT, Decimal("0.5")),
    ("-0", parsing.QUANTITY, Decimal("0")),
    ("", parsing.QUANTITY, None),
])
def test_accepted_numbers(text, rule, expected):
    assert parse_number(text, column="quantity", rule=rule) == expected


@pytest.mark.parametrize("text", ["2,5", "1.234,56", "1,234.56", "1e20", "1E5", "NaN", "nan", "Infinity", "-inf",
                                  "1 000", "$5", "5-", "--5", "0x10", "½", "١٢", "1..2", "."])
def test_refused_forms_name_value_column_and_accepted_forms(text):
    with pytest.raises(ValueRefused) as refused:
        parse_number(text, column="unit_amount", rule=parsing.UNIT_AMOUNT)
    message = str(refused.value)
    assert f"“{text}”" in message and "unit_amount" in message and parsing.NUMBER_FORMS in message


def test_precision_is_enforced_not_rounded():
    assert parsing.LINE_AMOUNT_PLACES == 2 and parsing.PAYMENT_AMOUNT_PLACES == 2
    assert parsing.UNIT_AMOUNT_PLACES == 4 and parsing.QUANTITY_PLACES == 4
    with pytest.raises(ValueRefused, match="amount: Amount 10.005 has more than 2 decimals"):
        parse_number("10.005", column="amount", rule=parsing.PAYMENT_AMOUNT)
    with pytest.raises(ValueRefused, match="quantity: Quantity 1.23456 has more than 4 decimals"):
        parse_number("1.23456", column="quantity", rule=parsing.QUANTITY)


@pytest.mark.parametrize("text, rule", [("10000000000", parsing.QUANTITY), ("-10000000000", parsing.UNIT_AMOUNT),
                                        ("1000000000000", parsing.LINE_AMOUNT), ("9" * 5000, parsing.QUANTITY)])
def test_sizes_are_bounded_by_the_columns(text, rule):
    with pytest.raises(ValueRefused, match="too large"):
        parse_number(text, column="quantity", rule=rule)
    assert parse_number("9999999999.9999", column="quantity", rule=parsing.QUANTITY) == Decimal("9999999999.9999")


def test_payment_amounts_are_not_negative():
    with pytest.raises(ValueRefused, match="must not be negative"):
        parse_number("-5", column="amount", rule=parsing.PAYMENT_AMOUNT)


@pytest.mark.parametrize("text", ["20260301", "2026-W10-1", "2026-3-1", "01/03/2026", "2026-02-30", "1899-12-31",
                                  "2100-01-01", "2026-03-01T00:00"])
def test_dates_are_exactly_iso_days_in_a_sane_range(text):
    with pytest.raises(ValueRefused) as refused:
        parse_date(text, column="due_date")
    assert "due_date" in str(refused.value) and text in str(refused.value)


def test_a_good_date():
    assert parse_date(" 2026-03-31 ", column="date") == date(2026, 3, 31)


def test_text_lengths_come_from_xero_and_columns_hold_them():
    from xero_connect.models import DocumentLine, SourceDocument

    assert parsing.MAX_LENGTH["number"] == 255 and parsing.MAX_LENGTH["contact"] == 255
    assert parsing.MAX_LENGTH["reference"] == 255 and parsing.MAX_LENGTH["description"] == 4000
    assert SourceDocument._meta.get_field("number").max_length >= parsing.MAX_LENGTH["number"]
    assert SourceDocument._meta.get_field("contact_name").max_length >= parsing.MAX_LENGTH["contact"]
    assert SourceDocument._meta.get_field("reference").max_length >= parsing.MAX_LENGTH["reference"]
    assert DocumentLine._meta.get_field("description").max_length >= parsing.MAX_LENGTH["description"]
    assert parse_text("x" * 255, column="number") == "x" * 255
    with pytest.raises(ValueRefused, match="256 characters long; Xero takes at most 255"):
        parse_text("x" * 256, column="number")
    with pytest.raises(ValueRefused, match="control characters"):
        parse_text("INV\x00-1", column="number")
