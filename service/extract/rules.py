"""The rules extractor: offline, deterministic, and never guessing.

Reads every labelled fact of spec/fields.md, every row of every score table,
the projects with money, and the problems and measures. Every value carries
the offsets of the characters it was read from; a value that cannot be tied
to a label is left out.
"""

from __future__ import annotations

from ..document import Document
from ..models import REVIEW, Extraction, Section
from . import score_tables as st
from .candidates import Candidate, table_candidates, text_candidates
from .finish import check_score_table, merge_candidates
from .identity import identity_candidates
from .lists import read_lists
from .projects import merge_projects, read_listed_projects, read_project_list, read_told_projects
from .run_together import find_run_together, read_run_together

ENGINE_VERSION = "rules-1"


def extract(doc: Document, sections: list[Section], ocr_review_below: float = 0.9) -> Extraction:
    ex = Extraction(engine="rules", engine_version=ENGINE_VERSION)
    cands: list[Candidate] = text_candidates(doc, sections)
    label_cells = []
    read = []
    for sec, table in _tables_with_sections(doc, sections):
        listed = read_project_list(doc, table)
        if listed is not None:  # 项目名称 | 年初预算数 | …: projects, never the department's figures
            ex.projects += listed
            continue
        read.append((sec, table, st.table_subject(table, sec.title, doc.text),
                     table_candidates(doc, table, sec.title)))
    # a table's execution row (年初预算数 … 分值 得分) may sit in another table of the same subject
    pooled: dict[str, dict] = {}
    for _s, _t, subject, found in read:
        for c in found:
            if c.source == "table":
                pooled.setdefault(subject, {}).setdefault(c.field, c.value)
    department_money = pooled.get("整体", {})
    for sec, table, subject, found in read:
        money = {**pooled.get(subject, {}), **{c.field: c.value for c in found if c.source == "table"}}
        total = st.table_total(table)
        rows = st.read_indicators(doc, table, sec.title)
        issues = check_score_table(rows, money, total[0] if total else None) if rows else []
        if subject == "整体":
            cands += found
            if total and rows:
                cands.append(Candidate("self_score", total[0], total[1], 1, "table", issue="；".join(issues) or None))
        else:
            project = st.project_from_table(table, subject, money)
            if issues:
                project.status = REVIEW
                project.issues += issues
            ex.projects.append(project)
        ex.indicators += rows
        label_cells += [(row[i], row[i + 1]) for row in table.rows[:3] for i in range(len(row) - 1)]
    cands += _run_together_tables(doc, sections, ex, department_money)
    cands += identity_candidates(doc, sections, label_cells)
    merge_candidates(doc, ex, cands, ocr_review_below)
    ex.projects = merge_projects(ex.projects + read_told_projects(doc, sections))
    known = {p.name for p in ex.projects}
    ex.projects += [p for p in read_listed_projects(doc, sections) if p.name not in known]
    ex.problems, ex.measures = read_lists(doc, sections)
    return ex


def _run_together_tables(doc, sections, ex, money) -> list[Candidate]:
    """Score tables flattened onto one line of text (no table was found there)."""
    cands = []
    for sec in sections:
        if sec.kind != "narrative":
            continue
        for start, end in find_run_together(doc, sec.start, sec.end):
            subject = "整体" if "项目" not in sec.title or "整体" in sec.title else sec.title
            rows, total = read_run_together(doc, start, end, subject)
            issues = check_score_table(rows, money, total[0] if total else None)
            if subject == "整体" and total and rows:
                cands.append(Candidate("self_score", total[0], total[1], 1, "table", issue="；".join(issues) or None))
            ex.indicators += rows
    return cands


def _tables_with_sections(doc: Document, sections: list[Section]):
    for table in doc.tables:
        sec = next((s for s in sections if s.kind == "table" and s.start <= table.start < s.end), None)
        if sec is None:
            sec = next((s for s in sections if s.start <= table.start < s.end), sections[0])
        yield sec, table
