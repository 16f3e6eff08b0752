"""What an extraction produces, whatever engine produced it.

Plain dataclasses: the rules extractor, the LLM engine, the checks, the
store and the record JSON all speak these. The field keys are those of
spec/fields.md (see `service.fields`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCEPTED, REVIEW, CONFIRMED, CORRECTED = "accepted", "review", "confirmed", "corrected"

# The name of the department-wide score table (部门整体支出绩效自评表); a project's table is named by its project.
DEPARTMENT_TABLE = "整体"

# Where each kind of review item starts in the review page's order: fields first (by registry order), then
# the score-table rows, the projects, the problems and measures; the store numbers inserted rows the same way.
FIRST_POSITION = {"field": 0, "indicator": 1000, "project": 5000, "list": 9000}


@dataclass
class Evidence:
    """Where a value was read: `document.text[start:end] == quote`.

    A value read from a table points at its own cell; `context` holds the (start, end) of the cells that say
    what it is (its row's label, its column's header), shown lightly. A score row or project read from a
    table keeps the whole row in start/end, and `cells` gives each of its values' cells by key (name, weight,
    score, budget_full_year, …), `context` its table's column headers.
    """

    quote: str
    start: int
    end: int
    context: list[tuple[int, int]] = field(default_factory=list)
    cells: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class FieldValue:
    key: str
    value: Any
    status: str = ACCEPTED
    confidence: float = 0.0
    evidence: Evidence | None = None
    issues: list[str] = field(default_factory=list)
    note: str | None = None  # e.g. "由元换算为万元"
    candidates: list[FieldValue] = field(default_factory=list)  # other readings of the same field


@dataclass
class IndicatorRow:
    table: str
    level1: str | None
    level2: str | None
    name: str | None
    target: str | None
    actual: str | None
    weight: float | None
    score: float | None
    remark: str | None = None
    status: str = ACCEPTED
    confidence: float = 0.0
    evidence: Evidence | None = None
    issues: list[str] = field(default_factory=list)


@dataclass
class Project:
    name: str
    budget_initial: float | None = None
    budget_full_year: float | None = None
    spending_actual: float | None = None
    execution_rate: float | None = None
    score: float | None = None
    status: str = ACCEPTED
    evidence: Evidence | None = None
    issues: list[str] = field(default_factory=list)


@dataclass
class TextList:
    """problems / measures: one string per item, as written."""

    value: list[str] = field(default_factory=list)
    status: str = ACCEPTED
    evidence: Evidence | None = None
    issues: list[str] = field(default_factory=list)


@dataclass
class Extraction:
    engine: str  # "rules", "llm", ...
    engine_version: str
    fields: dict[str, FieldValue] = field(default_factory=dict)
    indicators: list[IndicatorRow] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    problems: TextList | None = None
    measures: TextList | None = None

    def review_count(self) -> int:
        items = [*self.fields.values(), *self.indicators, *self.projects,
                 *(x for x in (self.problems, self.measures) if x is not None)]
        return sum(1 for x in items if x.status == REVIEW)


@dataclass
class Section:
    title: str
    level: int  # 1 = 一、 / 附件 / titled table; 2 = （一）; 3 = 1.; 4 = （1）/①
    kind: str  # "narrative" or "table"
    start: int
    end: int
    marker: str | None = None  # the heading number as printed: "一、", "（二）", "附件2"
