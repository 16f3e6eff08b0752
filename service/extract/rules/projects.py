"""Projects in a list table (项目名称 | 年初预算数 | … | 自评得分), and listed in running text.

A list table has a 项目名称 column and money columns; each row below its
header is one project, read by its column headers (a "—" is not stated).

In running text (`完成项目如下：A68万元、B42万元…`) only explicit lists are read: a sentence that announces projects (项目如下 /
项目有 / 资金主要投入在 …) followed by at least two `name + amount` items.
The text does not say whether an amount is the budget or what was spent, so
each project is kept for review with that doubt stated.
"""

from __future__ import annotations

import dataclasses
import re

from service.core.numbers import NUMBER, cell_number, money_to_wan, squeeze
from service.document import Document
from service.models import REVIEW, Evidence, Project, Section

_TRIGGER = re.compile(r"(?:项目(?:如下|有|包括|主要有)|资金主要投入(?:在|于)|主要用于|主要包括)[:：]?")
_AMOUNT = re.compile(rf"(?P<num>{NUMBER})\s*(?P<unit>万元|元)")
_SPENT = re.compile(r"拨付|支出|使用|完成|执行")


def read_listed_projects(doc: Document, sections: list[Section]) -> list[Project]:
    text = doc.text
    found: dict[str, Project] = {}
    for sec in sections:
        if sec.kind != "narrative":
            continue
        for m in _TRIGGER.finditer(text, sec.start, sec.end):
            end = _sentence_end(text, m.end(), sec.end)
            items = _items(text, m.end(), end)
            if len(items) < 2:
                continue
            spent = bool(_SPENT.search(text[max(sec.start, m.start() - 20):end + 12]))
            for name, value, ev in items:
                if name in found:
                    continue
                p = Project(name=name, evidence=ev, status=REVIEW)
                if spent:
                    p.spending_actual = value
                    p.issues.append("正文列举的项目金额，按“已完成/拨付”理解为执行数，请核对")
                else:
                    p.budget_full_year = value
                    p.issues.append("正文列举的项目金额，未说明是预算数还是执行数，请核对")
                found[name] = p
    return list(found.values())


def _sentence_end(text: str, start: int, limit: int) -> int:
    m = re.compile("[。；;\n]").search(text, start, limit)
    return m.start() if m else limit


def _items(text: str, start: int, end: int):
    out, pos = [], start
    for a in _AMOUNT.finditer(text, start, end):
        if text.count("（", start, a.start()) + text.count("(", start, a.start()) > \
                text.count("）", start, a.start()) + text.count(")", start, a.start()):
            continue  # （比上年的162.30万元增加22.90万元）: an aside, not an item
        name = text[pos:a.start()].strip(" 、，,；;：:）)")
        got = money_to_wan(a.group("num"), a.group("unit"))
        pos = a.end()
        if not got or not (2 <= len(name) <= 60) or re.search(r"\d", name) or name.startswith("其中"):
            continue
        s = text.index(name, a.start() - len(name) - 2 if a.start() - len(name) - 2 > 0 else 0)
        out.append((name, got[0], Evidence(text[s:a.end()], s, a.end())))
    return out


_LABELS = {"budget_initial": "年初预算数", "budget_full_year": "全年预算数", "spending_actual": "全年执行数",
           "execution_rate": "执行率", "score": "得分"}


def merge_projects(projects: list[Project]) -> list[Project]:
    """One project per name: a project's list row, money table and score table fill one another in.

    Values that differ between them go to review with both stated.
    """
    out: dict[str, Project] = {}
    for p in projects:
        key = squeeze(p.name)
        have = out.get(key)
        if have is None:
            out[key] = p
            continue
        for attr, label in _LABELS.items():
            mine, theirs = getattr(have, attr), getattr(p, attr)
            if mine is None:
                setattr(have, attr, theirs)
                _take_cell(have, p, attr)
            elif theirs is not None and abs(float(mine) - float(theirs)) > 1e-9:
                have.status = REVIEW
                have.issues.append(f"项目“{have.name}”的{label}在报告中有两个数值：{mine}、{theirs}")
        if p.status == REVIEW:
            have.status = REVIEW
        have.issues += [i for i in p.issues if i not in have.issues]
        if have.evidence is None and p.evidence is not None:  # its cells, for the values both state alike
            have.evidence = dataclasses.replace(p.evidence, cells={
                k: v for k, v in p.evidence.cells.items() if getattr(have, k, None) == getattr(p, k, None)})
    return list(out.values())


def _take_cell(have: Project, other: Project, attr: str) -> None:
    """`have` took `attr`'s value from `other`: its evidence points at the cell it came from too."""
    cell = other.evidence.cells.get(attr) if other.evidence is not None else None
    if cell is not None and have.evidence is not None and getattr(other, attr) is not None:
        have.evidence.cells[attr] = cell


# -- projects told in sentences ---------------------------------------------------------------

_MARK = r"(?:[（(][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}[.、．]|[一二三四五六七八九十]{1,3}、)?"
_NAME = r"(?P<name>[\u4e00-\u9fff][\u4e00-\u9fffA-Za-z0-9“”\"]{2,30}?(?:项目|经费|资金)(?:[（(][^）)\n]{1,12}[)）])?)"
_PROJECT_HEAD = re.compile(rf"^[ \t\u3000]*{_MARK}[ \t\u3000]*{_NAME}[ \t\u3000]*(?:[:：]|$|(?=年初|全年|调整后|实际|预算))",
                           re.M)
_NOT_A_NAME = re.compile(r"^(?:该|本|其中|全年|年初|部门|项目|重点|上级|县级|选取|年度)")
_THIS_PROJECT = re.compile(r"\n[ \t\u3000]*(?=该项目|本项目|项目年初|项目全年)")
_PROJECT_FACTS = [
    ("budget_initial", re.compile(rf"年初预算(?:数|资金)?(?:为|是)?\s*(?P<num>{NUMBER})\s*(?P<unit>万元|元)")),
    ("budget_full_year", re.compile(rf"(?:全年|调整后)预算(?:数|资金)?(?:调整)?(?:为|是|至)?\s*(?P<num>{NUMBER})\s*(?P<unit>万元|元)")),
    ("spending_actual", re.compile(rf"(?:实际支出|全年执行数?|执行数|决算支出|完成支出)(?:为|是)?\s*(?P<num>{NUMBER})\s*(?P<unit>万元|元)")),
    ("execution_rate", re.compile(rf"执行率(?:为|是|达)?\s*(?P<num>{NUMBER})\s*(?P<unit>%|％)")),
    ("score", re.compile(rf"(?:自评)?得分(?:为|是)?\s*(?P<num>{NUMBER})\s*(?P<unit>分)")),
]


def read_told_projects(doc: Document, sections: list[Section]) -> list[Project]:
    """`1.X项目：全年预算…万元，实际支出…万元，执行率…%` and `（一）X项目` followed by `该项目年初预算…`."""
    text = doc.text
    out: list[Project] = []
    for sec in sections:
        if sec.kind != "narrative":
            continue
        for m in _PROJECT_HEAD.finditer(text, sec.start, sec.end):
            name = m.group("name")
            if _NOT_A_NAME.match(name) or len(name) < 4:
                continue
            start = m.end()
            if text.startswith("\n", start) or start >= sec.end:  # a heading: its facts open the next paragraph
                nxt = _THIS_PROJECT.match(text, start)
                if nxt is None:
                    continue
                start = nxt.end()
            end = _sentence_end(text, start, sec.end)
            p = _told(text, name, m.start("name"), start, end)
            if p is not None:
                out.append(p)
    return out


def _told(text: str, name: str, name_start: int, start: int, end: int) -> Project | None:
    p = Project(name=name)
    found = 0
    for attr, rx in _PROJECT_FACTS:
        f = rx.search(text, start, end)
        if f is None:
            continue
        if attr in ("execution_rate", "score"):
            value = cell_number(f.group("num"))
        else:
            got = money_to_wan(f.group("num"), f.group("unit"))
            value = got[0] if got else None
        if value is not None:
            setattr(p, attr, value)
            found += 1
    if found < 2:
        return None
    p.evidence = Evidence(text[name_start:end], name_start, end)
    if not _rate_fits(p):
        p.status = REVIEW
        p.issues.append("正文所述项目：执行数 ÷ 全年预算数 与所写执行率不符，或未写全，请核对")
    return p


def _rate_fits(p: Project) -> bool:
    """执行数 / 全年预算数 rounds to the stated 执行率 (all three stated)."""
    if None in (p.budget_full_year, p.spending_actual, p.execution_rate) or not p.budget_full_year:
        return False
    rate = 100 * float(p.spending_actual) / float(p.budget_full_year)
    decimals = len(str(p.execution_rate).partition(".")[2]) if isinstance(p.execution_rate, float) else 0
    return abs(rate - float(p.execution_rate)) <= 0.5 * 10 ** -decimals + 1e-9
