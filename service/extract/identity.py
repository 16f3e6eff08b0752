"""Who wrote the report, for which year, when, and how it rated itself."""

from __future__ import annotations

import re
from collections import Counter

from ..document import Document
from ..models import Evidence, Section
from .candidates import Candidate
from .lexicon import UNIT_ORG
from .numbers import compact

_NAME_LABEL = re.compile(r"(?:部门（单位）名称|部门\(单位\)名称|单位名称|预算部门名称|预算部门、单位名称|部门名称)\s*[:：]\s*(?P<v>[^\n，。；]{2,40})")
_TITLE = re.compile(r"^\s*(?:(?P<year>20\d\d)\s*年度?)?\s*(?P<unit>[^\d\s]{2,40}?)\s*(?:20\d\d\s*年度?)?\s*"
                    r"(?:部门整体支出|整体支出|部门整体|部门支出|预算绩效|绩效自评|绩效评价)")
_YEAR_TITLE = re.compile(r"(?P<year>20\d\d)\s*年度?[^\n。]{0,30}?(?:绩效自评|绩效评价|整体支出|自评报告|自评表)")
_CN_DIGITS = "〇一二三四五六七八九"
_DATE_LINE = re.compile(r"^\s*(?P<y>20\d\d|二[〇零][一二三四五六七八九〇零]{2})\s*年\s*"
                        r"(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月\s*"
                        r"(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日\s*$")
_RATING = re.compile(r"(?:评价等级|评价结论|自评等级|评价结果|自评结果|等级|结论)\s*(?:为|是|：|:)?\s*[“\"「]?(?P<v>优秀|优|良好|良|中|合格|差|不合格)[”\"」]?(?![a-z\u4e00-\u9fff])")


def identity_candidates(doc: Document, sections: list[Section], table_cells) -> list[Candidate]:
    return (_unit_names(doc, sections, table_cells) + _years(doc, sections) + _dates(doc)
            + _ratings(doc))


def _ev(doc: Document, start: int, end: int) -> Evidence:
    return Evidence(doc.text[start:end], start, end)


def _unit_names(doc, sections, table_cells) -> list[Candidate]:
    text = doc.text
    out = []
    for m in _NAME_LABEL.finditer(text):
        v = compact(m.group("v"))
        if v and not any(t.start <= m.start() < t.end for t in doc.tables):
            out.append(Candidate("unit_name", v, _ev(doc, m.start("v"), m.start("v") + len(m.group("v").rstrip())), 1, "text"))
    for label, value in table_cells:
        if re.match(r"^(预算部门|预算单位|部门|单位|预算部门、单位)(名称)?$", re.sub(r"\s", "", label.text)):
            v = compact(value.text)
            if v:
                out.append(Candidate("unit_name", v, Evidence(value.text, value.start, value.end), 1, "table"))
    cover = sections[0] if sections and sections[0].level == 0 else None
    if cover:
        for m in re.finditer(r"[^\n]+", text[cover.start:cover.end]):
            line, start = m.group(), cover.start + m.start()
            t = _TITLE.match(line)
            if t and t.group("unit") and UNIT_ORG.search(t.group("unit")):
                s = start + t.start("unit")
                out.append(Candidate("unit_name", t.group("unit"), _ev(doc, s, s + len(t.group("unit"))), 2, "text"))
            elif UNIT_ORG.search(line.strip()) and len(line.strip()) <= 30 and not re.search(r"[，。：:]", line):
                s = start + len(line) - len(line.lstrip())
                out.append(Candidate("unit_name", line.strip(), _ev(doc, s, s + len(line.strip())), 2, "text"))
    if not out:  # a signature on the last lines
        tail = [m for m in re.finditer(r"[^\n]+", text) if m.group().strip()][-3:]
        for m in tail:
            line = m.group().strip()
            if UNIT_ORG.search(line) and len(line) <= 30 and not re.search(r"[，。：:]", line):
                s = m.start() + len(m.group()) - len(m.group().lstrip())
                out.append(Candidate("unit_name", line, _ev(doc, s, s + len(line)), 2, "text"))
    return out + _fuller_names(doc, out)


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
    text = doc.text
    cover = sections[0] if sections and sections[0].level == 0 else None
    head_end = cover.end if cover else min(len(text), 300)
    for m in _YEAR_TITLE.finditer(text, 0, max(head_end, 200)):
        return [Candidate("fiscal_year", int(m.group("year")), _ev(doc, m.start("year"), m.end("year")), 1, "text")]
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
    """A date on a line of its own in the cover or the last lines: the report's date."""
    lines = [m for m in re.finditer(r"[^\n]+", doc.text) if m.group().strip()]
    out = []
    for m in lines[:8] + lines[-4:]:
        d = _DATE_LINE.match(m.group())
        if d:
            value = f"{_date_part(d['y']):04d}-{_date_part(d['m']):02d}-{_date_part(d['d']):02d}"
            s = m.start() + len(m.group()) - len(m.group().lstrip())
            out.append(Candidate("report_date", value, _ev(doc, s, m.start() + len(m.group().rstrip())), 1, "text"))
    return out[:1] if len({c.value for c in out}) == 1 else out


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
        out.append(Candidate("rating", m.group("v"), _ev(doc, m.start(), m.end()), 1, "text"))
    return out
