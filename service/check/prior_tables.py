"""Last year's figures a report states in a table: a 上年数 / 上年决算数 / 2022年 column beside this year's.

基础数据表 and 收支表 often carry the previous year in a column of its own:

    项目 | 上年决算数 | 本年决算数
    基本支出 | 850.00 | 914.55

Each row whose label names a field (the whole cell: 基本支出, 其中：人员经费, “三公”经费合计) gives that field's
figure for the year before the report's, from the cell under the previous-year header. Only when the table
says its money unit (in that header, e.g. 上年数（万元）, or a 单位：万元 line just above the table) and the row
has exactly the header's cells (a merged or missing cell would put the number under another column). Pure:
the tables are read from the text itself (`service.ingest.tables.find_tables`). A table of budgets (its title
or header says 预算, never 决算) is left out: its 上年数 is last year's budget.
"""

from __future__ import annotations

import re

from service.check.prior_statements import PriorStatement, money_in_wan
from service.core.lexicon import Q
from service.core.numbers import NUMBER, squeeze
from service.document import Cell, Table
from service.ingest.tables import find_tables

# a row's label (the whole cell, without its numbering or 其中：) -> field
ROW_FIELDS: dict[str, str] = {
    rf"{Q}三公{Q}经费(?:合计|支出|支出合计|决算数?)?": "sangong_actual",
    r"因公出国[(（]境[)）]费用?": "sangong_overseas_actual",
    r"公务用车购置(?:及|和)运行(?:维护)?费用?": "sangong_vehicle_actual",
    r"公务接待费用?": "sangong_reception_actual",
    r"(?:本年)?支出(?:合计|总计)": "expense_total",
    r"(?:本年)?收入(?:合计|总计)": "income_total",
    r"基本支出": "expense_basic",
    r"项目支出": "expense_project",
    r"人员经费(?:支出)?": "expense_personnel",
    r"公用经费(?:支出)?": "expense_public",
    r"政府采购(?:金额|支出)?": "procurement_actual",
    r"资产总(?:额|计)": "assets_total",
    r"负债总(?:额|计)": "liabilities_total",
    r"净资产": "net_assets",
}
_NUMBERING = re.compile(r"^(?:[(（][一二三四五六七八九十\d]+[)）]|[一二三四五六七八九十\d]+[、.．])?(?:其中[:：]?)?")
_UNIT_IN = re.compile(r"[(（](?:单位[:：])?(万元|元)[)）]")
_UNIT_ABOVE = re.compile(r"单位[:：]\s*(万元|元)")
_ABOVE = 120  # characters before a table in which its 单位：万元 line may stand


def table_statements(text: str, fiscal_year: int) -> list[PriorStatement]:
    """The previous-year figures of the fields in every table of `text` with a previous-year column."""
    out: list[PriorStatement] = []
    if not re.search(rf"上一?年|去年|{fiscal_year - 1}年", text):
        return out  # no table can have the column: reading them all is most of the time this takes
    for table in find_tables(text):
        found = _prior_column(table, fiscal_year)
        if found is None:
            continue
        at, col = found
        header = table.rows[at]
        unit = _unit(text, table, header[col])
        if unit is None or col == 0 or _about_budgets(text, table, header):
            continue
        for row in table.rows[at + 1:]:
            made = _row_statement(row, header, col, unit, fiscal_year)
            if made is not None:
                out.append(made)
    return out


def _prior_column(table: Table, year: int) -> tuple[int, int] | None:
    """(row, column) of the one header cell, in the first three rows, that reads 上年数 / 上年决算数 / 2022年;
    not 上年结转 or 比上年增减, which are not the previous year's figure."""
    rx = re.compile(rf"(?:上一?年度?|去年|{year - 1}年度?)(?:决算|实际|执行)?(?:数|金额|决算数|支出数|执行数)?"
                    r"(?:[(（](?:单位[:：])?(?:万元|元)[)）])?")
    for i, row in enumerate(table.rows[:3]):
        hits = [j for j, c in enumerate(row) if rx.fullmatch(squeeze(c.text))]
        if len(hits) == 1:
            return i, hits[0]
    return None


def _unit(text: str, table: Table, head: Cell) -> str | None:
    """The table's money unit: in the column's header, else on a 单位： line just above the table."""
    m = _UNIT_IN.search(squeeze(head.text))
    if m:
        return m.group(1)
    found = _UNIT_ABOVE.findall(squeeze(text[max(0, table.start - _ABOVE):table.start]))
    return found[-1] if found else None


def _about_budgets(text: str, table: Table, header: list[Cell]) -> bool:
    """A table of budgets (部门预算表: 上年数 | 本年数 of 预算) gives last year's budget, not its final accounts:
    its title or header says 预算 and nowhere 决算."""
    said = squeeze(text[max(0, table.start - _ABOVE):table.start] + "".join(c.text for c in header))
    return "预算" in said and "决算" not in said


def _row_statement(row: list[Cell], header: list[Cell], col: int, unit: str, year: int) -> PriorStatement | None:
    if len(row) != len(header):
        return None
    label = _NUMBERING.sub("", squeeze(row[0].text)).rstrip(":：")
    key = next((k for rx, k in ROW_FIELDS.items() if re.fullmatch(rx, label)), None)
    cell = row[col]
    m = re.fullmatch(rf"({NUMBER})\s*(万元|元)?", squeeze(cell.text))
    if key is None or m is None:
        return None
    got = money_in_wan(m.group(1), m.group(2) or unit)
    if got is None:
        return None
    value, digits, note = got
    context = tuple((c.start, c.end) for c in (row[0], header[col]) if c.end > c.start)
    return PriorStatement(key, year - 1, value, digits, cell.text, cell.start, cell.end, cell.start, cell.end,
                          note=note, context=context)
