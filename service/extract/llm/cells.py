"""Values an LLM read from a table, pointed at their own cells.

A model quotes what it read: for a value from a table that is often the whole row (年度资金总额 612.40
845.36 845.36 10 100% 10), where 全年预算数 and 全年执行数 would both highlight the same row. The cell a value
stands in is the one where the rules extractor reads that field and value (inside the quote, else in the
call's text), else the one cell of the quote that holds the number; a score row keeps its quoted row, with
the cell of each value it names. Offsets come from the document's table cells (`service.core.evidence`).
"""

from __future__ import annotations

from service.core import evidence as te
from service.core import score_tables as st
from service.core.candidates import Candidate
from service.core.numbers import same_number
from service.core.table_values import table_readings
from service.document import Document
from service.extract.llm.planner import Call
from service.models import Evidence, Project, Section


class Cells:
    """Where the document's tables state each value, for pointing a value read from a table at its own cell:
    the readings of the table cells (`service.core.table_values`) (made once, when first needed)."""

    def __init__(self, doc: Document, sections: list[Section]):
        self.doc, self.sections, self._readings = doc, sections, None

    def readings(self, key: str, value) -> list[Candidate]:
        if self._readings is None:
            self._readings = table_readings(self.doc, self.sections)
        return sorted((c for c in self._readings if c.field == key and same_number(c.value, value)),
                      key=lambda c: c.evidence.start)

    def of_value(self, call: Call, key: str, value, printed, ev: Evidence | None) -> Evidence | None:
        """The evidence of field `key`'s `value` (`printed`: the number as the report prints it) read from the
        quote located at `ev`: when the quote is in a table, the cell that states it (the rules extractor's
        cell for this field inside the quote, else in the call's text, else the one cell of the quote that
        holds the number), its row label and column header as context; else `ev` as it is."""
        doc = self.doc
        if ev is None or ev.end <= ev.start or not te.table_cells(doc, ev.start, ev.end):
            return ev
        same = self.readings(key, value)
        inside = [c for c in same if ev.start <= c.evidence.start and c.evidence.end <= ev.end]
        seen = [c for c in same if any(s <= c.evidence.start and c.evidence.end <= e for s, e in call.spans)]
        if inside or seen:
            return (inside or sorted(seen, key=lambda c: abs(c.evidence.start - ev.start)))[0].evidence
        cell = te.value_cell(doc, printed, ev.start, ev.end)
        if cell is None:
            return ev
        return te.cell_evidence(doc.text, cell, [te.row_label(te.row_of(doc, cell), cell)])

    def in_call(self, call: Call, key: str, value) -> Evidence | None:
        """The first cell of the call's text where the rules extractor reads `value` for field `key`."""
        return next((c.evidence for c in self.readings(key, value)
                     if any(s <= c.evidence.start and c.evidence.end <= e for s, e in call.spans)), None)

    def of_project(self, call: Call, project: Project) -> Evidence | None:
        """A project read from its score table: the total's evidence, with the cells of its score and money."""
        ev = project.evidence
        found = {"score": (ev.start, ev.end)} if ev is not None and ev.end > ev.start else {}
        for key in ("budget_initial", "budget_full_year", "spending_actual", "execution_rate"):
            at = self.in_call(call, key, getattr(project, key)) if getattr(project, key) is not None else None
            if at is not None:
                found[key] = (at.start, at.end)
        if ev is None or not found:
            return ev
        return Evidence(ev.quote, ev.start, ev.end, context=list(ev.context), cells=found)

    def of_row(self, ev: Evidence | None, values: dict) -> Evidence | None:
        """A score row's or project's evidence with the cell of each of its `values` and its table's column
        headers, when its quote is a row of a table."""
        if ev is None or ev.end <= ev.start:
            return ev
        cells = te.row_cells(te.table_cells(self.doc, ev.start, ev.end), values, self.doc.text)
        if not cells:
            return ev
        table = te.table_of(self.doc, ev.start, ev.end)
        found = st.find_header(table) if table is not None else None
        headers = te.spans(st.header_cells(table, *found).values()) if found else []
        return Evidence(ev.quote, ev.start, ev.end, context=headers, cells=cells)
