"""Last year's figures a report states: found in running text and tables (in several phrasings, with the
traps that look like them), and held against last year's confirmed record. Pure functions; sentences written
for these tests."""

from __future__ import annotations

import pytest

from service.check.prior_year import COMPUTED_NOTE, agrees, find_prior_statements, prior_mismatches

YEAR = 2023


def found(text: str, year: int = YEAR) -> list[tuple]:
    return [(s.key, s.year, s.value, s.computed) for s in find_prior_statements(text, year)]


@pytest.mark.parametrize("text, expected", [
    # the previous year's figure after this year's, by its year
    ("公用经费2023年决算253.250965万元，2022年117.898674万元，比上年增加114.80%。",
     ("expense_public", 2022, 117.898674)),
    # 上年决算数为…, after this year's figure
    ("本年基本支出914.55万元，上年决算数为850.2万元。", ("expense_basic", 2022, 850.2)),
    # the marker before the label
    ("上年“三公”经费支出8.2万元，本年7.5万元。", ("sangong_actual", 2022, 8.2)),
    ("上年度人员经费支出为350.5万元。", ("expense_personnel", 2022, 350.5)),
    ("去年公务接待费3.2万元，今年压减至2.8万元。", ("sangong_reception_actual", 2022, 3.2)),
    ("2022年度部门支出总额为801.86万元。", ("expense_total", 2022, 801.86)),
    # the marker after the label
    ("“三公”经费上年决算数为12.3万元。", ("sangong_actual", 2022, 12.3)),
    ("项目支出2022年为1183.36万元。", ("expense_project", 2022, 1183.36)),
    ("项目支出1183.36万元（上年1000万元）。", ("expense_project", 2022, 1000.0)),
    ("上年同期公用经费为100万元。", ("expense_public", 2022, 100.0)),
    ("2022年我单位公用经费支出100万元。", ("expense_public", 2022, 100.0)),
    # compared with last year's figure, which the sentence states
    ("公用经费较上年的120.00万元减少5万元。", ("expense_public", 2022, 120.0)),
    ("部门收入总额801.86万元，较2022年的750万元增加51.86万元。", ("income_total", 2022, 750.0)),
    # a budget stated for last year
    ("“三公”经费预算数为25万元，上年为20万元。", ("sangong_budget", 2022, 20.0)),
    # a balance at last year's end
    ("资产总额1692.13万元，上年末为1500.5万元。", ("assets_total", 2022, 1500.5)),
    ("2022年底净资产700.93万元。", ("net_assets", 2022, 700.93)),
])
def test_a_stated_previous_year_figure_is_found_with_its_field_year_and_value(text, expected):
    assert found(text) == [(*expected, False)]


def test_a_figure_in_yuan_is_brought_to_wan_yuan_with_every_digit_and_says_so():
    (s,) = find_prior_statements("2022年度“三公”经费支出合计107000元。", YEAR)
    assert (s.key, s.value, s.note) == ("sangong_actual", 10.7, "由元换算为万元")
    assert s.digits == 4  # whole 元 are four decimals of 万元


def test_the_source_span_is_the_statement_and_the_value_span_its_amount():
    text = "一、概况\n公用经费2023年决算253.25万元，2022年117.90万元。"
    (s,) = find_prior_statements(text, YEAR)
    assert text[s.start:s.end] == s.quote == "公用经费2023年决算253.25万元，2022年117.90万元"
    assert text[s.value_start:s.value_end] == "117.90万元" and s.digits == 2


def test_a_change_in_money_gives_last_years_figure_only_as_computed_and_labelled():
    text = "人员经费400.5万元，比上年增加20.25万元。"
    (s,) = find_prior_statements(text, YEAR)
    assert (s.key, s.year, s.value, s.computed) == ("expense_personnel", 2022, 380.25, True)
    assert s.note.startswith(COMPUTED_NOTE) and "增加 20.25万元" in s.note
    assert s.digits == 1  # the coarser of 400.5 and 20.25
    (fell,) = find_prior_statements("基本支出914.55万元，同比减少10.45万元。", YEAR)
    assert (fell.value, fell.computed) == (925.0, True)
    both = "“三公”经费支出5.5万元，比上年减少0.5万元，其中公务接待费3万元，比上年增加1万元。"
    assert found(both) == [("sangong_actual", 2022, 6.0, True), ("sangong_reception_actual", 2022, 2.0, True)]


def test_a_sentence_that_states_the_figure_and_the_change_gives_the_stated_figure_once():
    assert found("公用经费130万元，比上年120万元增加10万元。") == [("expense_public", 2022, 120.0, False)]


@pytest.mark.parametrize("text", [
    "工资福利支出769.41万元，比上年增加302.16万元。",  # not a field of the spec
    "基本支出比上年减少12.5万元，主要是人员减少。",  # a change with no figure of this year: nothing to subtract from
    "公用经费增长10%，比上年增加114.80%。",  # percentages
    "上年结转资金30万元，其中项目支出20万元。",  # 上年结转 is money carried over, not last year's figure
    "项目支出上年结转资金50万元。",
    "上年结余结转公用经费10万元。",
    "2022年12月拨付公用经费10万元。",  # 2022年 as a date
    "截至2022年12月31日，资产总额800万元。",
    "2022年以来累计项目支出300万元。",  # a period, not a year
    "根据2022年公用经费标准，本年公用经费45万元。",
    "2022年度234个问题厕所整改完成，基本支出500万元。",
    "财政拨款基本支出300万元，上年280万元。",  # a part of 基本支出, not the unit's
    "公用经费10万元，占基本支出的5%，上年为12万元。",  # 12 is not said to be either's
    "2021年、2022年公用经费分别为100万元、120万元。",  # more than one year in one phrase
    "年初预算数500万元，上年决算数为480万元。",  # last year's final accounts are not its budget
    "上年度绩效自评得分95分，上年度项目支出绩效良好。",  # not money
    "上年度共有在职人员52人。",
    "公务用车购置及运行维护费0万元，与上年持平。",  # the same as last year, but no figure of it is stated
    "基本支出914.55万元，占总支出的32.15%，上年为850万元。",  # 850 may be the share's base or anything
    "招待费较2022年9.5万元基本持平。",  # 招待费 is not certainly 公务接待费
])
def test_what_only_looks_like_a_previous_year_figure_is_left_out(text):
    assert found(text) == []


def test_a_year_is_previous_to_the_reports_fiscal_year_only():
    text = "2022年公用经费120万元。上年公用经费110万元。"
    assert found(text, 2023) == [("expense_public", 2022, 120.0, False), ("expense_public", 2022, 110.0, False)]
    assert found(text, 2022) == [("expense_public", 2021, 110.0, False)]  # 2022 is the report's own year
    assert find_prior_statements(text, None) == []  # no fiscal year: 上年 is no year in particular


TABLE = ("{caption}\n"
         "\t项目\n\t{head}\n\t{now}\n\n"
         "\t基本支出\n\t850.00\n\t914.55\n\n"
         "\t其中：人员经费\n\t600\n\t661.3\n\n"
         "\t上年结转资金\n\t12\n\t13\n\n"
         "\t“三公”经费合计\n\t10.5\n\t9.8\n\n")


def test_a_table_with_a_previous_year_column_gives_each_named_rows_figure_in_it():
    text = "二、支出情况\n" + TABLE.format(caption="单位：万元", head="上年决算数", now="本年决算数")
    got = find_prior_statements(text, YEAR)
    assert [(s.key, s.value) for s in got] == [("expense_basic", 850.0), ("expense_personnel", 600),
                                             ("sangong_actual", 10.5)]
    basic = got[0]
    assert text[basic.value_start:basic.value_end] == "850.00" and basic.digits == 2
    assert [text[a:b] for a, b in basic.context] == ["基本支出", "上年决算数"]  # its row and column, lightly


def test_a_tables_unit_in_its_header_counts_and_yuan_are_converted():
    text = TABLE.format(caption="支出对比表", head="2022年（元）", now="2023年（元）")
    got = {s.key: s for s in find_prior_statements(text, YEAR)}
    assert got["expense_basic"].value == pytest.approx(0.085) and got["expense_basic"].note == "由元换算为万元"


@pytest.mark.parametrize("caption, head, now", [
    ("支出对比表", "上年决算数", "本年决算数"),  # no unit anywhere: the figures could be 元 or 万元
    ("单位：万元", "上年结转", "本年决算数"),  # not a previous-year column
    ("单位：万元", "比上年增减", "本年决算数"),
    ("单位：万元", "上年数", "上年决算数"),  # two previous-year columns: which one is meant is not certain
    ("部门预算表 单位：万元", "上年数", "本年预算数"),  # a budget table: its 上年数 is last year's budget
])
def test_a_table_whose_column_or_unit_is_not_certain_is_left_out(caption, head, now):
    assert find_prior_statements(TABLE.format(caption=caption, head=head, now=now), YEAR) == []


# -- against last year's confirmed record -------------------------------------------------------------

def record(**values):
    return {"document_sha256": "a" * 64, "unit_name": "某某县 文化局", "fiscal_year": 2022,
            "source_name": "文化局2022.txt", **values}


def test_a_figure_rounded_to_the_digits_it_is_stated_to_agrees_with_the_record():
    assert agrees(117.90, 2, 117.898674)
    assert agrees(120.0, 2, 120.0)
    assert not agrees(117.90, 2, 120.0)
    assert not agrees(117.898674, 6, 117.9)  # stated to six decimals: 117.9 is another figure
    assert not agrees(10.7, 4, 11.0)  # the record's own rounding is not assumed


def test_a_stated_figure_that_last_years_record_contradicts_gives_the_reason_in_chinese():
    statements = find_prior_statements("公用经费2023年决算130.00万元，2022年117.90万元。", YEAR)
    (m,) = prior_mismatches(statements, "某某县文化局", [record(expense_public=120.0)])
    assert m.reason == "本报告称 2022 年公用经费 117.90 万元，2022 年已确认报告为 120 万元（相差 2.1 万元），请核对"
    assert m.other["document_sha256"] == "a" * 64 and m.recorded == 120.0 and m.label == "公用经费"


def test_a_computed_figure_is_never_said_to_be_stated():
    statements = find_prior_statements("人员经费300.00万元，比上年增加20.00万元。", YEAR)
    (m,) = prior_mismatches(statements, "某某县文化局", [record(expense_personnel=290.0)])
    assert "本报告称" not in m.reason and "本报告未直接写明 2022 年人员经费，由增减额推算为 280.00 万元" in m.reason
    assert "2022 年已确认报告为 290 万元" in m.reason


def test_no_reason_for_an_agreeing_figure_another_unit_another_year_or_a_field_the_record_lacks():
    statements = find_prior_statements("公用经费90.00万元，上年决算数为80.50万元。", YEAR)
    assert prior_mismatches(statements, "某某县文化局", [record(expense_public=80.5)]) == []
    assert prior_mismatches(statements, "某某县卫健局", [record(expense_public=70.0)]) == []
    assert prior_mismatches(statements, "某某县文化局", [record(expense_public=70.0, fiscal_year=2021)]) == []
    assert prior_mismatches(statements, "某某县文化局", [record(expense_public=None)]) == []
    assert prior_mismatches(statements, None, [record(expense_public=70.0, unit_name=None)]) == []
