"""The rules extractor: offline, deterministic, and never guessing.

Reads every labelled fact of spec/fields.md, every row of every score table,
the projects with money, and the problems and measures. Every value carries
the offsets of the characters it was read from; a value that cannot be tied
to a label is left out.
"""

from __future__ import annotations

from collections import defaultdict

from ..checks import FIELD_CHECKS
from ..document import Document
from ..fields import FIELDS
from ..models import REVIEW, Extraction, FieldValue, Section
from . import score_tables as st
from .candidates import Candidate, table_candidates, text_candidates
from .identity import identity_candidates
from .lists import read_lists
from .merge import merge_field

ENGINE_VERSION = "rules-1"


def extract(doc: Document, sections: list[Section], ocr_review_below: float = 0.9) -> Extraction:
    ex = Extraction(engine="rules", engine_version=ENGINE_VERSION)
    cands: list[Candidate] = text_candidates(doc, sections)
    label_cells = []
    for sec, table in _tables_with_sections(doc, sections):
        subject = st.table_subject(table, sec.title)
        found = table_candidates(doc, table, sec.title)
        if subject == "整体":
            cands += found
            total = st.table_total(table)
            if total and st.find_header(table):
                cands.append(Candidate("self_score", total[0], total[1], 1, "table"))
        else:
            money = {c.field: c.value for c in found if c.source == "table"}
            ex.projects.append(st.project_from_table(table, subject, money))
        ex.indicators += st.read_indicators(doc, table, sec.title)
        label_cells += [(row[i], row[i + 1]) for row in table.rows[:3] for i in range(len(row) - 1)]
    cands += identity_candidates(doc, sections, label_cells)
    by_field: dict[str, list[Candidate]] = defaultdict(list)
    for c in cands:
        by_field[c.field].append(c)
    for spec in FIELDS:
        fv = merge_field(spec.key, by_field.get(spec.key, []))
        if fv is not None:
            _flag_low_ocr(doc, fv, ocr_review_below)
            ex.fields[spec.key] = fv
    for check in FIELD_CHECKS:
        for key, issue in check(ex.fields):
            ex.fields[key].status = REVIEW
            ex.fields[key].issues.append(issue)
    ex.problems, ex.measures = read_lists(doc, sections)
    return ex


def _tables_with_sections(doc: Document, sections: list[Section]):
    for table in doc.tables:
        sec = next((s for s in sections if s.kind == "table" and s.start <= table.start < s.end), None)
        if sec is None:
            sec = next((s for s in sections if s.start <= table.start < s.end), sections[0])
        yield sec, table


def _flag_low_ocr(doc: Document, fv: FieldValue, threshold: float) -> None:
    if fv.evidence is None:
        return
    conf = doc.ocr_confidence(fv.evidence.start, fv.evidence.end)
    if conf is not None and conf < threshold:
        fv.status = REVIEW
        fv.confidence = min(fv.confidence, round(conf, 2))
        fv.issues.append(f"该数值来自扫描件 OCR 识别，置信度较低（{conf:.2f}），请对照原件核对")
