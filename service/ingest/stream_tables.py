"""Score tables whose grid was lost on the way into text, rebuilt from their header and the cells' meaning.

Reports copied out of web pages, PDFs and spreadsheets arrive with their
绩效自评表 flattened in ways no row-by-row parser reads: one cell per line with
the header cells broken over lines (年度 / 指标值), `|` rows that drift (a
row's cells go on over the next line, the rowspan cells of later rows simply
missing), runs separated by single spaces with the empty cells dropped, a
two-row header printed as one line. What survives all of them is the order
of the cells.

So the header is found by its column names, matched on a copy without
separators, which gives the order of the columns; then the cells after it are
aligned to those columns by a small dynamic programme. Each cell is scored
by how well it fits a column (a 分值 is a number up to 100; a 二级指标 ends in
指标; a 三级指标 is words, not a number), each skipped column costs by how
often it is left blank or merged in real tables (a rowspan 一级指标: little;
an empty 指标值: more, and the row says its columns were inferred; a 得分:
much), and cells may be joined into one (a name broken over lines). The
result is an ordinary `Table` in one canonical column layout, so every
reader downstream sees the same cells as from a native grid.

No library does this: table finders (pdfplumber, camelot) need the page's
geometry, which text has lost; what is left is knowledge of this genre's
columns, which lives here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.core.genre import TOTAL_ROW, VALUE_CELL, squeezed
from service.document import Cell, Table

# canonical layout of a rebuilt score table
COLUMNS = ("level1", "level2", "name", "target", "actual", "weight", "score", "remark")
HEADER_TEXT = {"level1": "一级指标", "level2": "二级指标", "name": "三级指标", "target": "年度指标值",
               "actual": "实际完成值", "weight": "分值", "score": "得分", "remark": "偏差原因分析及改进措施"}

# header words (on whitespace-free text), longest first within each key; `group` names a column group of a
# two-row header (绩效指标 over the level columns); `other` columns are read over (评分标准, 复核分)
_HEADER_WORDS: list[tuple[str, str]] = [
    ("level1", r"一级指标"), ("level2", r"二级指标"),
    ("name", r"指标名称[(（]三级指标[)）]|三级指标|指标名称|具体指标"),
    ("target", r"年度指标值|年度目标值|年初指标值|年初目标值|预期指标值|预期目标值|全年指标值|目标值|指标值|计划值"),
    ("actual", r"实际完成值|实际完成情况|全年实际值|年终完成值|年末完成值|实际完成|完成值|实际值"),
    ("weight", r"指标分值|权重分|分值|权重|标准分"),
    ("score", r"自评得分|自评打分|自评分|得分(?!率)|评分(?!标准)"),
    ("remark", r"(?:偏差|未完成)原因(?:分析)?(?:及|和)?(?:(?:拟采取的)?改进措施)?|备注|说明(?!及)"),
    ("nature", r"指标性质"), ("unit", r"度量单位|计量单位"), ("seq", r"序号"),
    ("other", r"得分率|复核分|指标解释|指标说明及评分标准|评分标准|评价标准(?:及依据)?|指标说明"),
    ("group", r"年度绩效指标|绩效指标"),
]
HEADER_RX = re.compile("|".join(f"(?P<{k}__{i}>{p})" for i, (k, p) in enumerate(_HEADER_WORDS)))
_SUFFIX = re.compile(r"[(（](?:[A-Za-z八](?:/[A-Za-z])?|\d+分|分|万元|元|%)[)）]")  # 指标值(A), 执行率(B/A), 分值(10分)
_NAME_PIECE = re.compile(r"^(?:指标|[(（]?分[)）]?|全年|年度|本年|\(|\))$")

_NUMBER = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)分?$")
_PLACEHOLDER = re.compile(r"^(?:[.…。·\-—－/／、\s]*|指标\d+[:：]?|[-—]{1,2})$")
_NUMBERED = re.compile(r"^指标\d+[:：]")
_POINTS = re.compile(r"^[(（]?\d+(?:\.\d+)?分?[)）]$")
_HAS_POINTS = re.compile(r"[(（]\s*\d+(?:\.\d+)?\s*分?\s*[)）]")
LEVEL1_WORD = re.compile(r"^(?:项目)?(?:产出|效益|满意度|成本|决策|过程|管理|规划|执行|履职效能|管理效率|绩效)(?:指标)?$")
_LEVEL2_STEMS = "数量|质量|时效|成本|经济效益|社会效益|生态效益|可持续影响|服务对象满意度|满意度"  # …指标
LEVEL2_WORD = re.compile(rf"(?:{_LEVEL2_STEMS}|社会成本|经济成本|生态环境成本)指标(?:等)?$")
_LEVEL2_INSIDE = re.compile(rf"(?:{_LEVEL2_STEMS})指标")
# the 二级指标 of the 决策/过程 framework, named without 指标 (项目管理(25分) › 投入管理 › 预算执行率)
_PROCESS_LEVEL2 = r"(?:投入|财务|业务|资金|资产|组织|合同|采购|项目)(?:管理|实施)"  # also cut out of a blob
_PROCESS_WORD = re.compile(rf"^(?:{_PROCESS_LEVEL2}|项目立项|绩效目标|资金投入)$")
_UNIT_WORDS = {"万元", "元", "年", "月", "日", "人", "个", "次", "种", "户", "米", "公里", "亩", "万亩", "指标"}
_PROSE = re.compile(r"[，。；,;：:]")
_NATURE = re.compile(r"^(?:[≥≤≧≦=＝<>＜＞═]{1,2}|定性|定量|正向|反向)$")
STOP = re.compile(r"^(?:其他需要说明的?事项|注[:：]|填表人|填报人|填报日期|联系人|[一二三四五六七八九十]+、"
                   r"|[（(][一二三四五六七八九十]+[)）])")
_SEP = re.compile(r"[|\t\n \u3000\xa0]+")

MAX_TOKENS = 2500
MAX_COLUMNS = 12  # more names in one header run is no 自评表's header
_HEADER_JUNK = 4  # characters of a header that are no column name, read over between two names
INF = float("inf")


@dataclass
class Token:
    text: str
    start: int
    end: int
    sep: str  # what stands before it: "hard" (| tab, several spaces), "line", "soft" (one space), "blob" (nothing)
    split: bool = False  # cut out of a run of digits (20100% -> 20 | 100%)
    misread: str = ""  # the characters printed, where an OCR'd run shows a number as letters (IO for 10)


# -- header -------------------------------------------------------------------

def header_runs(folded: tuple[str, list[int]], words_rx: re.Pattern, junk_key=None) -> list[list[tuple[str, int, int]]]:
    """Runs of column names one after another, however the cells are separated: [(key, start, end), …].

    `words_rx` has one named group per name (KEY__N); a few characters that are no name (an OCR misreading,
    考值参分) are read over between two names, as the column `junk_key(chunk, keys so far)` says (None: not
    a column); 指标 / (分) / 全年 left over from a name printed in two pieces are never a column. `folded`
    is `genre.squeezed(text)`: the text folded once, each character's offset in it."""
    words, where = folded
    out, i = [], 0
    while True:
        m = words_rx.search(words, i)
        if m is None:
            return out
        cols, j = [], m.start()
        while True:
            m2 = words_rx.match(words, j)
            if m2 is None and len(cols) >= 2:
                later = [words_rx.match(words, j + k) for k in range(1, _HEADER_JUNK + 1)]
                k, m2 = next(((k, x) for k, x in enumerate(later, 1) if x), (0, None))
                if m2 is not None:
                    junk = words[j:j + k]
                    key = None if _NAME_PIECE.match(junk) or junk_key is None else junk_key(junk, {c for c, *_ in cols})
                    if key:
                        cols.append((key, where[j], where[j + k - 1] + 1))
            if m2 is None:
                break
            key = next(k for k, v in m2.groupdict().items() if v is not None).split("__")[0]
            end = m2.end()
            suffix = _SUFFIX.match(words, end)
            if suffix and key != "group":
                end = suffix.end()
            cols.append((key, where[m2.start()], where[end - 1] + 1))
            j = end
        out.append(cols)
        i = max(j, m.end())


def _score_junk(junk: str, keys: set[str]) -> str:
    return "weight" if "分" in junk and "weight" not in keys else "other"


def find_headers(folded: tuple[str, list[int]]) -> list[tuple[int, int, list[tuple[str, int, int]]]]:
    """(start, end, [(key, start, end), …]) of every score-table header: an indicator column and a weight or
    score column among three names or more."""
    out = []
    for cols in header_runs(folded, HEADER_RX, _score_junk):
        keys = {k for k, _s, _e in cols}
        if len(cols) >= 3 and keys & {"name", "level1", "level2"} and keys & {"weight", "score"}:
            out.append((cols[0][1], cols[-1][2], cols))
    return out


def column_order(cols: list[str]) -> list[str]:
    """The data columns, left to right, from the header words as printed.

    A two-row header printed as one run (绩效指标 年度指标值 实际完成值 分值 得分 … 一级指标 二级指标
    三级指标 指标性质 指标值 度量单位) names the groups first, then the columns under them: the level
    columns and the parts of 指标值 take the place of their group."""
    cols = [c for c in cols if c != "group"]
    first_num = next((i for i, c in enumerate(cols) if c in ("weight", "score")), None)
    second = next((i for i, c in enumerate(cols) if first_num is not None and i > first_num
                   and c in ("level1", "level2", "name")), None)
    if second is None:
        return _dedupe(cols)
    top, sub = cols[:second], cols[second:]
    parts = [c for c in sub if c in ("nature", "target", "unit")]
    levels = [c for c in sub if c not in ("nature", "target", "unit")]
    out = list(levels)
    for c in top:
        if c == "target" and parts:
            out += parts
        elif c not in out:
            out.append(c)
    return _dedupe(out)


def _dedupe(cols: list[str]) -> list[str]:
    out = []
    for c in cols:
        if c in out and c != "other":
            continue
        out.append(c)
    return out


# -- tokens -----------------------------------------------------------------

def tokens(text: str, start: int, end: int, blob: bool = False) -> list[Token]:
    """The cells between `start` and `end`; with `blob` (the header itself was printed without separators),
    long runs are cut into pieces too (see `_pieces`)."""
    out, pos, sep = [], start, "hard"
    for m in [*_SEP.finditer(text, start, end), None]:
        stop = m.start() if m else end
        if stop > pos:
            tok = Token(text[pos:stop], pos, stop, sep)
            if blob and sep == "line" and (page := _PAGE_MARK.match(tok.text)):
                tok = Token(tok.text[page.end():], pos + page.end(), stop, "blob")  # 2、 a sharing site's page
                if tok.text.startswith("指标") and not _BLOB_WHOLE.match(tok.text):  # 社会效益 / 3、指标…: one word
                    out.append(Token("指标", tok.start, tok.start + 2, "blob"))
                    tok = Token(tok.text[2:], tok.start + 2, stop, "blob")
            out += (_pieces(tok) if blob else [tok]) if tok.text else []
        if m is None:
            break
        g = m.group()
        sep = ("hard" if ("|" in g or "\t" in g) else "line" if "\n" in g else "hard" if len(g) > 1 else "soft")
        pos = m.end()
    return out


# a number as a cell holds it: 10, 97.80%, ≥266, ≥90%
_NUM_PIECE = re.compile(r"[≥≤≧≦=＝<>＞＜]?\d+(?:\.\d+)?%?")
_DASHES = "一-—－"  # a dash printed for an empty 指标值 (OCR reads it as 一), cut off the words after a number
_BLOB = 16  # a run this long without separators, holding numbers and words, is several cells run together


_BLOB_POINTS = re.compile(r"[(（]\d+(?:\.\d+)?分[)）]")
_BLOB_WORDS = re.compile(rf"(?:产出|效益|{_LEVEL2_STEMS})指标|{_PROCESS_LEVEL2}|总分|合计|[.…。·]{{2,}}")
# kept whole in a blob: a date (2021年12月完成, the digits of the cell before it cut off) and an empty row's
# placeholder label (指标2:, 指标L: as OCR reads 指标1:)
_BLOB_WHOLE = re.compile(r"(?:19|20)\d\d年(?:\d{1,2}月(?:\d{1,2}日)?)?(?:底|末|前|内|以前)?(?:前?完成)?"
                         r"|指标[\dLlI][:：]")
_PAGE_MARK = re.compile(r"\d{1,2}、(?=\D)")  # a document-sharing site numbers each page's text 1、 2、 3、
# a number's unit, the one word a number is joined with inside a blob (≥266 米, 2370人)
_UNIT_AFTER = re.compile(r"(?:%|‰|万?元|亿元|万|万?人(?:次)?|个(?:月)?|次|项|家|所|户|年|月|日|天|小时|工作日|"
                         r"万?(?:平方)?米|公里|千米|㎡|万?亩|吨|件|篇|场|期|批|处|条|株|棵|头|只|台|套|辆|座|间|册|份|"
                         r"本|张|名|位|类|种|部|例|床|分钟|秒|度|[A-Za-z]{1,3})")
# an OCR'd number printed with letters for digits (IO for 10, l00 for 100), read only where a number must be
_LOOKALIKE = str.maketrans({"I": "1", "l": "1", "O": "0", "o": "0"})
_MISREAD = re.compile(r"[1Il][0-9OoIl]{1,2}")


def _pieces(tok: Token) -> list[Token]:
    """A run of cells printed without separators (数量指标安装坡面水标尺10≥266米≥266米10), cut before and
    after every number and every level word; the pieces are marked `blob`, so that they may be joined again."""
    t = tok.text
    nums = list(_NUM_PIECE.finditer(t))
    if len(t) < _BLOB or len(nums) < 2 or not re.search(r"[\u4e00-\u9fff]{2}", t):
        return [tok]
    points = [(m.start(), m.end()) for m in _BLOB_POINTS.finditer(t)]
    wholes = [(m.start(), m.end()) for m in _BLOB_WHOLE.finditer(t)]
    inside = {i for a, b in points + wholes for i in range(a + 1, b)}
    cuts = {0, len(t)} | {b for _a, b in points} | {x for span in wholes for x in span}
    cuts |= {x for m in nums if m.start() not in inside for x in (m.start(), m.end())}
    cuts |= {x for m in _BLOB_WORDS.finditer(t) for x in (m.start(), m.end())}
    cuts = sorted(c for c in cuts if c not in inside)
    cuts = [c for c in cuts if not any(a == c for a, _b in points)]  # 产出指标(70分): the points stay on
    cuts = sorted({0, len(t), *cuts})
    cuts = sorted({*cuts, *(c + 1 for c in cuts if 0 < c < len(t) - 1 and t[c] in _DASHES and t[c - 1].isdigit())})
    cuts = sorted({*cuts, *(x for m in _MISREAD.finditer(t) if _misread(m.group()) for x in m.span())})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = t[a:b]
        subs = _split_piece(piece)
        for sub_a, sub_b in subs:
            text, misread = piece[sub_a:sub_b], ""
            if _misread(text):
                text, misread = text.translate(_LOOKALIKE), text
            out.append(Token(text, tok.start + a + sub_a, tok.start + a + sub_b,
                             tok.sep if not out else "blob", split=len(subs) > 1, misread=misread))
    return _repeated_values(out)


def _misread(s: str) -> bool:
    return bool(_MISREAD.fullmatch(s)) and not s.isdigit() and int(s.translate(_LOOKALIKE)) <= 100


_DECIMAL = re.compile(r"[1-9]\d*(?:\.\d+)?|0\.\d+")


def _repeated_values(pieces: list[Token]) -> list[Token]:
    """415万元15万元 → 4 | 15万元 | 15万元: a target printed again as its actual shows where the 分值 before it
    ends; the digits are cut there (and the row says so)."""
    out = list(pieces)
    for i in range(len(out) - 3):
        n, unit, m, unit2 = out[i:i + 4]
        head = n.text[:-len(m.text)] if len(n.text) > len(m.text) and n.text.endswith(m.text) else ""
        if (unit.text == unit2.text and _UNIT_AFTER.fullmatch(unit.text) and _DECIMAL.fullmatch(m.text)
                and head.isdigit() and 0 < int(head) <= 100 and m.sep == "blob" and unit.sep == "blob"):
            k = n.start + len(head)
            out[i:i + 1] = [Token(head, n.start, k, n.sep, split=True),
                            Token(m.text, k, n.end, "blob", split=True)]
    return out


def _split_piece(piece: str) -> list[tuple[int, int]]:
    half = len(piece) // 2
    if len(piece) >= 4 and len(piece) % 2 == 0 and piece[:half] == piece[half:] and not piece[0].isdigit():
        return [(0, half), (half, len(piece))]  # 显著提升显著提升: a target and its actual, both printed
    return _split_digits(piece)


def _split_digits(piece: str) -> list[tuple[int, int]]:
    """20100% → 20 | 100%: integer digits run together where a weight (≤ 100) met the next number; cut only
    where one cut gives two numbers that can both be cells (no leading zero, the first ≤ 100)."""
    m = re.fullmatch(r"(\d{3,6})(%?)", piece)
    if not m or int(m.group(1)) <= 100:
        return [(0, len(piece))]
    digits = m.group(1)
    cuts = [k for k in range(1, len(digits)) if digits[k] != "0" and 0 < int(digits[:k]) <= 100
            and (not m.group(2) or int(digits[k:]) <= 100)]
    if len(cuts) != 1:
        return [(0, len(piece))]
    return [(0, cuts[0]), (cuts[0], len(piece))]


# -- fitting cells to columns ---------------------------------------------------

def number_of(s: str) -> float | None:
    m = _NUMBER.match(s)
    return float(m.group(1)) if m else None


def _fit(col: str, s: str) -> float:
    """How badly the text `s` fits column `col` (0 fits; INF cannot be)."""
    n = number_of(s)
    placeholder = bool(_PLACEHOLDER.match(s))
    bare = _HAS_POINTS.sub("", s)
    numbered = bool(_NUMBERED.match(s)) and not placeholder  # 指标1:工程质量合格 is a 三级指标
    if numbered and col != "name":
        return INF if col in ("weight", "score", "seq", "nature", "unit") else 3.0
    if bare == "指标" and col not in ("level1", "level2"):
        return 3.0
    if col in ("name", "target", "actual", "remark") and _LEVEL2_INSIDE.search(bare[:-2]):
        return 2.5  # a 二级指标 word and then more: two cells run into one
    if col == "weight":
        return 0.0 if n is not None and 0 < n <= 100 else INF
    if col == "score":
        return 0.0 if n is not None and 0 <= n <= 100 else INF
    if col == "seq":
        return 0.0 if s.isdigit() and int(s) <= 300 else INF
    if col == "nature":
        return 0.0 if _NATURE.match(s) else INF
    if col == "unit":
        return 0.0 if n is None and len(s) <= 4 and not placeholder else INF
    if col in ("level1", "level2") and len(_LEVEL2_INSIDE.findall(bare)) > 1:
        return 3.0  # two level words: a group without rows, then the next
    if col in ("level1", "level2") and (len(bare) > 14 or _PROSE.search(bare)):
        return 3.0  # a level label is a few words, never a sentence
    if col == "level1":
        if n is not None or placeholder:
            return INF
        if LEVEL1_WORD.match(bare) or _POINTS.match(s):
            return 0.0
        if LEVEL2_WORD.search(bare):
            return 2.5
        return 0.6 if _HAS_POINTS.search(s) else 3.0
    if col == "level2":
        if n is not None or placeholder:
            return INF
        if LEVEL2_WORD.search(bare) or bare.endswith("指标") or _PROCESS_WORD.match(bare):
            return 0.0
        if LEVEL1_WORD.match(bare):
            return 1.5
        return 0.6 if _HAS_POINTS.search(s) else 2.5
    if col == "name":
        if placeholder:
            return INF
        if VALUE_CELL.match(s) and n is None:
            return INF  # 37442人, 28种: a value, never an indicator's name
        if n is not None:
            return 4.0
        core = s.strip(":：、,，.。;； ")
        if len(core) < 2 or core in _UNIT_WORDS or re.fullmatch(r"[A-Za-z]+", core):
            return INF  # 年, 万元, 指标 left over from cells cut apart: no name
        if core != s:
            return 1.5
        if LEVEL2_WORD.search(bare) or LEVEL1_WORD.match(bare) or _POINTS.match(s):
            return 2.5
        return 0.0 if len(s) <= 40 else 1.0
    if col in ("target", "actual"):
        if n is not None or re.search(r"\d|%|[≥≤≧≦＞＜><=＝═]", s):
            return 0.0
        if LEVEL2_WORD.search(bare) or LEVEL1_WORD.match(bare):
            return 2.5
        if placeholder:
            return 0.3
        return 0.4 if len(s) <= 12 else 1.2
    if col == "remark":
        if s in ("无", "/", "／"):
            return 0.0
        if placeholder:
            return 0.2
        if n is not None:
            return 2.0
        if LEVEL2_WORD.search(bare) or LEVEL1_WORD.match(bare):
            return 2.5
        return 0.6
    if col == "other":
        return 0.3 if n is None else 0.6
    return INF


# a column left out of a row: at its start (a rowspan), in its middle (an empty cell dropped), at its end
_SKIP = {"level1": 0.1, "level2": 0.2, "name": INF, "target": 0.85, "actual": 0.9, "weight": 1.6, "score": 1.6,
         "remark": 0.05, "nature": 0.3, "unit": 0.3, "seq": 0.3, "other": 0.3}
_JOIN = {"soft": 0.15, "line": 0.35, "hard": 1.3, "blob": 0.05}
_MAX_SPAN = {"name": 5, "level1": 3, "level2": 3, "target": 3, "actual": 3, "remark": 6, "other": 12}
_MAX_BLOB_SPAN = 9
_JUNK, _JUNK_PLACEHOLDER, _LABEL_ROW = 1.0, 0.05, 0.2
_ROW_MID_LINE = 0.3  # a row closed with the next cell on the same line of a space-separated table
_ROW = -1.0  # every row read: without it, two rows run into one would cost less than two rows


def _span_cost(col: str, toks: list[Token]) -> float:
    if len(toks) == 1:
        return _fit(col, toks[0].text)
    if len(toks) > (_MAX_BLOB_SPAN if all(t.sep == "blob" for t in toks[1:]) and col in _MAX_SPAN
                    else _MAX_SPAN.get(col, 1)):
        return INF
    if col != "other" and any((number_of(t.text) is not None and t.sep != "blob") or _NUMBERED.match(t.text)
                              for t in toks[1:]):
        return INF  # a number or a numbered 指标N: is a cell of its own, unless cut out of a run-together blob
    text = _joined(toks)
    base = _fit(col, text)
    if base == INF:
        return INF
    if col in ("level1", "level2") and sum(bool(_POINTS.match(t.text)) or bool(_HAS_POINTS.search(t.text))
                                           for t in toks) > 1:
        return INF  # 项目产出(30分)数量指标(10分): two groups' labels, each with its points, are two cells
    join = 0.0
    for prev, t in zip(toks, toks[1:], strict=False):
        if t.sep == "blob" and col != "other" and (
                (_NUM_PIECE.fullmatch(t.text) and not (col in ("target", "actual") and prev.text.endswith(".")))
                or (_NUM_PIECE.fullmatch(prev.text) and (
                    not _UNIT_AFTER.fullmatch(t.text) or t.text in _DASHES or col in ("name", "level1", "level2")
                    or (t is not toks[-1] and not (col in ("target", "actual") and t.text in ("年", "月", "个月")))))):
            return INF  # in a blob, a number joins nothing but the unit after it (≥266 米)
        join += 0.0 if col in ("level1", "level2") and _POINTS.match(t.text) else _JOIN[t.sep]
    return base + join


def _joined(toks: list[Token]) -> str:
    out = toks[0].text
    for t in toks[1:]:
        glue = " " if t.sep == "soft" and re.match(r"[A-Za-z0-9]", t.text) and re.search(r"[A-Za-z0-9]$", out) else ""
        out += glue + t.text
    return out


@dataclass
class _Row:
    cells: dict[str, list[Token]]
    label_only: bool = False
    guessed: str | None = None


def align(toks: list[Token], cols: list[str]) -> list[_Row]:
    """The rows of `toks` under the columns `cols`, by least total cost (see the module's docstring)."""
    n, m = len(toks), len(cols)
    name_col = cols.index("name") if "name" in cols else None
    num_cols = {i for i, c in enumerate(cols) if c in ("weight", "score")}
    # state (i, j, f): i tokens read, last filled column j (-1: between rows), f: a weight or score filled
    best: dict[tuple[int, int, int], tuple[float, tuple | None, tuple | None]] = {(0, -1, 0): (0.0, None, None)}

    def relax(state, cost, prev, move):
        if cost < best.get(state, (INF,))[0]:
            best[state] = (cost, prev, move)

    for i in range(n + 1):
        for j in [*range(m), -1]:  # a row closed at i opens the between-rows state at the same i
            for f in (0, 1):
                here = best.get((i, j, f))
                if here is None:
                    continue
                cost = here[0]
                if j == -1:
                    if i < n:  # a cell that is no row's: junk between rows
                        t = toks[i].text
                        relax((i + 1, -1, 0), cost + (_JUNK_PLACEHOLDER if _PLACEHOLDER.match(t) else _JUNK),
                              (i, j, f), ("junk",))
                else:
                    filled_name = name_col is not None and j >= name_col
                    if filled_name and f:
                        end_cost = sum(_SKIP[cols[k]] for k in range(j + 1, m))
                        if i < n and toks[i].sep == "soft":
                            end_cost += _ROW_MID_LINE
                        relax((i, -1, 0), cost + end_cost + _ROW, (i, j, f), ("row",))
                    elif name_col is not None and j < name_col:
                        relax((i, -1, 0), cost + _LABEL_ROW, (i, j, f), ("label",))
                if i == n:
                    continue
                for k in range(j + 1, min(m, j + 6) if j >= 0 else m):
                    skip = sum(_SKIP[cols[x]] for x in range(j + 1, k))
                    if skip == INF:
                        break
                    for span in range(1, (_MAX_BLOB_SPAN if cols[k] in _MAX_SPAN else 1) + 1):  # a number: one cell
                        if i + span > n:
                            break
                        c = _span_cost(cols[k], toks[i:i + span])
                        if c == INF:
                            continue
                        relax((i + span, k, 1 if (f or k in num_cols) else 0), cost + skip + c, (i, j, f),
                              ("fill", k, span, tuple(cols[x] for x in range(j + 1, k))))
    end = best.get((n, -1, 0))
    if end is None:
        return []
    # walk back
    moves, state = [], (n, -1, 0)
    while best[state][1] is not None:
        _c, prev, move = best[state]
        moves.append((prev, move))
        state = prev
    moves.reverse()
    rows, current, skipped = [], {}, []
    for (i, j, _f), move in moves:
        if move[0] == "fill":
            _, k, span, gap = move
            current[cols[k]] = toks[i:i + span]
            skipped += [g for g in gap if g in ("target", "actual", "weight", "score")]
            if span > 1 and any(t.sep == "hard" for t in toks[i + 1:i + span]) and cols[k] != "other":
                skipped.append("joined")
            skipped += ["blob" for t in toks[i:i + span] if t.sep == "blob"][:1]
            skipped += ["split" for t in toks[i:i + span] if t.split][:1]
            skipped += [f"misread:{t.misread}:{t.text}" for t in toks[i:i + span] if t.misread]
        elif move[0] in ("row", "label"):
            if move[0] == "row":  # columns left out after the row's last cell
                skipped += [c for c in cols[j + 1:] if c in ("target", "actual", "weight", "score")]
            rows.append(_Row(cells=current, label_only=move[0] == "label", guessed=_why(skipped)))
            current, skipped = {}, []
    return rows


_CELL_NAMES = {"target": "指标值", "actual": "完成值", "weight": "分值", "score": "得分"}


def _why(skipped: list[str]) -> tuple[str, str] | None:
    """The kind of inference a row rests on (the strongest of: blob, split, joined, empty) and why, in Chinese."""
    if not skipped:
        return None
    empty = [_CELL_NAMES[s] for s in skipped if s in _CELL_NAMES]
    parts = []
    if "blob" in skipped:
        parts.append("单元格在文本中连写，按数字和指标词切分")
    if "split" in skipped:
        parts.append("连写的数字按位数拆分")
    if "joined" in skipped:
        parts.append("有跨单元格合并的文字")
    for s in skipped:
        if s.startswith("misread:"):
            _, printed, read = s.split(":", 2)
            parts.append(f"识别出的「{printed}」按数字 {read} 读取")
    if empty:
        parts.append("、".join(dict.fromkeys(empty)) + "单元格缺失")
    kinds = {s.split(":")[0] for s in skipped}
    kind = next(k for k in ("blob", "split", "misread", "joined", "empty") if k in kinds or (k == "empty" and empty))
    if kind == "empty" and set(skipped) == {"target", "actual"}:
        kind = "no_values"  # 指标值 and 完成值 both left empty: only 分值 and 得分 were placed, which sums can check
    return kind, "表格由文本还原：" + "，".join(parts) + "，列对应关系按内容推断，请核对原表"


# -- the table --------------------------------------------------------------------

def _target_parts(cols: list[str]) -> tuple[str, ...]:
    """The columns whose cells together print the 年度指标值.

    指标性质 and a 度量单位 printed after the value are parts of it (≥ | 735 | 人次 is 「≥735人次」); a
    计量单位 column printed before the values is the table's own column, for 指标值 and 完成值 alike, and
    neither value is written with it (指标名称 计量单位 指标性质 指标值 … gives 「90」, not 「90%」)."""
    if "unit" in cols and "target" in cols and cols.index("unit") < cols.index("target"):
        return ("nature", "target")
    return ("nature", "target", "unit")


def _data_end(toks: list[Token]) -> tuple[int, int | None]:
    """(number of data tokens, index of the 总分/合计 token or None)."""
    for i, t in enumerate(toks):
        if TOTAL_ROW.match(t.text.replace(" ", "")):
            return i, i
        if t.sep != "soft" and STOP.match(t.text):  # the table's end; its 总分 may follow the note
            later = next((j for j in range(i + 1, min(len(toks), i + 8)) if TOTAL_ROW.match(toks[j].text)), None)
            return i, later
    return len(toks), None


def read_stream_table(text: str, header: tuple[int, int, list[tuple[str, int, int]]], end: int) -> Table | None:
    """The score table whose header is `header`, its cells read up to `end` (the next header or the text's end)."""
    h_start, h_end, words = header
    scrambled = words[0][0] == _SCRAMBLED
    words = [w for w in words if w[0] != _SCRAMBLED]
    cols = column_order([k for k, _s, _e in words])
    if "name" in cols and any(k in cols[:cols.index("name")] for k in ("target", "actual", "weight", "score")):
        scrambled, cols = True, list(COLUMNS)  # values before the names: the copy scattered the header
    if "name" not in cols or not {"weight", "score"} <= set(cols):
        return None
    if len(cols) > MAX_COLUMNS:
        return None
    target_parts = _target_parts(cols)
    blob = not _SEP.search(text, h_start, h_end)
    toks = tokens(text, h_end, end, blob=blob)
    cut_short = len(toks) > MAX_TOKENS
    toks = toks[:MAX_TOKENS]
    n_data, total_at = _data_end(toks)
    rows = align(toks[:n_data], cols)
    body, guessed = [], {}
    fill = {"level1": None, "level2": None}
    header_cells = []
    for key in COLUMNS:
        at = next(((s, e) for k, s, e in words if k == key), (h_start, h_start))
        header_cells.append(Cell(HEADER_TEXT[key], *at))
    for row in rows:
        levels_given = [k for k in ("level1", "level2") if k in row.cells]
        if "level1" in row.cells:
            fill["level2"] = None
        for k in levels_given:
            fill[k] = row.cells[k]
        if row.label_only:
            continue
        cells = []
        anchor = next(iter(row.cells.values()))[0].start
        for key in COLUMNS:
            if key in ("level1", "level2"):
                toks_k = row.cells.get(key) or fill[key]
            elif key == "target":
                parts = [row.cells[p] for p in target_parts if p in row.cells]
                toks_k = [t for p in parts for t in p] or None
            else:
                toks_k = row.cells.get(key)
            if toks_k:
                cells.append(Cell(_joined(toks_k), toks_k[0].start, toks_k[-1].end))
            else:
                cells.append(Cell("", anchor, anchor))
        if scrambled:
            guessed[len(body) + 1] = ("scrambled", "表格由文本还原：表头文字顺序已打乱，列按常见顺序（三级指标、指标值、完成值、"
                                      "分值、得分）推断，请核对原表")
        elif row.guessed:
            guessed[len(body) + 1] = row.guessed
        body.append(cells)
    if not body:
        return None
    last = toks[n_data - 1].end if n_data else h_end
    if total_at is not None:
        nums = [t for t in toks[total_at + 1:total_at + 4] if number_of(t.text) is not None]
        label = toks[total_at]
        if nums:
            total_row = [Cell(label.text, label.start, label.end)] + [Cell("", label.end, label.end)] * 4
            w = nums[0] if len(nums) >= 2 else None
            s = nums[1] if len(nums) >= 2 else nums[0]
            total_row.append(Cell(w.text, w.start, w.end) if w else Cell("", label.end, label.end))
            total_row.append(Cell(s.text, s.start, s.end))
            total_row.append(Cell("", s.end, s.end))
            body.append(total_row)
            if any(t.sep == "blob" or t.split for t in (label, *nums[:2])):
                guessed[len(body)] = ("blob", "总分由连写的文本按位数拆分得到，请核对原表")
            last = s.end
    if cut_short and total_at is None:
        guessed[len(body)] = ("cut", f"表格过长，只还原了前 {MAX_TOKENS} 个单元格，其后的行未读取，请核对原表")
    return Table(start=h_start, end=max(last, body[-1][-1].end), rows=[header_cells, *body], origin="stream",
                 guessed=guessed)


# grids whose cells are the table's as printed: a header inside one needs no rebuilding (and the programme
# costs tens of milliseconds a table); `|` rows and space runs may have drifted, so they are rebuilt
TRUE_GRIDS = {"docx", "pdf", "ocr", "tab", "tsv"}


def find_stream_tables(text: str, folded: tuple[str, list[int]] | None = None,
                       grids: list[Table] = (), taken: list[tuple[int, int]] = ()) -> list[Table]:
    """Every score table of `text` read from its header on, in order (`folded`: `genre.squeezed(text)`),
    except those whose header stands inside one of `grids` of a kind in `TRUE_GRIDS`, or among the labels
    of a table another reader takes (`taken`: spans); a table read from its header stops where one of those
    begins."""
    folded = folded or squeezed(text)
    found = find_headers(folded)
    headers = sorted(found + scrambled_headers(folded, found), key=lambda h: h[0])
    true = [(t.start, t.end) for t in grids if t.origin in TRUE_GRIDS]
    out = []
    for i, h in enumerate(headers):
        if any(s <= h[0] < e for s, e in true) or any(s < h[1] and h[0] < e for s, e in taken):
            continue
        end = headers[i + 1][0] if i + 1 < len(headers) else len(text)
        end = min([end, *(s for s, _e in taken if h[1] <= s < end)])
        st = read_stream_table(text, h, end)
        if st is not None:
            out.append(st)
    return out


def rebuild_within(text: str, start: int, end: int) -> list[Table]:
    """The score tables whose header stands in text[start:end], rebuilt (offsets in `text`): for a grid of
    `TRUE_GRIDS` that reads badly after all (its columns shifted under the header), on demand."""
    words, where = squeezed(text[start:end])
    found = [(s + start, e + start, [(k, a + start, b + start) for k, a, b in cols])
             for s, e, cols in find_headers((words, where))]
    out = []
    for i, h in enumerate(found):
        table = read_stream_table(text, h, found[i + 1][0] if i + 1 < len(found) else end)
        if table is not None:
            out.append(table)
    return out


_CLUSTER_GAP = 80  # characters (without whitespace) between two header words of one scrambled header
_SCRAMBLED = "scrambled"


def scrambled_headers(folded: tuple[str, list[int]], found: list) -> list[tuple[int, int, list[tuple[str, int, int]]]]:
    """Headers whose words a spreadsheet or PDF copy scattered among other cells (年度 实际 指标值 完成值 …
    二级指标 三级指标 … 分值 得分): the names are there, their order is not. The columns are then taken in the
    genre's usual order, and every row says its columns are an inference. `found`: the headers read in order."""
    words, where = folded
    found = {(h[0], h[1]) for h in found}
    out, cluster = [], []
    for m in [*HEADER_RX.finditer(words), None]:
        if m is not None and (not cluster or m.start() - cluster[-1].end() <= _CLUSTER_GAP):
            cluster.append(m)
            continue
        keys = {next(k for k, v in c.groupdict().items() if v).split("__")[0] for c in cluster}
        start, end = (where[cluster[0].start()], where[cluster[-1].end() - 1] + 1) if cluster else (0, 0)
        inside = any(a < end and start < b for a, b in found)
        if cluster and {"name", "weight", "score"} <= keys and not inside:
            out.append((start, end, [(_SCRAMBLED, start, start), *[(k, start, start) for k in COLUMNS]]))
        cluster = [m] if m is not None else []
    return out
