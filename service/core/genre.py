"""What the genre's documents look like, independent of any engine: score tables, lists, furniture, sign-off.

The rules extractor and the LLM planner both need to recognise the same few
things in a report — a score table (by its 指标 and 分值/得分 words, in any
text form), a 存在的问题 / 改进措施 heading, web-page and file furniture
(breadcrumbs, 索引号, docx metadata, page numbers), the sign-off (落款) — so
they are declared here once. These are word lists of this genre; no library
knows them. Matching is done on a copy with traditional-character pinyin
glosses (項(xiàng)) removed, so mirror sites' glossed texts match too.
"""

from __future__ import annotations

import re
import unicodedata

PROBLEM_TITLE = re.compile(r"(存在的?(主要)?问题|主要问题|问题及原因|存在问题)")
MEASURE_TITLE = re.compile(r"(改进措施|改进建议|整改措施|下一步|建议|工作打算|改进方向)")
# a 问题/措施 heading as the LLM planner reads it: wider than the rules' lists reader (下步措施, 存在不足)
LISTS_TITLE = re.compile(rf"{PROBLEM_TITLE.pattern}|{MEASURE_TITLE.pattern}|存在的?不足|下步措施|改进(?:的)?方向")
# 存在问题 | … / 改进措施 … as a cell's or a column's label (not 偏差原因分析及改进措施, a score table's column)
_LISTS_LABEL = re.compile(r"(?:^|[|\t ])(?P<label>存在的?(?:主要)?问题|改进措施|改进建议|整改措施)\s*(?:[|:：\t]|\s(?=\S)|$)",
                          re.M)


def is_deduction(level1) -> bool:
    """A 扣分项 row of a score table (its 一级指标 starts with 扣分): its score is taken off, so it counts in
    neither the table's Σ 分值 nor its Σ 得分 of the rows."""
    return str(level1 or "").startswith("扣分")


def has_lists_label(text: str) -> bool:
    """A 存在问题 / 改进措施 label in the text, other than a score table's 偏差原因分析及改进措施 column."""
    for m in _LISTS_LABEL.finditer(text):
        before = text[:m.start("label")].rstrip(" \t|\n")
        if not before.endswith(("及", "和", "与")):
            return True
    return False


_GLOSS = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,8}\)")
# simplified -> traditional, for the characters of this genre's labels that mirror sites print traditional
TRADITIONAL = {"标": "標", "级": "級", "权": "權", "评": "評", "价": "價", "项": "項", "际": "際", "总": "總",
               "计": "計", "额": "額", "问": "問", "题": "題", "进": "進", "议": "議", "单": "單", "门": "門",
               "实": "實", "报": "報", "称": "稱", "预": "預", "编": "編", "责": "責", "联": "聯", "电": "電",
               "话": "話", "资": "資", "县": "縣", "园": "園", "财": "財", "务": "務", "数": "數", "经": "經",
               "费": "費", "购": "購", "维": "維", "护": "護", "车": "車", "职": "職", "员": "員", "离": "離",
               "负": "負", "债": "債", "净": "淨", "产": "產", "执": "執", "决": "決", "础": "礎", "国": "國",
               "调": "調", "后": "後", "结": "結", "转": "轉", "拨": "撥", "采": "採", "营": "營", "万": "萬"}
_TRAD = str.maketrans({t: s for s, t in TRADITIONAL.items()})


def simplified(text: str) -> str:
    """The genre's traditional characters simplified, character for character (offsets unchanged)."""
    return text.translate(_TRAD)
# a score table's total row, by its first cell
TOTAL_ROW = re.compile(r"^(?:总分|合计得分|自评总分|部门整体自评得分|整体自评得分|自评得分合计|合计|总计)$")
# a cell that is a value, not words: 13处, 92.5%, ≥95% (a 三级指标 name never is one)
VALUE_CELL = re.compile(r"^[≥≤≧≦<>＞＜=＝]?\d+(?:\.\d+)?\s*(?:%|‰|[\u4e00-\u9fff]{1,3})?$")
# the total a document states above its score table (项目名称 … 实施单位 … 自评得分 93); a department's
# 整体自评得分 printed before a project's table is not that project's
STATED_TOTAL = re.compile(r"(?<!整体)(?<!部门)(?:项目)?(?P<label>自评得分合计|自评得分|自评总分|自评分)\s*[:：|]?\s*"
                          r"(?P<n>\d{1,3}(?:\.\d{1,2})?)(?![\d.%])")


def last_stated_total(text: str, start: int, end: int) -> re.Match | None:
    """The last STATED_TOTAL between `start` and `end`."""
    found = list(STATED_TOTAL.finditer(text, start, end))
    return found[-1] if found else None
# 指标 words of a score table's header (a 三级指标 column, or the names of the framework's groups)
_INDICATOR_WORDS = re.compile(r"一级指标|二级指标|三级指标|绩效指标|指标名称|评价指标|指标内容|具体指标|考核指标|"
                              r"产出指标|效益指标|满意度指标|指标值|评分项目|评价内容")
# its score columns
_SCORE_WORDS = re.compile(r"分值|权重|标准分|满分|得分|自评分|评分|打分")
# an indicator scored in a sentence (matched without whitespace): 预算执行率指标分值10分，自评得9.85分
SCORED_SENTENCE = re.compile(r"(?:分值|权重|满分)(?:为)?\d+(?:\.\d+)?分[^。]{0,40}?得(?:分)?\d")
_WINDOW = 300


def unglossed(text: str) -> str:
    """Width-folded, pinyin glosses (農(nóng)村) removed; the characters as printed."""
    return _GLOSS.sub("", unicodedata.normalize("NFKC", text))


def plain(text: str) -> str:
    """Width-folded, glosses removed, common traditional characters simplified: for matching only
    (character for character the same as `unglossed`)."""
    return unglossed(text).translate(_TRAD)


# a table row ending in its weight and score (… | 5 | 5 |), the header possibly before the excerpt
_SCORED_ROW = re.compile(r"(?:^|[|\t ])\d{1,2}(?:\.\d+)?\s*[|\t ]\s*\d{1,2}(?:\.\d+)?\s*\|?\s*$", re.M)


def squeezed(text: str) -> tuple[str, list[int]]:
    """`plain` text without whitespace or cell separators, and each character's offset in `text`.

    Folded character by character, so that every offset stays exact; a character NFKC leaves alone (most of a
    report: ASCII and the CJK ideographs) is not normalized at all, which keeps this fast on long reports."""
    glossed = {i for m in _GLOSS.finditer(text) for i in range(m.start(), m.end())}
    chars, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace() or ch == "|" or (glossed and i in glossed):
            continue
        if not (ch < "\x7f" or "\u4e00" <= ch <= "\u9fff"):
            folded = unicodedata.normalize("NFKC", ch)
            ch = folded if len(folded) == 1 else ch
        chars.append(ch)
        where.append(i)
    return "".join(chars).translate(_TRAD), where


def score_table_marks(text: str) -> list[int]:
    """Offsets in `text` where a score table shows itself: an indicator word near a score-column word (its
    header, even when its cells are spread over lines), a run of rows of weight and score under indicator
    words (the header before an excerpt), or an indicator scored in a sentence."""
    words, where = squeezed(text)
    indicators = [m.start() for m in _INDICATOR_WORDS.finditer(words)]
    scores = [m.start() for m in _SCORE_WORDS.finditer(words)]
    marks = [where[i] for i in indicators if any(abs(s - i) <= _WINDOW for s in scores)]
    if indicators and len(_SCORED_ROW.findall(text)) >= 3:
        marks += [m.start() for m in _SCORED_ROW.finditer(text)]
    marks += [where[m.start()] for m in SCORED_SENTENCE.finditer(words)]
    return sorted(set(marks))


# -- furniture -------------------------------------------------------------------

_FURNITURE = re.compile(
    r"^\s*[•·●]?\s*(?:"
    r"您(?:现在|当前)?所在的?位置|当前位置|首页\s*[>＞]|欢迎(?:来到|访问)|"
    r"\[?\s*(?:索引号|发布机构|发文机关|发文日期|发布日期|成文日期|公开方式|公开范围|公开目录|主题分类|主题词|文号|"
    r"统一登记号|信息时效性|浏览量|浏览次数|访问量|来源|分享到|字号|【字体)\s*\]?\s*[:：]?|"
    r"打印本页|关闭窗口|版[权權][说說]明|.{0,60}由会员分享|.{0,80}更多相关|"
    r"[-—–]\s*\d{1,3}\s*[-—–]\s*$|第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?\s*$|"
    r".*\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?Z"
    r")")
PUBLISHED = re.compile(r"(?:发文日期|发布日期|成文日期|发布时间)\s*\]?\s*[:：]?\s*(?:\n\s*[•·●]?\s*)?"
                       r"(\d{4})\s*[-年./]\s*(\d{1,2})\s*[-月./]\s*(\d{1,2})")


def is_furniture(line: str) -> bool:
    """A web page's or a file's furniture line (banner, breadcrumb, 索引号 …, docx metadata, page number)."""
    return bool(_FURNITURE.match(unicodedata.normalize("NFKC", line)))


def furniture_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every furniture line; a bulleted metadata list (• 索引号 / • 79518…) as a whole."""
    out: list[tuple[int, int]] = []
    pos = 0
    in_list = False
    for line in text.split("\n"):
        s, e = pos, pos + len(line)
        pos = e + 1
        bullet = line.strip()[:1] in "•·●" and bool(line.strip())
        if is_furniture(line) or (in_list and bullet):
            out.append((s, e))
            in_list = in_list or bullet
        elif line.strip():
            in_list = False
    return out


def published_date(text: str) -> tuple[str, int, int] | None:
    """The page's 发布日期 / 发文日期 / 成文日期 as YYYY-MM-DD, with its span: a report date of last resort."""
    m = PUBLISHED.search(text)
    if not m:
        return None
    y, mo, d = (int(g) for g in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}", m.start(), m.end()


# -- sign-off ----------------------------------------------------------------------

_DATE_LINE = re.compile(r"(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*\S{1,3}\s*月(?:\s*\S{1,3}\s*日)?")


def sign_off_span(text: str) -> tuple[int, int] | None:
    """The 落款 at the end: the short lines after the last paragraph (or table row), when they hold a date."""
    end = len(text.rstrip())
    start = end
    for _ in range(6):
        nl = text.rfind("\n", 0, max(start - 1, 0))
        line = text[nl + 1:start].strip()
        if len(line) > 40 or "|" in line or "\t" in text[nl + 1:start]:
            break
        start = nl + 1
        if nl < 0:
            break
    if start < end and _DATE_LINE.search(text[start:end]):
        return start, end
    return None


# -- where a fact may be stated ----------------------------------------------------------

_DIGIT = re.compile(r"\d")
_WORDED = re.compile(r"无公务用车|未配备|优秀|良好|合格|等级|评级|[评结][价论][为:：]?\s*[优良中差]|"
                     r"[〇零一二三四五六七八九十百千]{3,}|[:：\s]无\s*[。；;]?\s*$", re.M)


def may_state_a_fact(text: str) -> bool:
    """False only when the text provably holds no field: no digit, no number in words, no 无 after a label, no rating."""
    return bool(_DIGIT.search(text) or _WORDED.search(plain(text)))
