"""The second look at an LLM engine's record: what the engine trusted but the re-check doubts goes to
review; the engine's own doubts are kept; what the engine left empty but the rules engine reads is proposed
for review (a value the report states is never silently dropped). Mutates and returns the record JSON.
"""

from __future__ import annotations

import re
import unicodedata

from service.check.recheck import recheck
from service.core.project_docs import PROJECT_ATTRS, is_project_document
from service.document import Document
from service.extract.rules import engine as rules
from service.models import REVIEW, Section
from service.record import Entry, FieldEntry, Record, RowEntry, to_record
from service.settings import Settings


def second_look(doc: Document, sections: list[Section], record: Record, settings: Settings) -> Record:
    """Send to review what the engine trusted but the re-check doubts; keep the engine's own doubts; propose
    for review what the engine left empty but the rules extractor reads."""
    second = rules.extract(doc, sections, ocr_review_below=settings.ocr_review_below)
    checked = recheck(doc, sections, record, accept_at=settings.threshold,
                      ocr_review_below=settings.ocr_review_below, rules=second)
    for key, value in record.fields.items():
        again = checked.fields.get(key)
        if again is not None:
            _escalate(value, again)
    for row, again in zip(record.indicators, checked.indicators, strict=False):
        _escalate(row, again)
    rules_record = to_record(doc, second)
    _propose_what_the_engine_missed(doc.text, record, rules_record.fields)
    _propose_rows_the_engine_missed(record, rules_record.indicators)
    return record


def _row_key(row: RowEntry) -> str:
    return re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", row.name or ""))


def _propose_rows_the_engine_missed(record: Record, rules_rows: list[RowEntry]) -> None:
    """Score rows the rules extractor reads and trusts that the model did not return go to review as
    proposals, so a table the model read short is never trusted short (rows the rules extractor doubts
    itself are mostly text it could not place, and would only bury the reviewer)."""
    have = {_row_key(r) for r in record.indicators}
    for r in rules_rows:
        key = _row_key(r)
        if r.status == REVIEW or not key or key in have or \
                any(key in k or k in key for k in have if len(k) >= 4 and len(key) >= 4):
            continue
        have.add(key)
        record.indicators.append(r.model_copy(update={
            "status": REVIEW, "confidence": min(r.confidence or 0.0, 0.5),
            "issues": [*r.issues, "大模型没有读出此行；规则提取在原文读到此行（建议值），请核对或删除"]}))


def _propose_what_the_engine_missed(text: str, record: Record, second: dict[str, FieldEntry]) -> None:
    """A field left empty that the rules extractor reads goes to review with that reading: never silently
    dropped (a value the report states but nobody sees is the second worst outcome)."""
    filed = _filed_under_projects(text, record)
    for key, found in second.items():
        if record.field_value(key) is not None or found.value is None or (key, found.value) in filed:
            continue
        record.fields[key] = found.model_copy(update={
            "status": REVIEW, "confidence": min(found.confidence or 0.0, 0.5),
            "issues": [f"大模型没有读出此项；规则提取在原文读到 {found.value}，请核对"]})


def _filed_under_projects(text: str, record: Record) -> set[tuple[str, object]]:
    """(field, value) of a project-only document's budget figures and totals, which the engine filed under
    its projects (spec: the project's, not fields): not proposed back as fields."""
    tables = {r.table or "" for r in record.indicators} | {p.name or "" for p in record.projects}
    if not is_project_document(text, tables):
        return set()
    return {(key, getattr(p, attr)) for key, attr in PROJECT_ATTRS.items() for p in record.projects
            if getattr(p, attr, None) is not None}


def _escalate(value: Entry, again: Entry) -> None:
    if again.status == REVIEW and value.status != REVIEW:
        value.status = REVIEW
        value.confidence = min(value.confidence or 0.0, again.confidence or 0.0)
        value.issues = list(dict.fromkeys([*value.issues, *again.issues]))
