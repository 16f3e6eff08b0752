"""存在的问题 and 改进措施: one string per item, as written."""

from __future__ import annotations

import re

from service.core.genre import MEASURE_TITLE, PROBLEM_TITLE
from service.core.lexicon import UNIT_ORG
from service.document import Document
from service.models import Evidence, Section, TextList

_ITEM = re.compile(r"^\s*(?:[（(]?\d{1,2}[)）.、．]|[（(][一二三四五六七八九十]+[)）]|[一二三四五六七八九十]+[、是]|[①-⑩])\s*")
_NONE = re.compile(r"^\s*无\s*[。.]?\s*$")
_LEAD = re.compile(r"^[^：:。]{0,40}?(?:问题|措施|建议)(?:主要)?(?:有|是|为|如下)[：:]")


def read_lists(doc: Document, sections: list[Section]) -> tuple[TextList | None, TextList | None]:
    problems = measures = None
    for sec in sections:
        if sec.kind != "narrative":
            continue
        title = sec.title
        is_p, is_m = bool(PROBLEM_TITLE.search(title)), bool(MEASURE_TITLE.search(title))
        if is_p and is_m:
            continue  # a parent heading (存在的问题及改进措施): its children hold the lists
        if is_p and problems is None:
            problems = _items(doc, sec)
        elif is_m and measures is None and not re.search(r"结论|应用|公开", title):
            measures = _items(doc, sec)
    return problems, measures


def _body(doc: Document, sec: Section) -> tuple[int, int]:
    nl = doc.text.find("\n", sec.start, sec.end)
    return (nl + 1 if nl >= 0 else sec.end), sec.end


def _items(doc: Document, sec: Section) -> TextList:
    start, end = _body(doc, sec)
    body = doc.text[start:end]
    if not body.strip() or _NONE.match(body):
        return TextList(value=[], evidence=Evidence(body.strip(), start + body.find(body.strip()),
                                                    start + body.find(body.strip()) + len(body.strip())))
    items = []
    for m in re.finditer(r"[^\n]+", body):
        line = m.group().strip()
        if not line:
            continue
        line = _ITEM.sub("", line)
        if items and not _ITEM.match(m.group()) and not items[-1].endswith(("。", "；", ";")):
            items[-1] += line
        else:
            items.append(line)
    while items and _is_signature(items[-1]):
        items.pop()
    if len(items) == 1:
        items = _split_enumeration(items[0]) or items
    s = start + len(body) - len(body.lstrip())
    quote = doc.text[s:end].rstrip()
    return TextList(value=items, evidence=Evidence(quote, s, s + len(quote)))


def _is_signature(line: str) -> bool:
    """The unit's name or the date closing the report, not an item."""
    return bool(UNIT_ORG.search(line) and not re.search(r"[，。；：]", line)) or bool(
        re.fullmatch(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日", line))


def _split_enumeration(text: str) -> list[str] | None:
    """`主要存在的问题有：A，B，C等。` -> [A, B, C]."""
    m = _LEAD.match(text)
    if not m:
        return None
    rest = text[m.end():].rstrip("。；; ")
    rest = re.sub(r"等$", "", rest)
    parts = [p.strip() for p in re.split(r"[，；;]", rest) if p.strip()]
    return parts if len(parts) >= 2 else None
