"""The change history of a report as a reviewer reads it: the item by its Chinese name, each value as it is
shown on the page (a row by its name and numbers, a list by its entries, no value as 未提及), never the stored
JSON. Jinja filters, registered for the whole app by `register`."""

from __future__ import annotations

from typing import Any

from flask import Flask

from service.fields import BY_KEY
from service.labels import item_label
from service.review import UNITS

ROW_NUMBERS = {"indicator": (("weight", "分值"), ("score", "得分")),
               "project": (("budget_initial", "年初预算"), ("budget_full_year", "全年预算"),
                           ("spending_actual", "全年执行"), ("execution_rate", "执行率%"), ("score", "得分"))}
NO_VALUE = "未提及"
NO_ROW = "—"  # before a row was added: there was no row, not a row saying nothing


def item_name(item: str | None) -> str:
    """字段 by its Chinese name, 评分表第 N 行, 项目 N, 存在的问题 / 改进措施; '' for a report-wide entry."""
    return item_label(item) if item else ""


def audit_value(value: Any, item: str | None, action: str = "", side: str = "new") -> str:
    """One side (old or new) of an audit entry, in the reviewer's words."""
    if item is None:  # a job event: a file name, an error, a worker
        return "" if value is None else str(value)
    if value is None:
        return NO_ROW if action == "add" and side == "old" else NO_VALUE
    kind, _, key = item.partition(":")
    if isinstance(value, dict):
        return _row(value, ROW_NUMBERS.get(kind, ()))
    if isinstance(value, list):
        return "；".join(f"{n}. {x}" for n, x in enumerate(value, 1)) if value else "无"
    spec = BY_KEY.get(key) if kind == "field" else None
    unit = UNITS.get(spec.kind, "") if spec else ""
    return f"{_number(value)} {unit}".strip()


def _row(value: dict, numbers: tuple[tuple[str, str], ...]) -> str:
    """“在职人员控制率”（分值 5，得分 4.5）: the row's name and its numbers that are given."""
    parts = [f"{label} {_number(value[k])}" for k, label in numbers if value.get(k) is not None]
    name = value.get("name") or "（无名称）"
    return f"“{name}”" + (f"（{'，'.join(parts)}）" if parts else "")


def _number(value: Any) -> str:
    """12.0 as 12, other values as they are."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def register_filters(app: Flask) -> None:
    """Make the filters available to every template."""
    app.jinja_env.filters.update(item_name=item_name, audit_value=audit_value)
