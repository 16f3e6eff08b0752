"""Split a Document into sections by its headings.

Sections are what the LLM engine is given one at a time, and where the rules
extractor looks for labelled facts. They partition the text: every character
belongs to exactly one section.

Headings are recognised by their numbering (一、 / （一） / 1. / （1） / ① /
附件N), by being a short stand-alone line without numbering between
paragraphs, and every table becomes a section of kind "table", titled by the
line above it (…自评表, …基础数据表) or its own first cell. Lines inside
tables are never headings. Two tables separated only by blank lines or a page
number are one table that spans a page break.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from service.core.genre import furniture_spans, is_furniture
from service.document import Document, Table
from service.ingest.tables import PAGE_NUMBER
from service.models import Section

CN_NUM = "一二三四五六七八九十"
_NUMBERED = [
    (1, re.compile(rf"^\s*(?P<m>(?P<n>[{CN_NUM}]{{1,3}})\s*[、．.，,])\s*(?P<t>.*)$")),
    (2, re.compile(rf"^\s*(?P<m>[（(]\s*(?P<n>[{CN_NUM}]{{1,3}})\s*[)）]\s*[、.．]?)\s*(?P<t>.*)$")),
    (3, re.compile(r"^\s*(?P<m>(?P<n>\d{1,2})\s*(?:[、．]|\.(?!\d)))\s*(?P<t>.*)$")),
    (4, re.compile(r"^\s*(?P<m>[（(]\s*(?P<n>\d{1,2})\s*[)）])\s*(?P<t>.*)$")),
    (4, re.compile(r"^\s*(?P<m>(?P<n>[①②③④⑤⑥⑦⑧⑨⑩]))\s*(?P<t>.*)$")),
]
_ANNEX = re.compile(r"^\s*(?P<m>附件\s*(?P<n>[0-9一二三四五六七八九十]*))\s*[:：]?\s*(?P<t>.*)$")
_TABLE_TITLE = re.compile(r"(表|清单)\s*[(（]?[^)）]{0,10}[)）]?\s*$")
_DATE = re.compile(r"^\s*\d{4}\s*年(\s*\d{1,2}\s*月(\s*\d{1,2}\s*日)?)?\s*$")
_SENTENCE_END = tuple("。；;！？!?：:）)")


@dataclass
class _Heading:
    start: int
    level: int
    title: str
    marker: str | None
    number: int | None


def cn_to_int(s: str) -> int | None:
    if s.isascii() and s.isdigit():
        return int(s)
    if not s or any(ch not in CN_NUM for ch in s):
        circled = "①②③④⑤⑥⑦⑧⑨⑩"
        return circled.index(s) + 1 if s in circled else None
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + CN_NUM.index(s[1]) + 1
    if len(s) == 1:
        return CN_NUM.index(s) + 1
    tens = CN_NUM.index(s[0]) + 1
    return tens * 10 + (CN_NUM.index(s[2]) + 1 if len(s) == 3 else 0)


def split_sections(doc: Document) -> list[Section]:
    text = doc.text
    groups = _table_groups(doc)
    lines = _plain_lines(text, groups)
    numbered = _drop_list_items(_numbered_headings(lines), lines)
    body_start = next((h.start for h in numbered if not (h.marker or "").startswith("附件")), len(text))
    headings = _promote_arabic(numbered + [h for h in _bare_headings(lines) if h.start > body_start])
    table_starts = [g[0].start for g in groups]
    headings = [h for h in headings if not _is_cover_annex(h, body_start, table_starts, text)]
    return _assemble(text, _nest_restarted(headings, lines), groups, lines)


def _style(h: _Heading) -> str:
    return (h.marker or "")[:1] + str(h.level)


def _nest_run(run: list[_Heading], level: int) -> None:
    """Move the restarted sequence (same numbering style, 1, 2, 3 …) to `level`."""
    first = run[0]
    style, floor, n = _style(first), first.level, 1
    for h in run:
        if h.level < floor or (_style(h) == style and h.number != n):
            break
        if _style(h) == style:
            h.level, n = level, n + 1
        elif h.level > level:
            h.level += 1
        else:
            break


def _nest_restarted(headings: list[_Heading], lines) -> list[_Heading]:
    """Numbering that restarts at 1 right under a heading makes children of it.

    `（四）主要工作成绩` followed at once by `（一）… （二）…` (or `2.常抓不懈…` by
    `（一）…`): the restarted run sits one level below the heading it follows. A
    heading without a number followed at once by `（一）` is a top-level heading
    whose number was left out (003's 部门整体支出绩效情况).
    """
    content = [s for s, _e, ln in lines if ln.strip()]
    out = sorted(headings, key=lambda h: h.start)

    def empty_body(i: int) -> bool:
        nxt = out[i + 1].start if i + 1 < len(out) else None
        return nxt is not None and not _has_content_between(content, out[i].start, nxt)

    i = 0
    while i < len(out) - 1:
        parent, child = out[i], out[i + 1]
        if parent.marker is None and child.marker and child.number == 1 and child.level == 2:
            parent.level = 1
        elif (child.number == 1 and child.marker and parent.marker and child.level <= parent.level
              and empty_body(i)):
            _nest_run(out[i + 1:], parent.level + 1)
        i += 1
    return out


def _is_cover_annex(h: _Heading, body_start: int, table_starts: list[int], text: str) -> bool:
    """`附件1` above the report's own title belongs to the cover, not to a table."""
    if not (h.marker or "").startswith("附件") or h.start > body_start:
        return False
    return not any(h.start < t and not text[h.start:t].strip().count("\n") > 2 for t in table_starts)


def _drop_list_items(headings: list[_Heading], lines) -> list[_Heading]:
    """`(1)… (2)… (3)…` on consecutive lines with nothing under them is a list, not headings."""
    headings = sorted(headings, key=lambda h: h.start)
    content = [s for s, _e, ln in lines if ln.strip()]

    def empty(i: int) -> bool:
        nxt = headings[i + 1].start if i + 1 < len(headings) else None
        return nxt is not None and not _has_content_between(content, headings[i].start, nxt)

    drop = set()
    for i in range(len(headings) - 1):
        a, b = headings[i], headings[i + 1]
        if (a.level >= 3 and b.level == a.level and a.number is not None and b.number == a.number + 1
                and empty(i) and a.marker[0] == b.marker[0]):
            drop.update({i, i + 1})
    return [h for i, h in enumerate(headings) if i not in drop]


def _plain_lines(text: str, groups: list[list[Table]]) -> list[tuple[int, int, str]]:
    """Lines outside tables: (start, end, line). One sweep over the lines and the (sorted) table spans."""
    spans = sorted((g[0].start, g[-1].end) for g in groups)
    out, pos, j = [], 0, 0
    for line in text.split("\n"):
        s, e = pos, pos + len(line)
        pos = e + 1
        while j < len(spans) and spans[j][1] <= s:
            j += 1
        if not any(a <= s < b for a, b in spans[j:j + 2] if a <= s):  # spans may touch; two cover it
            out.append((s, e, line))
    return out


def _has_content_between(content: list[int], start: int, end: int) -> bool:
    """Whether a non-blank line starts strictly between `start` and `end` (`content`: sorted line starts)."""
    i = bisect.bisect_right(content, start)
    return i < len(content) and content[i] < end


def _is_heading_text(title: str, full: str, level: int) -> bool:
    """Short, not a sentence. `（一）机构组成。` may end with a full stop; `2.细化绩效目标。` is a list item."""
    full = full.strip()
    if not title.strip() or len(full) > 40:
        return False
    if "。" not in full:
        return True
    return (level <= 2 and full.endswith("。") and full.count("。") == 1 and len(full) <= 16
            and not re.search("[、，,；;]", full))


def _numbered_headings(lines) -> list[_Heading]:
    out = []
    for s, _e, line in lines:
        m = _ANNEX.match(line)
        if m and (not m.group("t") or len(line.strip()) <= 40):
            out.append(_Heading(s, 1, line.strip(), m.group("m").replace(" ", ""), cn_to_int(m.group("n") or "")))
            continue
        if is_furniture(line):
            continue
        for level, rx in _NUMBERED:
            m = rx.match(line)
            if m and _is_heading_text(m.group("t"), line, level):
                lead = len(line) - len(line.lstrip())
                out.append(_Heading(s + lead, level, line.strip(), m.group("m").strip(), cn_to_int(m.group("n"))))
                break
    return out


def _bare_headings(lines) -> list[_Heading]:
    """Short stand-alone lines between paragraphs, without numbering (主要职能, 部门整体支出规模)."""
    out = []
    content = [(s, e, ln) for s, e, ln in lines if ln.strip()]
    for i in range(1, len(content) - 1):
        s, _e, line = content[i]
        t = line.strip()
        if not (2 <= len(t) <= 16) or re.search(r"[\d。，,；;：:、！？!?.]", t) or _DATE.match(t) or is_furniture(t):
            continue
        if any(rx.match(line) for _, rx in _NUMBERED) or _ANNEX.match(line):
            continue
        prev, nxt = content[i - 1][2].strip(), content[i + 1][2].strip()
        if prev.endswith(_SENTENCE_END) and (len(nxt) > 16 or any(rx.match(nxt) for _, rx in _NUMBERED)):
            out.append(_Heading(s + len(line) - len(line.lstrip()), 2, t, None, None))
    return out


def _promote_arabic(headings: list[_Heading]) -> list[_Heading]:
    """`5、 下一步改进措施` after `四、…` is a top-level heading written with the wrong numerals."""
    headings = sorted(headings, key=lambda h: h.start)
    for i, h in enumerate(headings):
        if h.level != 3 or h.number is None:
            continue
        prev = next((x.number for x in reversed(headings[:i]) if x.level == 1 and x.marker
                     and not x.marker.startswith("附件")), None)
        nxt = next((x.number for x in headings[i + 1:] if x.level == 1 and x.marker
                    and not x.marker.startswith("附件")), None)
        fits_prev = prev == h.number - 1 if prev is not None else h.number == 1
        fits_next = nxt == h.number + 1 if nxt is not None else prev is not None
        if fits_prev and fits_next:
            h.level = 1
    return headings


def _table_groups(doc: Document) -> list[list[Table]]:
    """Tables in order, those split by a page break joined into one group."""
    groups: list[list[Table]] = []
    for t in sorted(doc.tables, key=lambda t: t.start):
        if groups:
            gap = doc.text[groups[-1][-1].end:t.start]
            if all(not ln.strip() or PAGE_NUMBER.match(ln) for ln in gap.split("\n")):
                groups[-1].append(t)
                continue
        groups.append([t])
    return groups


def _table_title(text: str, group: list[Table], lines, ends: list[int]) -> tuple[str, int]:
    """The title of a table and where its section starts (the title line, if any); `ends`: the lines' ends,
    sorted, to find the lines above the table without walking all of them."""
    first = group[0]
    before = []
    for k in range(bisect.bisect_right(ends, first.start) - 1, -1, -1):
        if lines[k][2].strip():
            before.insert(0, lines[k])
            if len(before) == 2:
                break
    for s, _e, line in reversed(before):
        t = line.strip()
        if _TABLE_TITLE.search(t) and len(t) <= 60 and not t.endswith("。"):
            return t, s
    head = first.rows[0][0].text.strip() if first.rows and first.rows[0] else ""
    if _TABLE_TITLE.search(head) and len(head) <= 60:
        return re.sub(r"\s+", "", head), first.start
    return "表格", first.start


def _annex_above(text: str, headings: list[_Heading], starts: list[int], gone: set[int], start: int) -> int | None:
    """The index of the 附件N heading that titles a table starting at `start`: the last heading above it, with
    nothing but its own title between them (an earlier heading has that heading's title between)."""
    i = bisect.bisect_left(starts, start) - 1
    while i >= 0 and i in gone:
        i -= 1
    if i < 0:
        return None
    h = headings[i]
    if h.marker and h.marker.startswith("附件") and not text[h.start:start].strip().replace(h.title, "").strip():
        return i
    return None


def _assemble(text, headings, groups, lines) -> list[Section]:
    """Turn headings and table groups into a partition of the text."""
    marks: list[tuple[int, Section]] = []
    ends = [e for _s, e, _ln in lines]
    headings = sorted(headings, key=lambda h: h.start)
    gone: set[int] = set()  # indexes of headings taken by a table: its 附件 line, or inside it
    starts = [h.start for h in headings]
    for g in groups:
        title, start = _table_title(text, g, lines, ends)
        annex = _annex_above(text, headings, starts, gone, start)
        if annex is not None:
            gone.add(annex)
            start = headings[annex].start
            marker = headings[annex].marker
        else:
            marker = None
        gone.update(range(bisect.bisect_left(starts, start), bisect.bisect_left(starts, g[-1].end)))
        marks.append((start, Section(title, 1, "table", start, g[-1].end, marker)))
    headings = [h for i, h in enumerate(headings) if i not in gone]
    for h in headings:
        marks.append((h.start, Section(h.title, h.level, "narrative", h.start, h.start, h.marker)))
    marks.sort(key=lambda m: m[0])
    sections: list[Section] = []
    first_content = len(text) - len(text.lstrip())
    if not marks or marks[0][0] > first_content:
        furniture = {s for s, _e in furniture_spans(text)}
        cover, pos = [], 0
        for ln in text[:marks[0][0] if marks else len(text)].split("\n"):
            if pos not in furniture:
                cover.append(ln.strip())
            pos += len(ln) + 1
        title = next((ln for ln in cover if ln and not _ANNEX.match(ln)), "")[:40]
        sections.append(Section(title or "正文", 0, "narrative", 0, 0, None))
    for _, sec in marks:
        sections.append(sec)
    for i, sec in enumerate(sections):
        nxt = sections[i + 1].start if i + 1 < len(sections) else len(text)
        if sec.kind == "table":
            if i + 1 < len(sections) and sec.end < nxt and text[sec.end:nxt].strip():
                continue  # text after a table up to the next heading is handled below
            sec.end = nxt
        else:
            sec.end = nxt
    return _fill_gaps(text, sections)


def _fill_gaps(text: str, sections: list[Section]) -> list[Section]:
    """Text between a table and the next heading (notes under a table) gets its own section."""
    out: list[Section] = []
    if sections and sections[0].start > 0:
        sections[0].start = 0
    for i, sec in enumerate(sections):
        out.append(sec)
        nxt = sections[i + 1].start if i + 1 < len(sections) else len(text)
        if sec.end < nxt:
            gap = text[sec.end:nxt]
            title = gap.strip().split("\n", 1)[0].strip()[:20]
            out.append(Section(title or f"{sec.title}（表后说明）", sec.level + 1,
                               "narrative", sec.end, nxt, None))
    return out
