"""Consistency and plausibility rules: pure functions of values (table-driven)."""

import pytest

from service.check.consistency import execution_rate_fits, plausible, report_date_after_year, sums_add_up
from service.models import FieldValue


def fields(**values):
    return {k: FieldValue(key=k, value=v) for k, v in values.items()}


@pytest.mark.parametrize("values", [
    {"expense_total": 2844.28141, "expense_basic": 914.554725, "expense_project": 1929.726685},
    {"expense_total": 1809.48, "expense_basic": 908.04, "expense_project": 901.44},
    {"expense_total": 100.1, "expense_basic": 50.05, "expense_project": 50.04},  # rounding to the printed digit
    {"income_total": 1809.48, "income_general_budget": 1799.48, "income_gov_fund": 10, "income_other": 0},
    {"sangong_actual": 10.7, "sangong_overseas_actual": 0, "sangong_vehicle_actual": 1.2,
     "sangong_reception_actual": 9.5},
    {"assets_total": 807.744394, "liabilities_total": 106.816368, "net_assets": 700.928026},
    {"expense_total": 100, "expense_basic": 60},  # a part is missing: nothing to check
])
def test_parts_that_add_up_pass(values):
    assert sums_add_up(fields(**values)) == []


def test_parts_that_do_not_add_up_send_every_field_involved_with_the_numbers():
    found = sums_add_up(fields(expense_total=2844.28, expense_basic=914.55, expense_project=1829.73))
    assert {k for k, _ in found} == {"expense_total", "expense_basic", "expense_project"}
    reason = found[0][1]
    assert "基本支出 914.55 + 项目支出 1829.73" in reason and "≠ 支出合计 2844.28" in reason


def test_assets_minus_liabilities_must_be_net_assets():
    found = sums_add_up(fields(assets_total=1692.13, liabilities_total=1181.09, net_assets=611.04))
    assert {k for k, _ in found} == {"assets_total", "liabilities_total", "net_assets"}


@pytest.mark.parametrize(("spent", "budget", "rate", "ok"), [
    (2946.602828, 2946.602828, 100, True),
    (600.25, 620.5, 96.74, True),
    (600.25, 620.5, 100, False),
    (2844.28141, 2946.602828, 100, False),
])
def test_execution_rate_must_fit_spending_over_budget(spent, budget, rate, ok):
    found = execution_rate_fits(fields(spending_actual=spent, budget_full_year=budget, execution_rate=rate))
    assert (found == []) is ok


@pytest.mark.parametrize(("values", "key"), [
    ({"expense_total": -5.0}, "expense_total"),
    ({"self_score": 105}, "self_score"),
    ({"fiscal_year": 1998}, "fiscal_year"),
    ({"staff_actual": -1}, "staff_actual"),
    ({"execution_rate": 1000}, "execution_rate"),
])
def test_implausible_values_are_flagged(values, key):
    assert [k for k, _ in plausible(fields(**values))] == [key]


def test_report_dated_before_the_year_ended_is_flagged():
    assert report_date_after_year(fields(report_date="2023-06-30", fiscal_year=2023))
    assert not report_date_after_year(fields(report_date="2024-06-18", fiscal_year=2023))
