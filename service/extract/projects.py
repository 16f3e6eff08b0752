"""Projects listed in running text: `完成项目如下：A68万元、B42万元…`.

Only explicit lists are read: a sentence that announces projects (项目如下 /
项目有 / 资金主要投入在 …) followed by at least two `name + amount` items.
The text does not say whether an amount is the budget or what was spent, so
each project is kept for review with that doubt stated.
"""

from __future__ import annotations

import re

from ..document import Document
from ..models import REVIEW, Evidence, Project, Section
from .numbers import NUMBER, money_to_wan

_TRIGGER = re.compile(r"(?:项目(?:如下|有|包括|主要有)|资金主要投入(?:在|于)|主要用于)[:：]?")
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
        name = text[pos:a.start()].strip(" 、，,；;：:")
        got = money_to_wan(a.group("num"), a.group("unit"))
        pos = a.end()
        if not got or not (2 <= len(name) <= 60) or re.search(r"\d", name) or name.startswith("其中"):
            continue
        s = text.index(name, a.start() - len(name) - 2 if a.start() - len(name) - 2 > 0 else 0)
        out.append((name, got[0], Evidence(text[s:a.end()], s, a.end())))
    return out
