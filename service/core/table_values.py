"""Values read from the cells of a document's tables, the same for every engine.

Money blocks, header columns, label rows and the 预算执行率 row of a score table, each with its cell as
evidence. The rules extractor reads them as candidates; the LLM engine points a value it read from a table at
the cell that states it (`service.extract.llm.cells`).
"""

from __future__ import annotations

import re

from service.core import evidence as te
from service.core import score_tables as st
from service.core.candidates import Candidate, money_block_candidates, table_candidates
from service.core.project_lists import read_project_list
from service.document import Document
from service.ingest.stream_money import is_money_block
from service.models import REVIEW, Section


def table_readings(doc: Document, sections: list[Section]) -> list[Candidate]:
    """Every value this extractor reads from a table's cells (money blocks, header columns, label rows, the
    预算执行率 row of a score table), each with its cell as evidence: where another engine's value read from
    a table points, so that two fields stating the same number (全年预算数 = 全年执行数) point at their own
    cells."""
    out: list[Candidate] = []
    if not sections:
        return out
    for sec, table in [*tables_with_sections(doc, sections), *tables_with_sections(doc, sections, doc.rebuilt)]:
        if is_money_block(table):
            out += money_block_candidates(doc, table)
        elif read_project_list(doc, table) is None:
            out += [c for c in table_candidates(doc, table, sec.title) if c.source == "table"]
            out += execution_row(st.read_indicators(doc, table, sec.title), doc.text)
    return out


def execution_row(rows, text: str) -> list[Candidate]:
    """In the 决策/过程/产出/效益 framework 预算执行率 is a scored 三级指标 row: its 分值 and 得分 are the
    department's execution_weight and execution_score (spec/fields.md)."""
    out = []
    for r in rows:
        if r.evidence is not None and re.sub(r"\W", "", r.name or "") in ("预算执行率", "预算执行情况"):
            issue = "；".join(r.issues) if r.status == REVIEW else None
            for field, key, value in (("execution_weight", "weight", r.weight), ("execution_score", "score", r.score)):
                if value is not None:
                    out.append(Candidate(field, value, te.cell_of_row(text, r.evidence, key), 1, "table", issue=issue))
    return out


def tables_with_sections(doc: Document, sections: list[Section], tables=None):
    for table in doc.tables if tables is None else tables:
        sec = next((s for s in sections if s.kind == "table" and s.start <= table.start < s.end), None)
        if sec is None:
            sec = next((s for s in sections if s.start <= table.start < s.end), sections[0])
        yield sec, table
