"""Projects in a list table (项目名称 | 年初预算数 | … | 自评得分), read by the table's column headers.

Each row below the header is one project (a "—" is not stated). Both engines and the re-check read a
project list table this way, so it lives in the core.
"""

from __future__ import annotations

import re

from service.core.candidates import cell_value, table_unit
from service.core.evidence import spans
from service.core.genre import TOTAL_ROW
from service.core.numbers import cell_number, compact, squeeze
from service.document import Document, Table
from service.models import REVIEW, Evidence, Project

PROJECT_COLUMNS = [
    (r"^(?:项目名称|项目支出名称|项目)$", "name"),
    (r"^年初预算(?:数|金额)?$", "budget_initial"),
    (r"^(?:全年|调整后)预算(?:数|金额)?$", "budget_full_year"),
    (r"^(?:全年执行数?|实际支出(?:数|金额)?|执行数|决算数|支出数)$", "spending_actual"),
    (r"^(?:预算)?执行率$", "execution_rate"),
    (r"^(?:自评得分|得分|自评分|评分)$", "score"),
]
_MONEY = ("budget_initial", "budget_full_year", "spending_actual", "execution_rate")


def _head(text: str) -> str:
    return re.sub(r"[(（][^)）]{0,8}[)）]$|%$", "", squeeze(text))  # 全年预算数（万元） -> 全年预算数


def _project_columns(row) -> dict[str, int]:
    cols: dict[str, int] = {}
    for i, cell in enumerate(row):
        for rx, key in PROJECT_COLUMNS:
            if key not in cols and re.match(rx, _head(cell.text)):
                cols[key] = i
                break
    return cols


def project_list_header(table: Table) -> tuple[int, dict[str, int]] | None:
    """The header row of a table that lists projects: a 项目名称 column and two money columns or more."""
    for r, row in enumerate(table.rows[:3]):
        cols = _project_columns(row)
        if "name" in cols and sum(k in cols for k in _MONEY) >= 2:
            return r, cols
    return None


def read_project_list(doc: Document, table: Table) -> list[Project] | None:
    """Every project row of a project list table; None when the table is not one."""
    found = project_list_header(table)
    if found is None:
        return None
    r0, cols = found
    unit = table_unit(doc, table)
    headers = spans(table.rows[r0][i] for i in cols.values() if i < len(table.rows[r0]))
    out = []
    for row in table.rows[r0 + 1:]:
        name = compact(row[cols["name"]].text) if cols["name"] < len(row) else None
        if not name or TOTAL_ROW.match(name) or re.match(r"^(?:小计|总计|其中)", name):
            continue
        cells = [c for c in row if c.text.strip()]
        p = Project(name=name, evidence=Evidence(doc.text[cells[0].start:cells[-1].end], cells[0].start,
                                                 cells[-1].end, context=headers))
        p.evidence.cells["name"] = (row[cols["name"]].start, row[cols["name"]].end)
        for key in _MONEY:
            i = cols.get(key)
            if i is None or i >= len(row) or not row[i].text.strip() or blank(row[i].text):
                continue
            c = cell_value(doc, key, row[i], unit, table.rows[r0][i].text)
            if c is None:
                p.status = REVIEW
                p.issues.append(f"“{compact(table.rows[r0][i].text)}”列的“{row[i].text.strip()}”不是可识别的数值，请核对")
            else:
                setattr(p, key, c.value)
                p.evidence.cells[key] = (row[i].start, row[i].end)
        i = cols.get("score")
        if i is not None and i < len(row) and row[i].text.strip() and not blank(row[i].text):
            p.score = cell_number(row[i].text)
            if p.score is not None:
                p.evidence.cells["score"] = (row[i].start, row[i].end)
        out.append(p)
    return out


def blank(text: str) -> bool:
    """—, -, /, 无: the table says nothing here."""
    return bool(re.fullmatch(r"[—–\-－/／\\无]*", text.strip()))
