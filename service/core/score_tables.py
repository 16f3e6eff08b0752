"""Score tables (绩效自评表 / 打分表): every 三级指标 row, the table's total, and the project it is for.

Columns are found by their headers, including two-row headers where a first
row names groups (绩效指标 | 指标分值 | … | 自评打分) and a second row names
the level columns (一级指标 | 二级指标 | 三级指标). Vertically merged cells
arrive empty and are filled down. A row that cannot be aligned to the
header is still reported, for review, never silently dropped or guessed.
"""

from __future__ import annotations

import re

from service.core.evidence import cell_evidence, span, spans
from service.core.genre import TOTAL_ROW, VALUE_CELL, last_stated_total
from service.core.numbers import cell_number, compact, squeeze
from service.document import Cell, Document, Table
from service.models import DEPARTMENT_TABLE, REVIEW, Evidence, IndicatorRow, Project

COLUMN_HEADERS = [
    ("level1", r"^一级指标"),
    ("level2", r"^二级指标"),
    ("name", r"^(三级指标|指标名称|具体指标|评价内容|评价指标|考核内容|考核指标)"),
    ("target", r"^(年度指标值|年度目标值|目标值|预期指标值|指标值|预期目标值)"),
    ("actual", r"^(实际完成值|实际完成情况|完成值|实际值|实际完成)"),
    ("weight", r"^(分值|指标分值|权重|标准分)"),
    ("score", r"^(自评得分|得分|自评打分|评分|自评分)"),
    ("remark", r"^(偏差原因|备注|说明|未完成原因)"),
]
_PLACEHOLDER = re.compile(r"^[.…。·\s]*$")


def _match_header(text: str) -> str | None:
    h = squeeze(text)
    for key, rx in COLUMN_HEADERS:
        if re.match(rx, h):
            return key
    return None


def find_header(table: Table) -> tuple[int, dict[str, int]] | None:
    """(index of the last header row, column of each key) for a score table, else None."""
    for r, row in enumerate(table.rows):
        cols = {}
        for i, cell in enumerate(row):
            key = _match_header(cell.text)
            if key and key not in cols:
                cols[key] = i
        if {"level1", "level2"} <= set(cols):
            merged = _merge_group_header(table, r, cols)
            if "weight" in merged or "score" in merged:
                return r, merged
        if "name" in cols and "weight" in cols and "score" in cols:
            return r, cols
    return None


def _merge_group_header(table: Table, r: int, cols: dict[str, int]) -> dict[str, int]:
    """Two-row header: row r-1 names groups, row r the level columns (004's 打分表)."""
    if "weight" in cols and "score" in cols or r == 0:
        return cols
    top, low = table.rows[r - 1], table.rows[r]
    n_levels = max(cols[k] for k in ("level1", "level2", "name") if k in cols) + 1
    free = [i for i in range(n_levels, len(low)) if not low[i].text.strip()]
    groups = top[1:]
    while groups and not groups[-1].text.strip():  # a grid padded on the right (PDF) is not a header
        groups = groups[:-1]
    if not free or len(groups) < 2:
        return cols
    left = []  # top-row headers left-aligned onto free columns until a sub-header run
    i = n_levels
    g = 0
    while i < len(low) and g < len(groups) and not low[i].text.strip():
        left.append((groups[g], i))
        g += 1
        i += 1
    rest_free = [c for c in free if c >= i]
    right = list(zip(groups[len(groups) - len(rest_free):], rest_free, strict=False)) if rest_free else []
    merged = dict(cols)
    for cell, col in left + right:
        key = _match_header(cell.text)
        if key and key not in merged:
            merged[key] = col
    return merged


def table_subject(table: Table, title: str, text: str | None = None) -> str:
    """`整体` for the department's table, else the project's name.

    The name is a cell of the table's first rows, else the nearest line above it that names a project
    (项目名称：…) or the department's table (…部门整体支出绩效自评表), else the section title says.
    """
    for row in table.rows[:4]:
        for i, cell in enumerate(row[:-1]):
            if re.match(r"^(项目支出名称|项目名称)$", squeeze(cell.text)):
                name = compact(row[i + 1].text)
                if name:
                    return name
    above = _subject_above(text, table.start) if text is not None else None
    if above:
        return above
    return DEPARTMENT_TABLE if ("项目" not in title or DEPARTMENT_TABLE in title) else compact(title) or "项目"


# 项目名称 and its cell, however the row was flattened: `项目名称 | X |`, `项目名称 X 主管部门 …`, run together
PROJECT_CELL = re.compile(r"(?:项目支出名称|项目名称)[\s|:：]*+(?!主管部门|实施单位|项目负责人|预算单位|项目主管|项目实施)(?P<name>[^|\t\n]+?)\s*(?=[|\t\n]|\s(?:主管部门|实施单位)"
                           r"|主管部门|实施单位|项目负责人|项目单位|预算单位|项目资金|资金情况|$)")
# a PDF's text layer printing the name before its label, the label straight before the next one:
# …自评表 (2022 年度) X 项目名称 主管部门 …
_NAME_BEFORE_LABEL = re.compile(r"(?:自评表|年度)\s*[)）]?\s*(?P<name>[^|\t\n()（）:：]{2,60}?)\s*(?:项目支出名称|项目名称)"
                                r"\s*(?=主管部门|实施单位|预算单位)")
# a PDF's text layer printing the name cell after the labels beside 项目名称 (项目名称 项目主管单位 … 实施单位
# … X 项目属性): the first cell after them that is a project's name, ending in 项目 or 工程
_NAME_AMONG_LABELS = re.compile(r"(?:项目支出名称|项目名称)\s+(?=项目主管|主管部门|项目实施|实施单位)[^|\t\n]{0,300}?\s"
                                r"(?P<name>[\u4e00-\u9fff]{2,30}(?:项目|工程))(?=\s)")
_DEPARTMENT_LINE = re.compile(r"部门整体支出|整体支出绩效")
_STOP_LINE = re.compile(r"^\s*(附件\s*[0-9一二三四五六七八九十]*\s*[:：]?\s*$|[一二三四五六七八九十]+、)")
_LOOK_BACK = 800  # characters above a table in which its subject may be named


def _subject_above(text: str, start: int) -> str | None:
    lines = text[max(0, start - _LOOK_BACK):start].split("\n")
    for line in reversed(lines):
        found = sorted((x.start(), compact(x.group("name"))) for rx in (PROJECT_CELL, _NAME_BEFORE_LABEL, _NAME_AMONG_LABELS)
                       for x in rx.finditer(line))
        found = [f for _at, f in found if f and not TOTAL_ROW.match(f)]
        if found:
            return found[-1]
        if _DEPARTMENT_LINE.search(line):
            return DEPARTMENT_TABLE
        if _STOP_LINE.match(line):
            return None
    return None


def read_indicators(doc: Document, table: Table, title: str, subject: str | None = None) -> list[IndicatorRow]:
    found = find_header(table)
    if not found:
        return []
    r0, cols = found
    subject = subject or table_subject(table, title, doc.text)
    width = max(cols.values()) + 1
    headers = spans(header_cells(table, r0, cols).values())
    rows, fill = [], {"level1": None, "level2": None, "name": None}
    read: set[tuple[int, int]] = set()  # the cells of the rows above (a rebuilt row repeats its merged cells)
    for r, row in enumerate(table.rows[r0 + 1:], start=r0 + 1):
        if _is_total_row(row):
            break
        if table.origin == "tsv" and len(row) < width:  # every cell in its column; only trailing cells left out
            row = [*row, *[Cell("", row[-1].end, row[-1].end)] * (width - len(row))]
        ind = _read_row(doc.text, row, cols, width, fill, subject, read)
        read.update(filter(None, map(span, row)))
        if ind is not None:
            ind.evidence.context = list(headers)
            if r in table.guessed:
                ind.status = REVIEW
                ind.confidence = min(ind.confidence, 0.5)
                ind.issues.append(table.guessed[r][1])
            rows.append(ind)
    shifted = [r for r in rows if name_is_a_value(r)]
    if rows and len(shifted) * 3 >= len(rows):  # values in the name column: the whole table is shifted
        for r in rows:
            if r not in shifted:
                r.status = REVIEW
                r.confidence = min(r.confidence, 0.3)
                r.issues.append("本表多行的三级指标名称是数值，表头与数据的列可能整体错位，请核对原表")
    return rows


def _read_row(text, row, cols, width, fill, subject, above=frozenset()) -> IndicatorRow | None:
    """One row under the header's columns `cols`; `fill` carries merged cells down, `above` holds the spans of
    the cells of the rows above, which a row's evidence does not reach back to."""
    texts = [compact(c.text) for c in row]
    if all(not t or _PLACEHOLDER.match(t) for t in texts):
        return None
    aligned = len(row) >= width
    if not aligned:
        cols = _shorter_row_columns(row, cols)
        if cols is None:
            return None
    get = {k: (texts[i] if i < len(texts) else None) for k, i in cols.items()}
    at = {k: span(row[i]) for k, i in cols.items() if i < len(row) and texts[i]}  # each value's own cell
    weight, score = _num(get.get("weight")), _num(get.get("score"))
    name = get.get("name")
    if name and _PLACEHOLDER.match(name):
        return None
    if weight is None and score is None and not get.get("target") and not get.get("actual"):
        for k in ("level1", "level2"):  # a group row with no indicator: remember its labels
            if get.get(k):
                fill[k] = _strip_points(get[k])
                fill[f"{k}_at"] = at.get(k)
        return None
    for k in ("level1", "level2", "name"):
        if get.get(k):
            fill[k] = _strip_points(get[k]) if k != "name" else get[k]
            fill[f"{k}_at"] = at.get(k)
        elif k in fill:
            get[k] = fill[k]
            if fill.get(f"{k}_at"):
                at[k] = fill[f"{k}_at"]  # a merged cell, printed on a row above
    level1 = _strip_points(get.get("level1")) if get.get("level1") else fill["level1"]
    level2 = _strip_points(get.get("level2")) if get.get("level2") else fill["level2"]
    cells = [c for c in row if c.text.strip()]
    cells = [c for c in cells if span(c) not in above] or cells
    first, last = (min(c.start for c in cells), max(c.end for c in cells)) if cells else (0, 0)  # a row paired
    ev = Evidence(text[first:last], first, last,  # from separate runs has its name after its values
                  cells={k: v for k, v in at.items() if v}) if cells else None
    ind = IndicatorRow(table=subject, level1=level1, level2=level2, name=get.get("name") or fill["name"],
                       target=get.get("target"), actual=get.get("actual"), weight=weight, score=score,
                       remark=get.get("remark") or None, confidence=0.9 if aligned else 0.4, evidence=ev)
    if not aligned:
        ind.status = REVIEW
        ind.issues.append("该行单元格数少于表头（有合并单元格），列对应关系为推断，请核对原表")
    if name_is_a_value(ind):
        ind.status = REVIEW
        ind.confidence = min(ind.confidence, 0.3)
        ind.issues.append(f"三级指标名称“{ind.name}”是一个数值，表头与数据的列可能错位，请核对原表")
    return ind


def name_is_a_value(row: IndicatorRow) -> bool:
    """A 三级指标 that reads 13处 or 92.5%: the grid's columns are shifted under its header."""
    return bool(row.name and VALUE_CELL.match(compact(row.name) or ""))


def _shorter_row_columns(row, cols) -> dict[str, int] | None:
    """A row whose first cell spans the level columns (扣分项): shift the other columns left."""
    levels = [cols[k] for k in ("level1", "level2", "name") if k in cols]
    if not levels:
        return None
    span = max(levels)  # columns merged into the first cell, beyond itself
    out = {k: 0 for k in ("level1", "level2", "name") if k in cols}
    for k, i in cols.items():
        if k not in out:
            j = i - span
            if 0 < j < len(row):
                out[k] = j
    return out


def _strip_points(s: str | None) -> str | None:
    if not s:
        return s
    return re.sub(r"[（(]\s*\d+(\.\d+)?\s*分\s*[)）]", "", s).strip() or None


def _num(s: str | None):
    return cell_number(s) if s else None


def _is_total_row(row) -> bool:
    first = next((c for c in row if c.text.strip()), None)
    return first is not None and bool(TOTAL_ROW.match(squeeze(first.text)))


def table_total(table: Table, text: str | None = None) -> tuple[float | int, Evidence] | None:
    """The stated total of a score table (总分 | 100 | 93.5 -> 93.5); with the document's `text`, its evidence
    is the number in its cell, with the 总分 label and the 得分 header as context."""
    for row in table.rows:
        if _is_total_row(row):
            nums = [(cell_number(c.text), c) for c in row[1:] if cell_number(c.text) is not None]
            if nums:
                value, cell = nums[-1]
                if text is None:
                    return value, Evidence(cell.text, cell.start, cell.end)
                label = next(c for c in row if c.text.strip())
                found = find_header(table)
                head = header_cells(table, *found).get("score") if found else None
                return value, cell_evidence(text, cell, [label, head])
    return None


_ABOVE = 600  # characters before a table's header that its head block may take


def stated_total_above(table: Table, text: str, since: int = 0) -> tuple[float | int, Evidence] | None:
    """The total score a project document states above its score table (no 总分 row in the table):
    the last 自评得分 N between `since` (the end of what stands before) and the table's header."""
    start = max(since, table.start - _ABOVE)
    m = last_stated_total(text, start, table.start)
    if m is None:
        return None
    value = cell_number(m.group("n"))
    if value is None or value > 100:
        return None
    return value, Evidence(m.group("n"), m.start("n"), m.end("n"), context=[(m.start(), m.start("n"))])


def header_cells(table: Table, r0: int, cols: dict[str, int]) -> dict[str, Cell]:
    """The header cell of each column key (for a two-row header, the row that names it)."""
    out = {}
    for key, i in cols.items():
        for row in (table.rows[r0], table.rows[r0 - 1] if r0 > 0 else []):
            named = [c for c in row if _match_header(c.text) == key]
            if named:
                out[key] = row[i] if i < len(row) and _match_header(row[i].text) == key else named[0]
                break
    return out


def project_from_table(table: Table, subject: str, money: dict[str, tuple], text: str | None = None,
                       where: dict[str, Evidence] | None = None, stated=None) -> Project:
    """A project's row of money (年初预算数 …) and its total score; its evidence is the total's cell, with the
    cell of each value (`where`: the evidence each money value was read from) in `cells`."""
    p = Project(name=subject)
    cells = {}
    for field in ("budget_initial", "budget_full_year", "spending_actual", "execution_rate"):
        if field in money:
            setattr(p, field, money[field])
            ev = (where or {}).get(field)
            if ev is not None and ev.end > ev.start:
                cells[field] = (ev.start, ev.end)
    total = table_total(table, text) or stated
    if total:
        p.score, p.evidence = total
        cells["score"] = (p.evidence.start, p.evidence.end)
    if p.evidence is not None:
        p.evidence.cells = cells
    return p
