"""The money block of a 自评表 (年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分), rebuilt from the
order of its cells where the text lost the grid.

The block is a header of money columns, then rows each opening with a label (年度资金总额, 基本支出,
项目支出, 其中：当年财政拨款 …) followed by its numbers. Flattened text keeps that order but drops
the empty cells (a blank 年初预算数, a blank 执行率), so the numbers are put in their columns by what
they are: a percentage is the 执行率; after the amounts come 分值 and 得分, small numbers; when fewer
amounts than amount columns are printed, the rightmost amount columns are taken (年初预算数 is the one
most often left blank) and the row says its columns were inferred. The result is an ordinary `Table`
(a header row of canonical names, one row per label) that the label and column readers read as any
grid. Shares the header scan and the cells of `service.ingest.stream_tables`; no library knows these columns.
"""

from __future__ import annotations

import re
from itertools import combinations

from service.core.genre import squeezed
from service.document import Cell, Table
from service.ingest.stream_tables import Token, header_runs, tokens

COLUMNS = ("budget_initial", "budget_full_year", "spending_actual", "execution_weight", "execution_rate",
           "execution_score")
HEADER_TEXT = {"budget_initial": "年初预算数", "budget_full_year": "全年预算数", "spending_actual": "全年执行数",
               "execution_weight": "分值", "execution_rate": "执行率", "execution_score": "得分"}
AMOUNTS = COLUMNS[:3]

_WORDS = re.compile("|".join(f"(?P<{k}__{i}>{p})" for i, (k, p) in enumerate([
    ("other", r"得分计算方法|资金来源|资金来"),  # before 得分, which would match its start
    ("budget_initial", r"年初预算数|年初预算"),
    ("budget_full_year", r"全年(?:\(调整\)|（调整）)?预算数|调整预算数|调整后预算数|全年预算"),
    ("spending_actual", r"全年执行数|执行数|实际支出数"),
    ("execution_weight", r"分值"),
    ("execution_rate", r"执行率"),
    ("execution_score", r"得分"),
])))
_ROW_LABEL = re.compile(r"^(?:年度资金总额|资金总额|年度总金额|基本支出|项目支出|其中[:：]?(?:当年|本年)?财政拨款"
                        r"|(?:当年|本年)?财政拨款|上年结转(?:资金)?|其他资金)[:：]?$")
TOTAL_LABEL = re.compile(r"^(?:年度资金总额|资金总额|年度总金额)[:：]?$")
_AMOUNT = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:万元|元|分)?$")
_PERCENT = re.compile(r"^\d{1,3}(?:\.\d+)?[%％]$")
_EMPTY = re.compile(r"^[-—－/／]+$")
_LABEL_GAP = 12  # cells between the header and a row's label, at most
_STRAY = 2  # cells of words between two rows, at most


def find_money_blocks(text: str, folded: tuple[str, list[int]] | None = None) -> list[Table]:
    """Every money block of `text` (`folded`: `genre.squeezed(text)`)."""
    out = []
    for cols in header_runs(folded or squeezed(text), _WORDS):
        keys = [k for k, _s, _e in cols if k != "other"]
        if len(keys) > len(COLUMNS) or sum(k in AMOUNTS for k in keys) < 2 or not {"execution_weight", "execution_rate", "execution_score"} & set(keys):
            continue
        table = _block(text, cols, keys)
        if table is not None:
            out.append(table)
    return out


def _block(text: str, cols, keys: list[str]) -> Table | None:
    h_start, h_end = cols[0][1], cols[-1][2]
    toks = tokens(text, h_end, min(len(text), h_end + 1500))
    header = [Cell(HEADER_TEXT[k], *next(((s, e) for kk, s, e in cols if kk == k), (h_start, h_start)))
              for k in COLUMNS]
    rows, guessed, i, stray = [], {}, 0, 0
    while i < len(toks):
        t = toks[i]
        label = _ROW_LABEL.match(re.sub(r"\s", "", t.text))
        unlabelled = not rows and i == 0 and _value(t.text)  # numbers straight under the header (PDF order)
        if not label and not unlabelled:
            stray = 0 if _value(t.text) else stray + 1  # a note cell (得分计算方法) between two rows
            if (not rows and i > _LABEL_GAP) or stray > _STRAY:
                break
            i += 1
            continue
        stray = 0
        values = []
        j = i + 1 if label else i
        while j < len(toks) and len(values) < len(keys) and (_value(toks[j].text) or _EMPTY.match(toks[j].text)):
            values.append(toks[j])
            j += 1
        total_row = unlabelled or bool(TOTAL_LABEL.match(re.sub(r"\s", "", t.text)))
        placed, why, used = place(values, keys)
        j = (i + 1 if label else i) + used
        if not total_row:  # 其中：财政拨款 / 上年结转 / 其他资金 / 基本支出: their amounts only
            placed = {k: v for k, v in placed.items() if k in AMOUNTS}
            why = why if why and len(placed) < sum(k in AMOUNTS for k in keys) and placed else None
        first = Cell("年度资金总额", t.start, t.start) if unlabelled else Cell(t.text, t.start, t.end)
        row = [first] + [
            Cell(placed[k].text, placed[k].start, placed[k].end) if k in placed else Cell("", t.end, t.end)
            for k in COLUMNS]
        if unlabelled:
            why = "金额栏由文本还原：数值在表头之下、没有“年度资金总额”标签，按顺序归入各列，请核对原表"
        if why:
            guessed[len(rows) + 1] = ("empty", why)
        if values and (not unlabelled or sum(k in placed for k in AMOUNTS) >= 2):  # a lone number under the
            rows.append(row)  # header is a 序号, not the money
        i = max(j, i + 1)
    if not rows:
        return None
    end = max(c.end for r in rows for c in r)
    return Table(start=h_start, end=end, rows=[[Cell("", h_start, h_start), *header], *rows], origin="stream",
                 guessed=guessed)


def _value(s: str) -> bool:
    s = s.replace(" ", "")
    return bool(_AMOUNT.match(s) or _PERCENT.match(s))


_SKIP_COST = {"budget_initial": 0.5, "budget_full_year": 0.8, "spending_actual": 1.0, "execution_weight": 1.0,
              "execution_rate": 0.9, "execution_score": 1.0}


def place(values: list[Token], keys: list[str]) -> tuple[dict[str, Token], str | None, int]:
    """The row's first numbers in the header's columns `keys`, and how many numbers the row took.

    As many numbers as can be placed are, each in a later column than the one before and of its kind (an
    amount, a 执行率 percentage, a 分值/得分 up to 100; a dash fills any column); of the placements that
    take as many, the one leaving out the columns most often blank wins, and one whose 执行数 / 预算数
    gives the printed 执行率 wins over the rest. When a column was left out, the reason (in Chinese) says
    the columns are an inference."""
    best = None
    for n in range(min(len(values), len(keys)), 0, -1):
        for chosen in combinations(range(len(keys)), n):
            cells = dict(zip((keys[c] for c in chosen), values[:n], strict=True))
            if not all(_fits(k, v.text) for k, v in cells.items()):
                continue
            last = max(chosen)
            cost = sum(_SKIP_COST[keys[c]] for c in range(last) if c not in chosen)
            cost += 0.2 * (len(keys) - 1 - last)
            if _rate_agrees(cells):
                cost -= 1.5
            if best is None or cost < best[0]:
                best = (cost, cells, chosen)
        if best is not None:
            break
    if best is None:
        return {}, None, 0
    _cost, cells, chosen = best
    missing = [HEADER_TEXT[k] for i, k in enumerate(keys) if i not in chosen]
    placed = {k: v for k, v in cells.items() if not _EMPTY.match(v.text)}
    why = ("金额栏由文本还原：" + "、".join(missing) + "单元格为空或缺失，数值按类型归入各列，请核对原表"
           if missing else None)
    return placed, why, len(chosen)


def _rate_agrees(cells: dict[str, Token]) -> bool:
    try:
        rate = float(cells["execution_rate"].text.rstrip("%％"))
        full = _amount(cells["budget_full_year"].text)
        spent = _amount(cells["spending_actual"].text)
    except (KeyError, ValueError):
        return False
    return bool(full) and abs(spent / full * 100 - rate) < 0.06


def _amount(s: str) -> float:
    return float(re.sub(r"[,\s]|万元|元|分", "", s))


def _fits(key: str, s: str) -> bool:
    if _EMPTY.match(s):
        return True
    if key == "execution_rate":
        return bool(_PERCENT.match(s))
    if _PERCENT.match(s) or not _AMOUNT.match(s.replace(" ", "")):
        return False
    if s.endswith("分"):
        return key in ("execution_weight", "execution_score") and _amount(s) <= 100
    return key in AMOUNTS or _amount(s) <= 100


def is_money_block(table: Table) -> bool:
    return table.origin == "stream" and bool(table.rows) and [c.text for c in table.rows[0][1:]] == [
        HEADER_TEXT[k] for k in COLUMNS]
