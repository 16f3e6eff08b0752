"""Exporting confirmed records: record JSON the shared scorer reads, CSV and XLSX for people."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from service.export import (
    CSV_ENCODING,
    FIELD_KEYS,
    INDICATOR_COLUMNS,
    REPORT_COLUMNS,
    confirmed_records,
    indicators_csv,
    json_files,
    json_zip_bytes,
    reports_csv,
    write_csv,
    write_json,
    write_xlsx,
    xlsx_bytes,
)
from service.fields import BY_KEY
from service.review import apply_action, record_from_items
from service.settings import load_settings
from service.store import Store
from service.worker import process_next, store_upload
from tests.scoring import GOLD, SCORE_PY, load_scorer

SAMPLES = Path(__file__).resolve().parent.parent / "service" / "samples"
STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))
SHEETS = ["报告", "评分表", "项目", "问题与措施"]
CORRECTED_STEM, CORRECTED_KEY, CORRECTED_VALUE = "002_6ebd5ff7b055c059", "rating", "良"


def extract_uploads(folder: Path, stems: list[str]) -> Store:
    """A store in `folder` with the sample reports `stems` uploaded and extracted, waiting for review."""
    store = Store(str(folder / "x.db"))
    settings = load_settings(env={}, db=str(folder / "x.db"), engine="rules")
    for stem in stems:
        path = SAMPLES / f"{stem}.txt"
        store_upload(store, folder / "uploads", path.name, path.read_bytes(), "上传员")
    while process_next(store, settings) is not None:
        pass
    return store


def resolve_and_confirm(store: Store, corrections: dict[str, dict[str, object]] | None = None) -> dict[str, dict]:
    """Resolve every item in review with its extracted value (or a correction), confirm; {stem: record}."""
    corrections = corrections or {}
    confirmed = {}
    for job in store.queue(state="review", per_page=1000)[0]:
        sha, stem = job["sha256"], Path(job["name"]).stem
        fixes = {f"field:{k}": v for k, v in corrections.get(stem, {}).items()}
        for item in store.review_items(sha):
            if item["item"] in fixes:
                value, status = apply_action(item, "correct", fixes[item["item"]])
                store.save_item(sha, item["item"], item["version"], value, status, "审核员", "correct")
            elif item["status"] == "review":
                value, status = apply_action(item, "accept")
                store.save_item(sha, item["item"], item["version"], value, status, "审核员", "accept")
        record = record_from_items({"name": job["name"], "sha256": sha}, store.review_items(sha))
        store.confirm(sha, "审核员", record)
        confirmed[stem] = record
    return confirmed


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory):
    """Every sample report resolved as extracted and confirmed: (store, {stem: record given to confirm})."""
    store = extract_uploads(tmp_path_factory.mktemp("confirmed"), STEMS)
    records = resolve_and_confirm(store)
    yield store, records
    store.close()


@pytest.fixture
def corrected(tmp_path):
    """One sample report whose rating a reviewer changed."""
    store = extract_uploads(tmp_path, [CORRECTED_STEM])
    resolve_and_confirm(store, {CORRECTED_STEM: {CORRECTED_KEY: CORRECTED_VALUE}})
    yield store
    store.close()


@pytest.fixture
def empty(tmp_path):
    store = Store(str(tmp_path / "empty.db"))
    yield store
    store.close()


def score_dir(out_dir: Path) -> tuple[dict, list[str]]:
    """Score the record files in `out_dir` against the gold: (summary, the scorer's remarks)."""
    if not SCORE_PY.exists() or not GOLD.is_dir():
        pytest.skip(f"the shared scorer and gold files are not beside the repository ({SCORE_PY})")
    score = load_scorer()
    results = [score.score_one(g, out_dir / g.name) for g in sorted(GOLD.glob("*.json"))]
    return score.summarize(results), [line for r in results for line in [r["name"], *r["lines"]]]


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def score_rows(records: dict[str, dict]) -> int:
    return sum(len(r["indicators"]) for r in records.values())


# -- record JSON ----------------------------------------------------------------

def test_json_export_scores_as_the_confirmed_records_and_makes_nothing_up(confirmed, tmp_path):
    store, records = confirmed
    write_json(store, tmp_path / "export")
    given = tmp_path / "given"
    given.mkdir()
    for stem, record in records.items():
        (given / f"{stem}.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    exported, remarks = score_dir(tmp_path / "export")
    expected, _ = score_dir(given)

    report = "\n".join(remarks)
    assert exported["records_found"] == len(STEMS)
    assert exported["made_up_values"] == 0, report
    assert exported["fields"] == expected["fields"], report
    assert exported["indicators"] == expected["indicators"], report
    assert exported["list_similarity"] == expected["list_similarity"], report
    # The scorer counts a trusted value as an escape where the gold says the report contradicts itself,
    # even after a person confirmed it; every other trusted value is right.
    escapes = [line for line in remarks if line.strip().startswith("escape ") and line.split()[1] != "row"]
    assert all("[must review]" in line and "(confirmed)" in line for line in escapes), report


def test_json_export_writes_one_file_per_source_stem(confirmed, tmp_path):
    store, _ = confirmed

    paths = write_json(store, tmp_path / "out")

    assert sorted(p.stem for p in paths) == STEMS
    assert all(p.parent == tmp_path / "out" for p in paths)


def test_every_field_key_is_in_each_record_with_status_and_evidence_into_the_text(confirmed):
    store, _ = confirmed

    for record in confirmed_records(store):
        assert list(record["fields"]) == list(FIELD_KEYS)
        text = store.get_document(record["source"]["sha256"])["text"]
        for key, field in record["fields"].items():
            assert field["status"] in ("accepted", "confirmed"), key
            if field["evidence"] is not None:
                ev = field["evidence"]
                assert text[ev["start"]:ev["end"]] == ev["quote"], key
        assert record["confirmed"]["by"] == "审核员" and record["confirmed"]["at"]


def test_item_resolved_in_review_exports_as_confirmed_and_the_rest_as_accepted(confirmed):
    store, records = confirmed
    exported = {Path(r["source"]["name"]).stem: r for r in confirmed_records(store)}

    for stem, record in records.items():
        statuses = {key: f["status"] for key, f in exported[stem]["fields"].items()}
        assert statuses == {key: record["fields"][key]["status"] for key in FIELD_KEYS}
    assert exported["000_8d720d4fc0889d24"]["fields"]["budget_full_year"]["status"] == "confirmed"
    assert exported["001_dea89b1d5430c4b7"]["fields"]["unit_name"]["status"] == "accepted"


def test_score_rows_keep_their_table_and_numbers(confirmed):
    store, records = confirmed
    exported = {Path(r["source"]["name"]).stem: r for r in confirmed_records(store)}

    for stem, record in records.items():
        got = [{k: row[k] for k in ("table", "name", "target", "actual", "weight", "score")}
               for row in exported[stem]["indicators"]]
        assert got == [{k: row.get(k) for k in ("table", "name", "target", "actual", "weight", "score")}
                       for row in record["indicators"]]


def test_problems_and_measures_export_as_lists(confirmed):
    store, records = confirmed

    for record in confirmed_records(store):
        given = records[Path(record["source"]["name"]).stem]
        for key in ("problems", "measures"):
            assert record[key] == {"value": given[key]["value"], "status": given[key]["status"]}


def test_corrected_value_exports_as_corrected_with_the_new_value(corrected):
    (record,) = confirmed_records(corrected)

    assert record["fields"][CORRECTED_KEY]["value"] == CORRECTED_VALUE
    assert record["fields"][CORRECTED_KEY]["status"] == "corrected"
    assert read_csv(reports_csv(corrected))[0][CORRECTED_KEY] == CORRECTED_VALUE


def test_corrected_cell_in_xlsx_says_so(corrected):
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(corrected)))["报告"]
    column = REPORT_COLUMNS.index(CORRECTED_KEY) + 1

    cell = sheet.cell(row=2, column=column)

    assert cell.value == CORRECTED_VALUE
    assert cell.comment is not None and "人工更正" in cell.comment.text


def test_sources_sharing_a_stem_get_the_sha_prefix():
    records = [{"source": {"name": name, "sha256": sha}} for name, sha in
               [("报告.docx", "a" * 64), ("报告.pdf", "b" * 64), ("其他.txt", "c" * 64)]]

    names = list(json_files(records))

    assert names == ["报告.json", f"报告_{'b' * 12}.json", "其他.json"]


def test_source_name_with_folders_or_odd_characters_is_a_safe_file_name():
    records = [{"source": {"name": name, "sha256": f"{i}" * 64}}
               for i, name in enumerate(["C:\\上传\\甲?.txt", "../乙.pdf", "?*.txt"])]

    assert list(json_files(records)) == ["甲.json", "乙.json", "report.json"]


def test_json_zip_holds_the_same_files_as_the_folder(confirmed, tmp_path):
    store, _ = confirmed
    paths = write_json(store, tmp_path / "out")

    with zipfile.ZipFile(io.BytesIO(json_zip_bytes(store))) as archive:
        names = archive.namelist()
        assert sorted(names) == sorted(p.name for p in paths)
        for path in paths:
            assert json.loads(archive.read(path.name)) == json.loads(path.read_text(encoding="utf-8"))


# -- CSV ------------------------------------------------------------------------

def test_reports_csv_has_one_row_per_report_keyed_by_field(confirmed):
    store, records = confirmed

    rows = read_csv(reports_csv(store))

    assert len(rows) == len(STEMS)
    assert list(rows[0]) == list(REPORT_COLUMNS)
    by_stem = {Path(r["source_name"]).stem: r for r in rows}
    for stem, record in records.items():
        assert by_stem[stem]["unit_name"] == record["fields"]["unit_name"]["value"]
        assert by_stem[stem]["problems"].split("\n") == (record["problems"]["value"] or [""])


def test_indicators_csv_has_one_row_per_score_row(confirmed):
    store, records = confirmed

    rows = read_csv(indicators_csv(store))

    assert len(rows) == score_rows(records)
    assert list(rows[0]) == list(INDICATOR_COLUMNS)
    assert all(r["document_sha256"] and r["unit_name"] and r["table"] for r in rows)


def test_csv_files_start_with_a_bom_for_excel(confirmed, tmp_path):
    store, records = confirmed

    reports, indicators = write_csv(store, tmp_path / "out" / "confirmed.csv")

    assert (reports.name, indicators.name) == ("confirmed.csv", "confirmed_indicators.csv")
    for path in (reports, indicators):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(read_csv(reports.read_text(encoding=CSV_ENCODING))) == len(STEMS)
    assert len(read_csv(indicators.read_text(encoding=CSV_ENCODING))) == score_rows(records)


# -- XLSX -----------------------------------------------------------------------

def test_xlsx_has_four_sheets_with_one_row_per_report_score_row_project_and_list_item(confirmed):
    store, records = confirmed

    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))

    assert book.sheetnames == SHEETS
    assert book["报告"].max_row == 1 + len(STEMS)
    assert book["评分表"].max_row == 1 + score_rows(records)
    assert book["项目"].max_row == 1 + sum(len(r["projects"]) for r in records.values())
    items = sum(len(r[key]["value"]) for r in records.values() for key in ("problems", "measures"))
    assert book["问题与措施"].max_row == 1 + items


def test_xlsx_keeps_numbers_as_numbers_and_chinese_text(confirmed):
    store, records = confirmed
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))["报告"]
    keys = [c.comment.text for c in sheet[1]]

    rows = {Path(r["source_name"]).stem: r for r in
            (dict(zip(keys, values, strict=True)) for values in sheet.iter_rows(min_row=2, values_only=True))}

    for stem, record in records.items():
        for key in FIELD_KEYS:
            want, got = record["fields"][key]["value"], rows[stem][key]
            if BY_KEY[key].kind in ("money", "percent", "score", "int", "year") and want is not None:
                assert isinstance(got, int | float) and got == want, (stem, key)
        assert rows[stem]["unit_name"] == record["fields"]["unit_name"]["value"]
        if record["fields"]["report_date"]["value"]:
            assert rows[stem]["report_date"].date() == date.fromisoformat(record["fields"]["report_date"]["value"])
    scores = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))["评分表"]
    weights = [row[INDICATOR_COLUMNS.index("weight")] for row in scores.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(w, int | float) for w in weights if w is not None)


def test_xlsx_header_is_chinese_bold_frozen_and_names_the_key(confirmed):
    store, _ = confirmed
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))["报告"]
    header = {c.comment.text: c for c in sheet[1]}

    assert header["sangong_actual"].value == "“三公”经费决算数（万元）"
    assert header["fiscal_year"].value == BY_KEY["fiscal_year"].zh
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "D2"
    assert 6 <= sheet.column_dimensions["C"].width <= 50


# -- an empty store -------------------------------------------------------------

def test_empty_store_exports_headers_only(empty, tmp_path):
    assert confirmed_records(empty) == []
    assert read_csv(reports_csv(empty)) == []
    assert reports_csv(empty).splitlines() == [",".join(REPORT_COLUMNS)]
    assert indicators_csv(empty).splitlines() == [",".join(INDICATOR_COLUMNS)]
    assert write_json(empty, tmp_path / "json") == []
    assert zipfile.ZipFile(io.BytesIO(json_zip_bytes(empty))).namelist() == []

    book = openpyxl.load_workbook(write_xlsx(empty, tmp_path / "empty.xlsx"))

    assert book.sheetnames == SHEETS
    assert all(book[name].max_row == 1 for name in SHEETS)
    assert [c.value for c in book["评分表"][1]][:4] == ["文件SHA-256", "文件名", "部门（单位）名称", "评价年度"]


# -- docs/confirmed-db.md -----------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs" / "confirmed-db.md"
CONFIRMED_TABLES = ("confirmed_reports", "confirmed_fields", "confirmed_indicators", "confirmed_projects",
                    "confirmed_list_items")


def documented_columns(table: str) -> set[str]:
    """The column names in the first cell of each row of the doc's table under `## <table>`."""
    section = DOCS.read_text(encoding="utf-8").split(f"## {table}", 1)[1].split("\n## ", 1)[0]
    cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in cells for name in re.findall(r"`(\w+)`", cell)}


@pytest.mark.parametrize("table", CONFIRMED_TABLES)
def test_every_confirmed_column_is_documented(empty, table):
    assert documented_columns(table) == set(empty.db[table].columns_dict)


def test_example_queries_in_the_docs_run(confirmed):
    store, _ = confirmed
    queries = re.findall(r"```sql\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)

    assert len(queries) >= 2
    for query in queries:
        store.db.execute(query).fetchall()


def test_text_that_looks_like_a_formula_stays_text_in_xlsx(tmp_path):
    store = extract_uploads(tmp_path, [CORRECTED_STEM])
    resolve_and_confirm(store, {CORRECTED_STEM: {"unit_name": "=HYPERLINK(\"http://x\")"}})

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))["报告"]
    cell = sheet.cell(row=2, column=REPORT_COLUMNS.index("unit_name") + 1)

    assert (cell.value, cell.data_type) == ("=HYPERLINK(\"http://x\")", "s")
    store.close()
