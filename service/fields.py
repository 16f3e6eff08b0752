"""The facts extracted from a report: the keys of spec/fields.md, their Chinese names and types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    key: str
    zh: str
    kind: str  # "text", "year", "date", "int", "money", "percent", "score"


FIELDS: list[FieldSpec] = [
    FieldSpec("unit_name", "部门（单位）名称", "text"),
    FieldSpec("fiscal_year", "评价年度", "year"),
    FieldSpec("report_date", "报告日期", "date"),
    FieldSpec("self_score", "自评得分", "score"),
    FieldSpec("rating", "评价等级", "text"),
    FieldSpec("staff_authorized", "编制数", "int"),
    FieldSpec("staff_actual", "实有在职人数", "int"),
    FieldSpec("retirees", "离退休人数", "int"),
    FieldSpec("vehicles", "公务用车数量", "int"),
    FieldSpec("budget_initial", "年初预算数", "money"),
    FieldSpec("budget_full_year", "全年预算数", "money"),
    FieldSpec("spending_actual", "全年执行数", "money"),
    FieldSpec("execution_rate", "预算执行率", "percent"),
    FieldSpec("execution_weight", "预算执行率分值", "score"),
    FieldSpec("execution_score", "预算执行率得分", "score"),
    FieldSpec("income_total", "收入合计", "money"),
    FieldSpec("income_general_budget", "一般公共预算收入", "money"),
    FieldSpec("income_gov_fund", "政府性基金预算收入", "money"),
    FieldSpec("income_other", "其他收入", "money"),
    FieldSpec("expense_total", "支出合计", "money"),
    FieldSpec("expense_basic", "基本支出", "money"),
    FieldSpec("expense_project", "项目支出", "money"),
    FieldSpec("expense_personnel", "人员经费", "money"),
    FieldSpec("expense_public", "公用经费", "money"),
    FieldSpec("sangong_budget", "“三公”经费预算数", "money"),
    FieldSpec("sangong_actual", "“三公”经费决算数", "money"),
    FieldSpec("sangong_overseas_actual", "因公出国（境）费", "money"),
    FieldSpec("sangong_vehicle_actual", "公务用车购置及运行维护费", "money"),
    FieldSpec("sangong_reception_actual", "公务接待费", "money"),
    FieldSpec("procurement_actual", "政府采购金额", "money"),
    FieldSpec("assets_total", "资产总额", "money"),
    FieldSpec("liabilities_total", "负债总额", "money"),
    FieldSpec("net_assets", "净资产", "money"),
]

BY_KEY = {f.key: f for f in FIELDS}
