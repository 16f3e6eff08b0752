"""A value read from a table points at its own cell, whatever the source.

The report of tests/data/table_evidence (written by us) states the same amount for 全年预算数 and 全年执行数
and has a 扣分项 row; it is read as Word's text export (every cell on a line of its own), copied from a web
page (one cell a line, no tabs), in `|` rows, as a .docx, a text PDF and a scan. Each value from a table
points at its own cell (the number's characters), with its row label and column header as `context`; each
score row and project keeps its whole row, with each value's cell in `cells`; both reach the review page.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

import pytest

from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.engine import extract as llm_extract
from service.ingest import load
from service.pipeline import RulesEngine, extract_record
from service.record import Record
from service.review import items_from_record
from service.sections import split_sections
from service.settings import load_settings
from tests.builders import make_docx, make_text_pdf
from tests.conftest import CHROMIUM
from tests.llm_server import FakeOpenAI
from tests.webapp import login, make_app, store_of, upload_and_extract

logging.getLogger("instructor").setLevel(logging.CRITICAL)

DATA = Path(__file__).parent / "data" / "table_evidence"
WORD = DATA / "word_export.txt"
SOURCES = ["word_export.txt", "cells_per_line.txt", "pipe_rows.txt", "docx", "pdf",
           pytest.param("scan", marks=pytest.mark.ocr)]
MONEY_ROW = "年度资金总额 612.40 845.36 845.36 10 100% 10"
ROW = "农产品质量安全抽检合格率"  # 分值 20, 得分 19


def _build(kind: str, folder: Path) -> Path:
    text = WORD.read_text(encoding="utf-8")
    if kind == "docx":
        return make_docx(text, folder / "report.docx")
    if kind == "pdf":
        return make_text_pdf(text, folder / "report.pdf")
    if kind == "scan":
        from tests.scans import find_cjk_font, render_pages

        font = find_cjk_font()
        if font is None:
            pytest.skip("no CJK font to print the scan with")
        (page,) = render_pages(text, font)
        page.save(folder / "report.png")
        return folder / "report.png"
    return DATA / kind


@pytest.fixture(scope="module")
def read(tmp_path_factory):
    """The document's text and its record, through the pipeline's rules engine, for a source (made once)."""
    done: dict[str, tuple[str, dict]] = {}
    settings = load_settings(env={})

    def of(kind: str) -> tuple[str, dict]:
        if kind not in done:
            doc = load(_build(kind, tmp_path_factory.mktemp(kind)), settings)
            _ex, _stats, record = extract_record(doc, split_sections(doc), RulesEngine(settings), settings)
            done[kind] = doc.text, record.json()
        return done[kind]

    return of


def at(text: str, span: dict) -> str:
    return text[span["start"]:span["end"]]


def squeezed(s: str) -> str:
    return re.sub(r"\s", "", s)


def row_named(record: dict, name: str) -> dict:
    return next(r for r in record["indicators"] if squeezed(r["name"] or "") == name)


# -- the rules engine, every source ------------------------------------------------------------

@pytest.mark.parametrize("source", SOURCES)
def test_budget_and_spending_of_the_same_amount_point_at_their_own_cells(read, source):
    text, record = read(source)
    budget, spent = (record["fields"][k]["evidence"] for k in ("budget_full_year", "spending_actual"))
    assert at(text, budget) == at(text, spent) == "845.36"
    assert budget["start"] < spent["start"]  # 全年预算数 is the column before 全年执行数
    assert [squeezed(at(text, c)) for c in budget["context"]] == ["年度资金总额", "全年预算数"]
    assert [squeezed(at(text, c)) for c in spent["context"]] == ["年度资金总额", "全年执行数"]


@pytest.mark.parametrize("source", SOURCES)
def test_a_score_rows_cells_give_each_values_own_cell(read, source):
    text, record = read(source)
    row = row_named(record, ROW)
    cells = row["evidence"]["cells"]
    assert (at(text, cells["weight"]), at(text, cells["score"])) == ("20", "19")
    assert squeezed(at(text, cells["name"])) == ROW
    assert row["evidence"]["start"] <= cells["name"]["start"] < cells["score"]["end"] <= row["evidence"]["end"]
    assert "得分" in [squeezed(at(text, c)) for c in row["evidence"]["context"]]  # its column headers
    first = row_named(record, "高标准农田建设面积")["evidence"]["cells"]  # 分值 20, 得分 20: one cell each
    assert first["weight"] != first["score"] and at(text, first["weight"]) == at(text, first["score"]) == "20"


@pytest.mark.parametrize("source", SOURCES)
def test_the_deduction_rows_evidence_starts_at_its_first_character(read, source):
    text, record = read(source)
    (row,) = [r for r in record["indicators"] if "扣分项" in (r["level1"] or "") + (r["name"] or "")]
    assert text[row["evidence"]["start"]:].startswith("扣分项")
    assert row["evidence"]["quote"] == at(text, row["evidence"])


@pytest.mark.parametrize("source", SOURCES)
def test_the_total_score_points_at_its_number_beside_its_label(read, source):
    text, record = read(source)
    total = record["fields"]["self_score"]["evidence"]
    assert at(text, total) == "96"
    assert squeezed(at(text, total["context"][0])) == "总分"


@pytest.mark.parametrize("source", SOURCES)
def test_every_span_of_every_evidence_lies_in_the_text(read, source):
    text, record = read(source)
    items = [*record["fields"].values(), *record["indicators"], *record["projects"]]
    for ev in (i["evidence"] for i in items if i.get("evidence")):
        assert at(text, ev) == ev["quote"]
        for span in [*ev.get("context", []), *ev.get("cells", {}).values()]:
            assert 0 <= span["start"] < span["end"] <= len(text) and at(text, span).strip()


def test_a_project_lists_rows_point_at_each_amounts_cell(read):
    text, record = read("pipe_rows.txt")
    (project,) = [p for p in record["projects"] if p["name"] == "高标准农田建设补助资金"]
    cells = project["evidence"]["cells"]
    assert {k: at(text, cells[k]) for k in ("budget_initial", "budget_full_year", "spending_actual", "score")} \
        == {"budget_initial": "300", "budget_full_year": "410.5", "spending_actual": "402.3", "score": "92"}
    assert "全年预算数" in [at(text, c) for c in project["evidence"]["context"]]


# -- the LLM engine: a row quoted, the cells found ----------------------------------------------------

def _llm_run(answer):
    doc = load(WORD, load_settings(env={}))
    with FakeOpenAI(answer) as server:
        client = LLMClient(Endpoint(server.base_url, "k", "m"), load_settings(env={"JIXIAO_LLM_HTTP_RETRIES": "0"}),
                           sleep=lambda s: None)
        return doc, llm_extract(doc, split_sections(doc), client)


def _has_money_row(request) -> bool:
    return "年度资金总额" in json.dumps(request, ensure_ascii=False)


def test_llm_facts_quoting_the_whole_money_row_point_at_their_own_cells():
    def answer(request):
        facts = [{"key": k, "value": v, "unit": "万元", "quote": MONEY_ROW}
                 for k, v in (("budget_full_year", 845.36), ("spending_actual", 845.36))] if _has_money_row(request) else []
        return {"facts": facts, "tables": []}

    doc, run = _llm_run(answer)
    budget, spent = (run.extraction.fields[k].evidence for k in ("budget_full_year", "spending_actual"))
    assert doc.text[budget.start:budget.end] == doc.text[spent.start:spent.end] == "845.36"
    assert budget.start < spent.start
    assert squeezed(doc.text[slice(*spent.context[-1])]) == "全年执行数"


def test_llm_score_table_money_and_rows_point_at_their_cells():
    def answer(request):
        if "ScoreTablesModel" not in json.dumps(request, ensure_ascii=False):
            return {"facts": []}
        return {"tables": [{"table": "整体", "money_unit": "万元", "budget_initial": 612.4, "budget_full_year": 845.36,
                            "spending_actual": 845.36, "execution_rate": 100, "execution_weight": 10,
                            "execution_score": 10, "total": 96, "total_quote": "总分 100 96",
                            "rows": [{"level2": "质量指标", "name": ROW, "target": "≥98%", "actual": "99.2%",
                                      "weight": 20, "score": 19, "quote": f"质量指标 {ROW} ≥98% 99.2% 20 19"}]}],
                "facts": []}

    doc, run = _llm_run(answer)
    fields = run.extraction.fields
    budget, spent = fields["budget_full_year"].evidence, fields["spending_actual"].evidence
    assert doc.text[budget.start:budget.end] == doc.text[spent.start:spent.end] == "845.36"
    assert budget.start != spent.start
    assert doc.text[slice(*fields["self_score"].evidence.context[0])] == "总分"
    (row,) = run.extraction.indicators
    assert doc.text[slice(*row.evidence.cells["score"])] == "19"
    assert doc.text[slice(*row.evidence.cells["weight"])] == "20"


# -- to the reviewer -----------------------------------------------------------------------------

def test_review_items_keep_context_and_cells_and_drop_spans_outside_the_text():
    record = {"fields": {"budget_full_year": {"value": 1, "status": "review", "evidence": {
        "quote": "1", "start": 5, "end": 6,
        "context": [{"start": 0, "end": 2}, {"start": 3, "end": 99}, {"start": 4, "end": 4}, [1, 2], {"start": True, "end": 3}]}}},
        "indicators": [{"name": "x", "weight": 5, "score": 4, "evidence": {
            "quote": "x", "start": 0, "end": 9, "cells": {"score": {"start": 7, "end": 8}, "weight": {"start": "7", "end": 8}},
            "context": []}}]}
    items = {i.item: i for i in items_from_record(Record.model_validate(record), text_len=20)}
    assert items["field:budget_full_year"].evidence == {
        "quote": "1", "start": 5, "end": 6, "context": [{"start": 0, "end": 2}, {"start": 1, "end": 2}]}
    assert items["indicator:0"].evidence == {"quote": "x", "start": 0, "end": 9, "cells": {"score": {"start": 7, "end": 8}}}


def _page(tmp_path, path: Path) -> tuple[str, str, dict]:
    """The review page of `path` extracted as an upload: its HTML, the document's text and its items."""
    app = make_app(tmp_path)
    sha = upload_and_extract(app, path)
    client = app.test_client()
    login(client, "rev")
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    store = store_of(app)
    try:
        return page, store.get_document(sha)["text"], {i["item"]: i for i in store.review_items(sha)}
    finally:
        store.close()


def _tag(page: str, item: str) -> str:
    return re.search(rf'<(?:div|tr) [^>]*data-item="{re.escape(item)}"[^>]*>', page).group()


def test_the_review_page_puts_each_cells_offsets_on_its_input_and_the_headers_on_the_item(tmp_path):
    page, text, items = _page(tmp_path, DATA / "pipe_rows.txt")
    budget = _tag(page, "field:budget_full_year")
    spans = json.loads(html.unescape(re.search(r"data-context='([^']*)'", budget).group(1)))
    assert [text[s:e] for s, e in spans] == ["年度资金总额", "全年预算数"]
    key = next(k for k, i in items.items() if i["kind"] == "indicator" and (i["value"] or {}).get("name") == ROW)
    row_html = page[page.index(_tag(page, key)):]
    row_html = row_html[:row_html.index("</tr>")]
    score = re.search(r'<input name="score" data-start="(\d+)" data-end="(\d+)"', row_html)
    assert text[int(score.group(1)):int(score.group(2))] == "19"
    assert "data-context='[[" in _tag(page, key)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")
def test_the_source_pane_holds_the_documents_text_so_the_deduction_row_highlights_from_its_first_character(
        tmp_path, browser):
    text = WORD.read_text(encoding="utf-8")
    docx = make_docx("\n" + text, tmp_path / "opens_with_a_blank.docx")  # an empty first paragraph
    page, doc_text, items = _page(tmp_path, docx)
    assert doc_text.startswith("\n")
    row = next(i for i in items.values() if i["kind"] == "indicator" and (i["value"] or {}).get("level1") == "扣分项")
    pane = re.search(r'<pre id="source">.*?</pre>', page, re.S).group()
    tab = browser.new_page()
    try:
        tab.set_content(pane)
        shown = tab.evaluate("([s, e]) => document.getElementById('source').textContent.slice(s, e)",
                             [row["evidence"]["start"], row["evidence"]["end"]])
    finally:
        tab.close()
    assert shown.startswith("扣分项")
