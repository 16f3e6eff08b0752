"""The record of one document (../shared/spec/record-format.md), typed: made from an extraction, checked,
reviewed, stored and exported as the same pydantic models.

`to_record(doc, extraction)` makes it; the checks (`service.check`) re-check and annotate it; the review
items come from it and a reviewed one is made from them (`service.review`); the confirmed tables are written
from it (`service.store.rows`). `Record.json()` is the record JSON every output writes, and
`Record.model_validate(json)` reads one back, from any source: a field given as a bare value
(`{"fiscal_year": 2023}`) is read as `{"value": 2023}`, a list of problems as its value, a source as its name,
as gold files write them. Keys beyond the spec are kept everywhere, as the spec allows.

Evidence in the record is the engines' own `models.Evidence`; its JSON form (`{"quote", "start", "end",
"context": [{"start", "end"}], "cells": {key: {"start", "end"}}}`) is written and read here only.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from service.document import Document
from service.models import ACCEPTED, Evidence, Extraction, FieldValue, IndicatorRow, Project, TextList


def _span(raw) -> tuple[int, int] | None:
    """(start, end) from a span as JSON writes it ({start, end}, or a pair); None when it is not one."""
    if isinstance(raw, dict):
        raw = (raw.get("start"), raw.get("end"))
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return None
    start, end = raw
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)) or not 0 <= start < end:
        return None
    return start, end


def evidence_from_json(raw) -> Evidence | None:
    """Evidence from its record JSON. A quote without a span of text (no offsets, or end not after start) is
    kept at 0..0, as the spec writes an unknown place, so that the checks can still look for the quote; no
    quote and no span is None. Context and cell spans that are not spans are left out."""
    if isinstance(raw, Evidence):
        return raw
    if not isinstance(raw, dict):
        return None
    start, end = raw.get("start"), raw.get("end")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)) or end <= start or start < 0:
        return Evidence(str(raw["quote"]), 0, 0) if raw.get("quote") else None
    context = [s for s in map(_span, raw.get("context") or []) if s is not None] \
        if isinstance(raw.get("context"), list) else []
    cells = {k: s for k, s in ((k, _span(v)) for k, v in raw["cells"].items()) if isinstance(k, str) and s} \
        if isinstance(raw.get("cells"), dict) else {}
    quote = raw.get("quote")
    return Evidence("" if quote is None else str(quote), start, end, context=context, cells=cells)


def evidence_json(ev: Evidence | None) -> dict | None:
    """Evidence as the record JSON writes it: quote, start, end, and `context` and `cells` only when known."""
    if ev is None:
        return None
    out: dict = {"quote": ev.quote, "start": ev.start, "end": ev.end}
    if ev.context:
        out["context"] = [{"start": s, "end": e} for s, e in ev.context]
    if ev.cells:
        out["cells"] = {k: {"start": s, "end": e} for k, (s, e) in ev.cells.items()}
    return out


RecordEvidence = Annotated[Evidence | None, BeforeValidator(evidence_from_json),
                           PlainSerializer(evidence_json, return_type=dict | None)]
Number = int | float | None  # an int stays an int (5 分), a float a float (9.85 分)


class Entry(BaseModel):
    """What every reviewable part of a record has: its status, confidence, evidence and issues."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True, validate_assignment=False)

    status: str | None = ACCEPTED  # None: not known (a confirmed value exported without its status row)
    confidence: float | None = None
    evidence: RecordEvidence = None
    issues: list[str] = Field(default_factory=list)

    @field_validator("issues", mode="before")
    @classmethod
    def _issues(cls, v):
        return [] if v is None else v


class Reading(BaseModel):
    """Another reading of a field, offered to the reviewer."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    value: Any = None
    evidence: RecordEvidence = None
    note: str | None = None


class FieldEntry(Entry):
    value: Any = None
    note: str | None = None
    candidates: list[Reading] = Field(default_factory=list)
    grounding: str | None = None  # how the re-check found the value (service.check.grounding)


class RowEntry(Entry):
    """One score row (三级指标) of a score table; `table` names it (整体, or a project)."""

    table: str | None = None
    level1: str | None = None
    level2: str | None = None
    name: str | None = None
    target: str | None = None
    actual: str | None = None
    weight: Number = None
    score: Number = None
    remark: str | None = None


class ProjectEntry(Entry):
    name: str | None = None
    budget_initial: Number = None
    budget_full_year: Number = None
    spending_actual: Number = None
    execution_rate: Number = None
    score: Number = None


class ListEntry(Entry):
    """The problems or the measures: one string per item, as written."""

    value: list[str] = Field(default_factory=list)


class Source(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    sha256: str | None = None
    kind: str | None = None
    ocr: bool | None = None
    pages: int | None = None


class EngineInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    version: str | None = None


class Confirmation(BaseModel):
    """Who confirmed a record (确认入库) and when (ISO time, UTC): the export of confirmed records."""

    model_config = ConfigDict(extra="allow")

    by: str | None = None
    at: str | None = None


class Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    source: Source | None = None
    engine: EngineInfo | None = None
    fields: dict[str, FieldEntry] = Field(default_factory=dict)
    indicators: list[RowEntry] = Field(default_factory=list)
    projects: list[ProjectEntry] = Field(default_factory=list)
    problems: ListEntry | None = None
    measures: ListEntry | None = None
    confirmed: Confirmation | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _bare_values(cls, v):
        if not isinstance(v, dict):
            return {} if v is None else v
        return {k: f if isinstance(f, dict | FieldEntry) else {"value": f} for k, f in v.items()}

    @field_validator("indicators", "projects", mode="before")
    @classmethod
    def _lists(cls, v):
        return [] if v is None else v

    @field_validator("source", mode="before")
    @classmethod
    def _source_name(cls, v):
        return {"name": v} if isinstance(v, str) else v  # a gold file's "source": "000_….txt"

    @field_validator("problems", "measures", mode="before")
    @classmethod
    def _bare_list(cls, v):
        return {"value": v} if isinstance(v, list) else v  # a gold file's "problems": ["…", …]

    def field_value(self, key: str) -> Any:
        """The value of field `key`, None when it is not stated."""
        f = self.fields.get(key)
        return None if f is None else f.value

    def json(self) -> dict[str, Any]:  # noqa: D102 (pydantic's deprecated .json is replaced on purpose)
        """The record JSON (the shape score.py reads)."""
        return self.model_dump(mode="json", exclude_unset=True)


def _field(fv: FieldValue) -> FieldEntry:
    out = FieldEntry(value=fv.value, status=fv.status, confidence=fv.confidence, evidence=fv.evidence,
                     issues=list(fv.issues))
    if fv.note:
        out.note = fv.note
    if fv.candidates:
        out.candidates = [Reading(value=c.value, evidence=c.evidence, note=c.note) for c in fv.candidates]
    return out


def _row(r: IndicatorRow) -> RowEntry:
    return RowEntry(table=r.table, level1=r.level1, level2=r.level2, name=r.name, target=r.target, actual=r.actual,
                    weight=r.weight, score=r.score, remark=r.remark, status=r.status, confidence=r.confidence,
                    evidence=r.evidence, issues=list(r.issues))


def _project(p: Project) -> ProjectEntry:
    return ProjectEntry(name=p.name, budget_initial=p.budget_initial, budget_full_year=p.budget_full_year,
                        spending_actual=p.spending_actual, execution_rate=p.execution_rate, score=p.score,
                        status=p.status, evidence=p.evidence, issues=list(p.issues))


def _list(tl: TextList | None) -> ListEntry | None:
    if tl is None:
        return None
    return ListEntry(value=list(tl.value), status=tl.status, evidence=tl.evidence, issues=list(tl.issues))


def to_record(doc: Document, ex: Extraction) -> Record:
    """The record of `doc` as the engine extracted it (before the checks)."""
    return Record(source=Source(name=doc.name, sha256=doc.sha256, kind=doc.kind, ocr=doc.ocr, pages=len(doc.pages)),
                  engine=EngineInfo(name=ex.engine, version=ex.engine_version),
                  fields={k: _field(v) for k, v in ex.fields.items()},
                  indicators=[_row(r) for r in ex.indicators],
                  projects=[_project(p) for p in ex.projects],
                  problems=_list(ex.problems), measures=_list(ex.measures))
