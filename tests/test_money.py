"""Money the way Xero counts it (xero_connect/money.py): the figures are Xero's own, from its
guide "Rounding in Xero" and the issue's sales invoice of 7,000 × 0.1648."""
from decimal import Decimal as D

import pytest

from xero_connect import money


def test_a_line_is_quantity_times_unit_to_the_cent_with_four_decimal_units():
    assert money.line_amount(D("7000"), D("0.1648")) == D("1153.60")
    # What Xero stores without unitdp=4: the unit cut to 0.16 first.
    assert money.line_amount(D("7000"), money.round_money(D("0.1648"))) == D("1120.00")


def test_the_issues_sales_invoice_totals_to_the_cent():
    totals = money.document_totals([(D("7000"), D("0.1648"), D("15"))], "Exclusive")
    assert totals == money.Totals(D("1153.60"), D("173.04"), D("1326.64"))


def test_rounding_is_half_away_from_zero():
    assert money.round_money(D("2.675")) == D("2.68")
    assert money.round_money(D("-2.675")) == D("-2.68")
    assert money.round_money(D("2.6749")) == D("2.67")


def test_tax_is_rounded_per_line_then_summed_as_in_xeros_guide():
    lines = [(1, D("25.06"), 15), (1, D("25.61"), 15), (1, D("25.63"), 15)]
    assert money.document_totals(lines, "Exclusive") == money.Totals(D("76.30"), D("11.44"), D("87.74"))
    # Tax on the whole (most other systems): 11.445 → 11.45.
    assert money.exact_totals(lines, "Exclusive") == money.Totals(D("76.30"), D("11.45"), D("87.75"))
    xero = money.document_totals(lines, "Exclusive")
    assert money.difference_cause(xero=xero, lines=lines, line_amount_types="Exclusive") == "rounding of tax per line"


def test_inclusive_and_no_tax():
    inclusive = money.document_totals([(1, D("115.00"), 15), (3, D("10.00"), 15)], "Inclusive")
    # 115.00 holds 15.00 tax; 30.00 holds 3.913… → 3.91.
    assert inclusive == money.Totals(D("126.09"), D("18.91"), D("145.00"))
    assert money.document_totals([(2, D("10.005"), 15)], "NoTax") == money.Totals(D("20.01"), D("0.00"), D("20.01"))
    with pytest.raises(ValueError):
        money.document_totals([(1, 1, 15)], "Gross")


def test_a_write_without_unitdp_is_named_as_the_cause():
    lines = [(D("7000"), D("0.1648"), D("15"))]
    xero = money.Totals(D("1120.00"), D("168.00"), D("1288.00"))  # what Xero kept without unitdp=4
    assert money.difference_cause(xero=xero, lines=lines, line_amount_types="Exclusive") == \
        "Xero kept unit amounts to 2 decimals"


def test_precision_beyond_what_xero_keeps_is_named_never_rounded():
    assert money.precision_problems(unit_amounts=[D("0.1648")], quantities=[D("2.5000")],
                                    money_amounts=[D("10.50")]) == []
    problems = money.precision_problems(unit_amounts=[D("0.16485")], quantities=[D("1.00001")],
                                        money_amounts=[D("10.005")])
    assert len(problems) == 3
    assert "Unit amount 0.16485 has more than 4 decimals" in problems[1]
    assert "Amount 10.005 has more than 2 decimals" in problems[2]


def test_journals_balance_to_the_cent_as_entered():
    assert money.journal_imbalance([D("80.00"), D("-80.00")]) == 0
    assert money.journal_imbalance([D("80.01"), D("-80.00")]) == D("0.01")


def test_floats_are_refused():
    with pytest.raises(ValueError):
        money.round_money(0.1)
    with pytest.raises(ValueError):
        money.to_decimal("NaN")
