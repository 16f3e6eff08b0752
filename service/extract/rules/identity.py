"""Who wrote the report, for which year, when, and how it rated itself."""

from __future__ import annotations

import re
from collections import Counter

from service.core.candidates import Candidate
from service.core.evidence import spans
from service.core.genre import TRADITIONAL, furniture_spans
from service.core.lexicon import UNIT_ORG
from service.core.numbers import compact
from service.document import Document
from service.models import Evidence, Section


def _tr(pattern: str) -> str:
    """A label pattern that also matches its traditional characters (mirror sites print 實施單位)."""
    return "".join(f"[{ch}{TRADITIONAL[ch]}]" if ch in TRADITIONAL else ch for ch in pattern)


_TITLE = re.compile(r"^\s*(?:\d、)?[《「“]?(?:(?P<year>20\d\d)\s*年度?)?\s*(?P<unit>[^\d\s]{2,40}?)\s*"
                    r"(?:20\d\d\s*年度?[^\n。]{0,30}?)?"
                    r"(?:部门整体支出|整体支出|部门整体|整体和项目|部门支出|预算绩效|绩效自评|绩效评价|项目支出绩效|项目自评"
                    r"|项目绩效|自评报告|自评表|绩效目标自评)")
_HEAD_CHARS = 600  # a title line is among the document's first characters
_YEAR_TITLE = re.compile(r"(?P<year>20\d\d)\s*年度?[^\n。，,]{0,30}?(?:绩效自评|绩效评价|整体支出|自评报告|自评表|评价表)")
# 项目支出绩效自评表 (2022年度) / 自评表(2021年): the year after the title, on its line or the next
_YEAR_AFTER_TITLE = re.compile(r"(?:自评表|评价表|自评报告|绩效表)\s*\|?\s*[(（]\s*(?P<year>20\d\d)\s*年度?\s*[)）]")
_YEAR_LABEL = re.compile(r"(?:^|\n)\s*(?:评价)?年度\s*[:：]\s*(?P<year>20\d\d)\s*年?")
_HEAD_YEAR_CHARS = 1500
_CN_DIGITS = "〇一二三四五六七八九"
_DATE_LINE = re.compile(r"^\s*(?P<y>20\d\d|二[〇零][一二三四五六七八九〇零]{2})\s*年\s*"
                        r"(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月\s*"
                        r"(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日\s*$")
_DATE_LABEL = re.compile(_tr(r"(?:填报日期|报告日期|填表日期|报送日期|评价日期|自评日期)") + r"\s*[:：]?\s*"
                         r"(?P<y>20\d\d)\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})(?!\d)(?:\s*日)?")
_ORG_END = UNIT_ORG.pattern.strip("()$")  # the endings of a unit's name, as a group to embed
_SIGNED_DATE = re.compile(rf"(?:{_ORG_END})\s*"
                          r"(?P<y>20\d\d)\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日")
_RATING = re.compile(r"(?:评价等级|评价结论|自评等级|评价结果|自评结果|等级|结论|绩效自评为|自评为|评定为|评价为)\s*"
                     r"(?:为|是|：|:)?\s*[“\"「]?(?P<v>优\s?秀|优|良\s?好|良|中|合\s?格|差|不合格)[”\"」]?"
                     r"(?![a-z\u4e00-\u9fff])")


def identity_candidates(doc: Document, sections: list[Section], table_cells) -> list[Candidate]:
    return (_unit_names(doc, sections, table_cells) + _years(doc, sections) + _dates(doc)
            + _ratings(doc))


def _ev(doc: Document, start: int, end: int) -> Evidence:
    return Evidence(doc.text[start:end], start, end)


_UNIT_BY_LABEL = [  # (tier, label): the unit that wrote the report, then the one above it
    (1, r"(?:项目)?实施单位|项目单位|部门[(（]单位[)）]名称|(?:一级|级)?预算(?:部门|单位)(?:、单位)?名称"
        r"|单位名称|部门名称|单位[(（]盖章[)）]|填报单位|报送单位|(?<![\u4e00-\u9fff])部门(?=\s*[:：|])"),
    (2, r"(?:项目)?主管(?:部门|单位)"),
]
_NEXT_LABEL = _tr(r"主管部门|主管单位|实施单位|项目负责人|负责人|联系人|联系电话|填报日期|资金情况|项目资金|自评总分|自评得分"
                  r"|部门联系人|项目名称|项目属性|单位|绩效指标|一级指标|年度总体目标|年初预算")
_UNIT_LABEL_RX = [(tier, re.compile(
    rf"(?:{_tr(label)})[\s|:：]*+(?:[(（]盖章[)）][\s|:：]*+)?(?P<v>[^\s|:：，。；,;\d()（）]{{2,40}}?(?:{_ORG_END}))"
    rf"(?=[\s|:：，。；,;]|$|{_NEXT_LABEL})")) for tier, label in _UNIT_BY_LABEL]
_QUOTES = "《》「」“”\"'〈〉【】•·● \ufffd"


def _labelled_units(doc) -> list[Candidate]:
    """主管部门 | X | 实施单位 | Y, 单位(盖章):X, 部门:X …, however the cells were flattened (pipes, spaces,
    one per line, run together): the value must end like a unit's name (…局, …中心, …人民政府)."""
    out = []
    for tier, rx in _UNIT_LABEL_RX:
        for m in rx.finditer(doc.text):
            v = m.group("v").strip(_QUOTES)
            if len(v) >= 4 and not re.search(_NEXT_LABEL, v):
                s = m.start("v") + m.group("v").index(v)
                out.append(Candidate("unit_name", v, _ev(doc, s, s + len(v)), tier, "table",
                                     issue=_cut_short(doc.text, v)))
    return out


def _cut_short(text: str, name: str) -> str | None:
    """Mirror sites lose characters to mojibake (� 陵区林业局 for 零陵区林业局): a name printed after an
    unreadable character may have lost its first ones."""
    if re.search(r"\ufffd\s*" + re.escape(name), text):
        return f"单位名称“{name}”前有无法识别的字符，开头可能缺字，请核对"
    return None


def _unit_names(doc, sections, table_cells) -> list[Candidate]:
    text = doc.text
    out = _labelled_units(doc)
    for label, value in table_cells:
        if re.match(r"^(预算部门|预算单位|部门|单位|预算部门、单位)(名称)?$", re.sub(r"\s", "", label.text)):
            v = compact(value.text)
            if v:
                out.append(Candidate("unit_name", v, Evidence(value.text, value.start, value.end,
                                                              context=spans([label])), 1, "table"))
    cover = sections[0] if sections and sections[0].level == 0 else None
    head = (cover.start, cover.end) if cover else (0, 0)
    furniture = furniture_spans(text)
    for m in re.finditer(r"[^\n]+", text):
        line, start = m.group(), m.start()
        if start >= max(head[1], _HEAD_CHARS):
            break
        if any(a <= start < b for a, b in furniture):
            continue
        t = _TITLE.match(line)
        unit = t.group("unit").strip(_QUOTES) if t and t.group("unit") else ""
        if unit and UNIT_ORG.search(unit) and not re.search(_NEXT_LABEL, unit):
            s = start + t.start("unit") + t.group("unit").index(unit)
            out.append(Candidate("unit_name", unit, _ev(doc, s, s + len(unit)), 2, "text"))
        elif (head[0] <= start < head[1] and UNIT_ORG.search(line.strip()) and len(line.strip()) <= 30
              and not re.search(r"[，。：:]", line) and not re.search(_NEXT_LABEL, line)):
            s = start + len(line) - len(line.lstrip())
            out.append(Candidate("unit_name", line.strip(), _ev(doc, s, s + len(line.strip())), 2, "text"))
    if not out:  # a signature on the last lines
        tail = [m for m in re.finditer(r"[^\n]+", text) if m.group().strip()][-3:]
        for m in tail:
            line = m.group().strip()
            if UNIT_ORG.search(line) and len(line) <= 30 and not re.search(r"[，。：:]", line):
                s = m.start() + len(m.group()) - len(m.group().lstrip())
                out.append(Candidate("unit_name", line, _ev(doc, s, s + len(line)), 2, "text"))
    out += _fuller_names(doc, out)
    return out + _fuller_elsewhere(out)


def _fuller_elsewhere(found: list[Candidate]) -> list[Candidate]:
    """A labelled name that is the tail of a longer name the document gives elsewhere (a cell that lost its
    first character: 陵区林业局, and 零陵区林业局 in the page's 发布机构): the longer one, for review."""
    out = []
    for c in found:
        longer = [d for d in found if len(str(d.value)) > len(str(c.value)) and str(d.value).endswith(str(c.value))]
        if longer:
            d = max(longer, key=lambda d: len(str(d.value)))
            out.append(Candidate("unit_name", d.value, d.evidence, c.tier, d.source,
                                 issue=f"表中单位名称为“{c.value}”，文中另有“{d.value}”，可能缺字，请核对"))
    return out


# 桐江县 / 峨边彝族自治县 / 湖南省衡阳市衡山县: places written before a unit's name
_PLACES = re.compile(r"^(?:[\u4e00-\u9fff]{2,8}?(?:省|自治区|自治州|自治县|市|州|地区|盟|县|区|旗)){1,3}$")
_BEFORE_PLACE = re.compile(r"[^\u4e00-\u9fff]|[是为对由在即系]")  # where a place name can start
_PLACE_REACH = 16


def _fuller_names(doc: Document, found: list[Candidate]) -> list[Candidate]:
    """The fullest name the report gives: a found name written elsewhere after its county (or city)."""
    out = []
    for name in {str(c.value) for c in found}:
        tier = min(c.tier for c in found if str(c.value) == name)
        for m in re.finditer(re.escape(name), doc.text):
            before = doc.text[max(0, m.start() - _PLACE_REACH):m.start()]
            cut = max((b.end() for b in _BEFORE_PLACE.finditer(before)), default=0)
            place = before[cut:]
            if place and _PLACES.match(place):
                start = m.start() - len(place)
                out.append(Candidate("unit_name", place + name, _ev(doc, start, m.end()), tier, "text"))
                break
    return out


def _years(doc, sections) -> list[Candidate]:
    """The year in the report's titles (…2023年度部门整体支出绩效自评报告, 自评表 (2022年度), 年度：2024年):
    every title in the head counts, so a file name that says another year than the table's title is seen."""
    text = doc.text
    cover = sections[0] if sections and sections[0].level == 0 else None
    head_end = max(cover.end if cover else 0, _HEAD_YEAR_CHARS)
    found = {}
    for rx in (_YEAR_TITLE, _YEAR_AFTER_TITLE, _YEAR_LABEL):
        for m in rx.finditer(text, 0, min(len(text), head_end)):
            found.setdefault(int(m.group("year")), m)
    if found:
        return [Candidate("fiscal_year", y, _ev(doc, m.start("year"), m.end("year")), 1, "text")
                for y, m in found.items()]
    for t in doc.tables:  # the 自评表's title row, e.g. "2023年度部门整体支出绩效自评表"
        m = _YEAR_TITLE.search(text, max(0, t.start - 80), t.start)
        if m:
            return [Candidate("fiscal_year", int(m.group("year")), _ev(doc, m.start("year"), m.end("year")), 1, "text")]
    counts = Counter(m.group(1) for m in re.finditer(r"(20\d\d)\s*年度", text))
    if counts:
        year, n = counts.most_common(1)[0]
        if n >= 2:
            m = re.search(rf"{year}\s*年度", text)
            return [Candidate("fiscal_year", int(year), _ev(doc, m.start(), m.start() + 4), 2, "text")]
    return []


def _dates(doc) -> list[Candidate]:
    """A date on a line of its own in the cover or the last lines, or after 填报日期 / 报告日期 anywhere: the
    report's date; else a unit's name followed by a date (a letter's sign-off run into the text)."""
    lines = [m for m in re.finditer(r"[^\n]+", doc.text) if m.group().strip()]
    out = []
    for m in _DATE_LABEL.finditer(doc.text):
        value = _date_value(m)
        if value:
            out.append(Candidate("report_date", value, _ev(doc, m.start("y"), m.end()), 1, "text"))
    for m in lines[:8] + lines[-4:]:
        d = _DATE_LINE.match(m.group())
        if d:
            value = f"{_date_part(d['y']):04d}-{_date_part(d['m']):02d}-{_date_part(d['d']):02d}"
            s = m.start() + len(m.group()) - len(m.group().lstrip())
            out.append(Candidate("report_date", value, _ev(doc, s, m.start() + len(m.group().rstrip())), 1, "text"))
    if not out:
        signed = [(m, _date_value(m)) for m in _SIGNED_DATE.finditer(doc.text)]
        out = [Candidate("report_date", v, _ev(doc, m.start("y"), m.end()), 2, "text",
                         issue="日期紧接单位名称写在正文中（落款），请确认是报告日期") for m, v in signed if v][:1]
    return out[:1] if len({c.value for c in out}) == 1 else out


def _date_value(m: re.Match) -> str | None:
    y, mo, d = _date_part(m["y"]), _date_part(m["m"]), _date_part(m["d"])
    return f"{y:04d}-{mo:02d}-{d:02d}" if 1 <= mo <= 12 and 1 <= d <= 31 else None


def _date_part(s: str) -> int:
    """`2024`, `二〇二四`, `十二`, `二十八` -> int."""
    if s.isascii():
        return int(s)
    s = s.replace("零", "〇")
    if "十" not in s:
        return int("".join(str(_CN_DIGITS.index(ch)) for ch in s))
    tens, _, ones = s.partition("十")
    return (_CN_DIGITS.index(tens) if tens else 1) * 10 + (_CN_DIGITS.index(ones) if ones else 0)


def _ratings(doc) -> list[Candidate]:
    out = []
    for m in _RATING.finditer(doc.text):
        out.append(Candidate("rating", re.sub(r"\s", "", m.group("v")), _ev(doc, m.start(), m.end()), 1, "text"))
    return out
