"""The rules extractor: offline, deterministic, and never guessing.

Reads every labelled fact of spec/fields.md, every row of every score table,
the projects with money, and the problems and measures. Every value carries
the offsets of the characters it was read from; a value that cannot be tied
to a label is left out.
"""

from __future__ import annotations

from service.core import score_tables as st
from service.core.candidates import Candidate, money_block_candidates, table_candidates, text_candidates
from service.core.finish import check_score_table, keep_paired_rows, merge_candidates, trust_rebuilt_rows
from service.core.project_lists import read_project_list
from service.core.table_values import execution_row, tables_with_sections
from service.document import Document
from service.extract.rules.identity import identity_candidates
from service.extract.rules.lists import read_lists
from service.extract.rules.projects import merge_projects, read_listed_projects, read_told_projects
from service.ingest.stream_criteria import CRITERIA, CRITERIA_PARTIAL, WHY_PARTIAL
from service.ingest.stream_money import COLUMNS as MONEY_COLUMNS
from service.ingest.stream_money import is_money_block
from service.ingest.stream_runs import PAIRED_BY_ORDER
from service.ingest.stream_tables import TRUE_GRIDS, rebuild_within
from service.models import DEPARTMENT_TABLE, REVIEW, Extraction, Section

ENGINE_VERSION = "rules-2"
FLATTENED = {"tab", "tsv", "pipe", "spaces"}  # grids found in text, whose columns may have drifted


def extract(doc: Document, sections: list[Section], ocr_review_below: float = 0.9) -> Extraction:
    ex = Extraction(engine="rules", engine_version=ENGINE_VERSION)
    cands: list[Candidate] = text_candidates(doc, sections)
    label_cells = []
    read = []
    found_in: dict[int, list[Candidate]] = {}  # each table's candidates, read once

    def candidates_of(sec, table) -> list[Candidate]:
        if id(table) not in found_in:
            found_in[id(table)] = (money_block_candidates(doc, table) if is_money_block(table)
                                   else table_candidates(doc, table, sec.title))
        return found_in[id(table)]

    rebuilt, superseded, money_superseded = _rebuilt_tables(doc, sections, candidates_of)
    for sec, table in [*tables_with_sections(doc, sections), *rebuilt]:
        listed = read_project_list(doc, table)
        if listed is not None:  # 项目名称 | 年初预算数 | …: projects, never the department's figures
            ex.projects += listed
            continue
        found = candidates_of(sec, table)
        if id(table) in money_superseded:  # its money is read from the rebuilt block over it
            found = [c for c in found if c.field not in MONEY_COLUMNS]
        grid = next((t for t in doc.tables if t.start <= table.start < t.end), None) if table.origin == "stream" else None
        subject = st.table_subject(grid or table, sec.title, doc.text)  # a rebuilt table is its grid's
        read.append((sec, table, subject, found))
    # a table's execution row (年初预算数 … 分值 得分) may sit in another table of the same subject
    pooled: dict[str, dict] = {}
    pooled_at: dict[str, dict] = {}  # per subject, the evidence of each pooled value
    doubts: dict[str, set] = {}  # per subject, the doubts of the money read for it
    for _s, _t, subject, found in read:
        for c in found:
            if c.source == "table" and c.field not in pooled.setdefault(subject, {}):
                pooled[subject][c.field] = c.value
                pooled_at.setdefault(subject, {})[c.field] = c.evidence
                if c.issue and c.field in MONEY_COLUMNS:
                    doubts.setdefault(subject, set()).add(c.issue)
    for sec, table, subject, found in read:
        money = {**pooled.get(subject, {}), **{c.field: c.value for c in found if c.source == "table"}}
        where = {**pooled_at.get(subject, {}), **{c.field: c.evidence for c in found if c.source == "table"}}
        total = st.table_total(table, doc.text)
        stated = None
        if total is None and subject != DEPARTMENT_TABLE:  # 自评得分 93 in the project's head block
            since = max([t.end for t in [*doc.tables, *doc.rebuilt] if t.end <= table.start], default=0)
            total = stated = st.stated_total_above(table, doc.text, since)
        rows = [] if id(table) in superseded else st.read_indicators(doc, table, sec.title, subject)
        issues = check_score_table(rows, money, total[0] if total else None) if rows else []
        if table.origin == "stream":
            trust_rebuilt_rows(rows, money, total[0] if total else None,
                               {why for kind, why in table.guessed.values() if kind == "no_values"})
            kinds = {kind for kind, _why in table.guessed.values()}
            if kinds & {PAIRED_BY_ORDER, CRITERIA}:  # a partial table (CRITERIA_PARTIAL) stays, in review
                rows = keep_paired_rows(rows, money, total[0] if total else None)
            elif CRITERIA_PARTIAL in kinds and issues:  # its sums are of the rows read, not of the table
                issues = [WHY_PARTIAL + "，请核对原表"]
        if subject == DEPARTMENT_TABLE:
            cands += found + execution_row(rows, doc.text)
            if total and rows:
                cands.append(Candidate("self_score", total[0], total[1], 1, "table", issue="；".join(issues) or None))
        else:
            project = st.project_from_table(table, subject, money, doc.text, where, stated)
            issues += sorted(doubts.get(subject, ()))
            if total and stated is None and table.origin == "stream" and len(table.rows) - 1 in table.guessed:
                issues.append(table.guessed[len(table.rows) - 1][1])
            if issues:
                project.status = REVIEW
                project.issues += issues
            ex.projects.append(project)
        ex.indicators += rows
        label_cells += [(row[i], row[i + 1]) for row in table.rows[:3] for i in range(len(row) - 1)]
    cands += identity_candidates(doc, sections, label_cells)
    merge_candidates(doc, ex, cands, ocr_review_below)
    ex.projects = merge_projects(ex.projects + read_told_projects(doc, sections))
    for p in ex.projects:
        if p.budget_full_year is None and p.spending_actual is None and p.status != REVIEW:
            p.status = REVIEW  # named by a table, but its money block was not read
            p.issues.append("未能读取该项目的资金情况（年度资金总额、全年预算数、全年执行数），请对照原表核对")
    known = {p.name for p in ex.projects}
    ex.projects += [p for p in read_listed_projects(doc, sections) if p.name not in known]
    ex.problems, ex.measures = read_lists(doc, sections)
    return ex


def _shifted_grids_rebuilt(doc: Document, sections: list[Section]) -> list:
    """Tables rebuilt from the cells of a true grid (`stream_tables.TRUE_GRIDS`, not rebuilt at ingest) whose
    columns turn out shifted under its header: a third of its rows have a value for a 三级指标 name, or no
    分值 and no 得分."""
    out = []
    for sec, t in tables_with_sections(doc, sections):
        if t.origin in TRUE_GRIDS:
            rows = st.read_indicators(doc, t, sec.title)
            bad = [r for r in rows if st.name_is_a_value(r) or (r.weight is None and r.score is None)]
            if rows and 3 * len(bad) >= len(rows):
                out += rebuild_within(doc.text, t.start, t.end)
    return out


def _rebuilt_tables(doc: Document, sections: list[Section], candidates_of) -> tuple[list, set[int], set[int]]:
    """The rebuilt tables to read, and (by id) the grids they stand over: a rebuilt score table that reads
    more rows than the grids it overlaps (their rows are then read from it, their money and labels still from
    the grid); a rebuilt money block where the grids give no money columns, or only misaligned ones."""
    use, superseded, money_superseded = [], set(), set()
    sections_of = {id(t): sec for sec, t in tables_with_sections(doc, sections)}
    counted: dict[int, int] = {}  # per grid, the rows it reads that count

    def grid_rows(t) -> int:
        if id(t) not in counted:  # rows of a shifted grid, or rows without a number (a drifted row's pieces), do not
            counted[id(t)] = sum(1 for r in st.read_indicators(doc, t, sections_of[id(t)].title)
                                 if not st.name_is_a_value(r) and (r.weight is not None or r.score is not None))
        return counted[id(t)]

    for sec, table in tables_with_sections(doc, sections, [*doc.rebuilt, *_shifted_grids_rebuilt(doc, sections)]):
        overlap = [t for t in doc.tables if t.start < table.end and table.start < t.end]
        if is_money_block(table):
            own = {c.field: c.value for t in overlap for c in candidates_of(sections_of[id(t)], t)
                   if c.field in MONEY_COLUMNS and not c.issue}
            mine = {c.field: c.value for c in candidates_of(sec, table)}
            flattened = all(t.origin in FLATTENED for t in overlap)
            conflict = any(k in mine and mine[k] != v for k, v in own.items())
            if not own or (flattened and conflict):  # a grid of text read by position misreads a label
                # spanning two cells; the block reads the numbers by kind
                use.append((sec, table))
                money_superseded |= {id(t) for t in overlap}
            continue
        if len(st.read_indicators(doc, table, sec.title)) > sum(grid_rows(t) for t in overlap):
            use.append((sec, table))
            superseded |= {id(t) for t in overlap}
    return use, superseded, money_superseded
