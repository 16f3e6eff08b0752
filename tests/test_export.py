"""Exporting confirmed records: record JSON the shared scorer reads, CSV and XLSX for people."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from service.cli import cli
from service.errors import JixiaoError
from service.export import (
    ALL,
    CSV_ENCODING,
    INDICATOR_COLUMNS,
    Selection,
    confirmed_records,
    indicators_csv,
    json_files,
    json_zip_bytes,
    local_time,
    report_columns,
    reports_csv,
    write_csv,
    write_json,
    write_xlsx,
    xlsx_bytes,
    zone_of,
)
from service.fields import BY_KEY, field_keys
from service.record import Record
from service.review import apply_action, record_from_items
from service.settings import load_settings
from service.store import Store
from service.worker import process_next, store_upload
from tests.conftest import SAMPLES
from tests.scoring import GOLD, load_scorer
from tests.webapp import login, make_app

STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))
SHEETS = ["报告", "评分表", "项目", "问题与措施"]
CORRECTED_STEM, CORRECTED_KEY, CORRECTED_VALUE = "002_6ebd5ff7b055c059", "rating", "良"


def extract_uploads(folder: Path, stems: list[str], db_name: str = "x.db") -> Store:
    """A store in `folder` with the sample reports `stems` uploaded and extracted, waiting for review."""
    store = Store(str(folder / db_name))
    settings = load_settings(env={}, db=str(folder / db_name), engine="rules")
    for stem in stems:
        path = SAMPLES / f"{stem}.txt"
        store_upload(store, folder / "uploads", path.name, path.read_bytes(), "上传员")
    while process_next(store, settings) is not None:
        pass
    return store


def exported(store: Store, selection: Selection = ALL) -> list[dict]:
    """The confirmed records as the JSON export writes them."""
    return [r.json() for r in confirmed_records(store, selection)]


def resolve_and_confirm(store: Store, corrections: dict[str, dict[str, object]] | None = None,
                        stands: str | None = None) -> dict[str, dict]:
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
        store.confirm(sha, "审核员", record, stands=stands)
        confirmed[stem] = record.json()
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

    scores, remarks = score_dir(tmp_path / "export")
    expected, _ = score_dir(given)

    report = "\n".join(remarks)
    assert scores["records_found"] == len(STEMS)
    assert scores["made_up_values"] == 0, report
    assert scores["fields"] == expected["fields"], report
    assert scores["indicators"] == expected["indicators"], report
    assert scores["list_similarity"] == expected["list_similarity"], report
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

    for record in exported(store):
        assert list(record["fields"]) == list(field_keys())
        text = store.get_document(record["source"]["sha256"])["text"]
        for key, field in record["fields"].items():
            assert field["status"] in ("accepted", "confirmed"), key
            if field["evidence"] is not None:
                ev = field["evidence"]
                assert text[ev["start"]:ev["end"]] == ev["quote"], key
        assert record["confirmed"]["by"] == "审核员" and record["confirmed"]["at"]


def test_item_resolved_in_review_exports_as_confirmed_and_the_rest_as_accepted(confirmed):
    store, records = confirmed
    by_stem = {Path(r["source"]["name"]).stem: r for r in exported(store)}

    for stem, record in records.items():
        statuses = {key: f["status"] for key, f in by_stem[stem]["fields"].items()}
        assert statuses == {key: record["fields"][key]["status"] for key in field_keys()}
    assert by_stem["000_8d720d4fc0889d24"]["fields"]["budget_full_year"]["status"] == "confirmed"
    assert by_stem["001_dea89b1d5430c4b7"]["fields"]["unit_name"]["status"] == "accepted"


def test_score_rows_keep_their_table_and_numbers(confirmed):
    store, records = confirmed
    by_stem = {Path(r["source"]["name"]).stem: r for r in exported(store)}

    for stem, record in records.items():
        got = [{k: row[k] for k in ("table", "name", "target", "actual", "weight", "score")}
               for row in by_stem[stem]["indicators"]]
        assert got == [{k: row.get(k) for k in ("table", "name", "target", "actual", "weight", "score")}
                       for row in record["indicators"]]


def test_problems_and_measures_export_as_lists(confirmed):
    store, records = confirmed

    for record in exported(store):
        given = records[Path(record["source"]["name"]).stem]
        for key in ("problems", "measures"):
            assert record[key] == {"value": given[key]["value"], "status": given[key]["status"]}


def test_corrected_value_exports_as_corrected_with_the_new_value(corrected):
    (record,) = exported(corrected)

    assert record["fields"][CORRECTED_KEY]["value"] == CORRECTED_VALUE
    assert record["fields"][CORRECTED_KEY]["status"] == "corrected"
    assert read_csv(reports_csv(corrected, keys=True))[0][CORRECTED_KEY] == CORRECTED_VALUE


def test_corrected_cell_in_xlsx_says_so(corrected):
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(corrected)))["报告"]
    column = report_columns().index(CORRECTED_KEY) + 1

    cell = sheet.cell(row=2, column=column)

    assert cell.value == CORRECTED_VALUE
    assert cell.comment is not None and "人工更正" in cell.comment.text


def test_sources_sharing_a_stem_get_the_sha_prefix():
    records = [{"source": {"name": name, "sha256": sha}} for name, sha in
               [("报告.docx", "a" * 64), ("报告.pdf", "b" * 64), ("其他.txt", "c" * 64)]]

    names = list(json_files([Record.model_validate(r) for r in records]))

    assert names == ["报告.json", f"报告_{'b' * 12}.json", "其他.json"]


def test_source_name_with_folders_or_odd_characters_is_a_safe_file_name():
    records = [{"source": {"name": name, "sha256": f"{i}" * 64}}
               for i, name in enumerate(["C:\\上传\\甲?.txt", "../乙.pdf", "?*.txt"])]

    assert list(json_files([Record.model_validate(r) for r in records])) == ["甲.json", "乙.json", "report.json"]


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

    rows = read_csv(reports_csv(store, keys=True))

    assert len(rows) == len(STEMS)
    assert list(rows[0]) == list(report_columns())
    by_stem = {Path(r["source_name"]).stem: r for r in rows}
    for stem, record in records.items():
        assert by_stem[stem]["unit_name"] == record["fields"]["unit_name"]["value"]
        assert by_stem[stem]["problems"].split("\n") == (record["problems"]["value"] or [""])


def test_indicators_csv_has_one_row_per_score_row(confirmed):
    store, records = confirmed

    rows = read_csv(indicators_csv(store, keys=True))

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
        for key in field_keys():
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
    assert sheet.freeze_panes == "C2"
    assert 6 <= sheet.column_dimensions["C"].width <= 50


# -- an empty store -------------------------------------------------------------

def test_empty_store_exports_headers_only(empty, tmp_path):
    assert exported(empty) == []
    assert read_csv(reports_csv(empty)) == []
    assert reports_csv(empty, keys=True).splitlines() == [",".join(report_columns())]
    assert indicators_csv(empty, keys=True).splitlines() == [",".join(INDICATOR_COLUMNS)]
    assert write_json(empty, tmp_path / "json") == []
    assert zipfile.ZipFile(io.BytesIO(json_zip_bytes(empty))).namelist() == []

    book = openpyxl.load_workbook(write_xlsx(empty, tmp_path / "empty.xlsx"))

    assert book.sheetnames == SHEETS
    assert all(book[name].max_row == 1 for name in SHEETS)
    header = [c.value for c in book["评分表"][1]]
    assert header[:4] == ["部门（单位）名称", "评价年度", "文件名", "所属表格"] and header[-1] == "文件SHA-256"


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
    cell = sheet.cell(row=2, column=report_columns().index("unit_name") + 1)

    assert (cell.value, cell.data_type) == ("=HYPERLINK(\"http://x\")", "s")
    store.close()


# -- as analysts want it: unit and year first, formats, corrections, Chinese headers, filters, local time --------

DUPLICATE_STEMS = ("000_8d720d4fc0889d24", "001_dea89b1d5430c4b7")  # 001 corrected to 000's unit and year


def sheet_rows(book, title: str) -> list[dict]:
    """The rows of a sheet keyed by the key in each header cell's comment."""
    sheet = book[title]
    keys = [c.comment.text for c in sheet[1]]
    return [dict(zip(keys, values, strict=True)) for values in sheet.iter_rows(min_row=2, values_only=True)]


def column_cells(sheet, key: str) -> list:
    """The data cells of the column whose header names `key`."""
    column = [c.comment.text for c in sheet[1]].index(key) + 1
    return [sheet.cell(row=r, column=column) for r in range(2, sheet.max_row + 1)]


@pytest.fixture
def two_of_one_unit(tmp_path):
    """Two confirmed reports for the same unit and year (the second's unit and year corrected to the first's)."""
    store = extract_uploads(tmp_path, list(DUPLICATE_STEMS))
    resolve_and_confirm(store, {DUPLICATE_STEMS[1]: {"unit_name": "衡山县岭坡乡人民政府", "fiscal_year": "2023"}},
                        stands="this")
    # as a database confirmed before one current record per unit and year was enforced: both current
    store.db.execute("UPDATE confirmed_reports SET superseded_by = NULL")
    yield store
    store.close()


def test_reports_table_starts_with_unit_and_year_sorted_by_them_and_ends_with_the_hash(confirmed):
    store, _ = confirmed

    rows = read_csv(reports_csv(store, keys=True))
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))

    assert report_columns()[:2] == ("unit_name", "fiscal_year") and report_columns()[-1] == "document_sha256"
    assert [c.value for c in book["报告"][1]][:2] == ["部门（单位）名称", "评价年度"]
    assert [(r["unit_name"], r["fiscal_year"]) for r in rows] == sorted((r["unit_name"], r["fiscal_year"])
                                                                        for r in rows)
    assert all(len(r["document_sha256"]) == 64 for r in rows)
    for title in ("评分表", "项目", "问题与措施"):
        keys = [c.comment.text for c in book[title][1]]
        assert keys[:2] == ["unit_name", "fiscal_year"] and keys[-1] == "document_sha256", title


def test_two_reports_of_one_unit_and_year_are_marked_as_duplicates(two_of_one_unit):
    rows = read_csv(reports_csv(two_of_one_unit, keys=True))
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(two_of_one_unit)))

    assert [(r["unit_name"], r["fiscal_year"]) for r in rows] == [("衡山县岭坡乡人民政府", "2023")] * 2
    marks = {r["source_name"]: r["duplicate"] for r in rows}
    assert marks == {f"{DUPLICATE_STEMS[0]}.txt": f"与{DUPLICATE_STEMS[1]}.txt重复",
                     f"{DUPLICATE_STEMS[1]}.txt": f"与{DUPLICATE_STEMS[0]}.txt重复"}
    assert "重复" in [c.value for c in book["报告"][1]]
    assert all(c.value.startswith("与") and c.font.bold for c in column_cells(book["报告"], "duplicate"))


def test_reports_of_different_units_are_not_marked(confirmed):
    store, _ = confirmed

    assert all(r["duplicate"] == "" for r in read_csv(reports_csv(store, keys=True)))


def test_xlsx_money_percent_and_score_cells_have_number_formats(confirmed):
    store, _ = confirmed
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store)))
    report = book["报告"]

    formats = {key: {c.number_format for c in column_cells(report, key) if c.value is not None}
               for key in ("budget_full_year", "spending_actual", "execution_rate", "self_score", "staff_actual")}

    assert formats == {"budget_full_year": {"0.00"}, "spending_actual": {"0.00"}, "execution_rate": {"0.00"},
                       "self_score": {"0.0#"}, "staff_actual": {"0"}}
    headers = {c.comment.text: c.value for c in report[1]}
    assert headers["budget_full_year"] == "全年预算数（万元）" and headers["execution_rate"] == "预算执行率（%）"
    assert {c.number_format for c in column_cells(book["评分表"], "weight") if c.value is not None} == {"0.0#"}
    assert {c.number_format for c in column_cells(book["项目"], "budget_full_year")
            if c.value is not None} <= {"0.00"}


def test_corrected_fields_are_named_in_csv_and_highlighted_in_xlsx(corrected):
    (row,) = read_csv(reports_csv(corrected))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(corrected)))["报告"]

    assert row["人工更正的字段"] == BY_KEY[CORRECTED_KEY].zh
    (cell,) = column_cells(sheet, CORRECTED_KEY)
    assert cell.value == CORRECTED_VALUE and cell.fill.fgColor.rgb.endswith("FFF2CC")
    (untouched,) = column_cells(sheet, "unit_name")
    assert untouched.fill.fgColor.rgb in (None, "00000000")
    assert column_cells(sheet, "corrected_fields")[0].value == BY_KEY[CORRECTED_KEY].zh


def test_csv_header_is_chinese_with_units_and_the_keys_are_an_option(confirmed):
    store, _ = confirmed

    header = reports_csv(store).splitlines()[0].split(",")
    keyed = reports_csv(store, keys=True).splitlines()[0].split(",")

    assert header[:2] == ["部门（单位）名称", "评价年度"] and header[-1] == "文件SHA-256"
    assert "年初预算数（万元）" in header and "人工更正的字段" in header and "确认时间" in header
    assert keyed == list(report_columns())
    statuses = {r["状态"] for r in read_csv(indicators_csv(store))}
    assert statuses <= {"自动通过", "人工确认", "人工更正"} and statuses
    assert {r["status"] for r in read_csv(indicators_csv(store, keys=True))} <= {"accepted", "confirmed", "corrected"}


def test_export_selects_a_year_and_part_of_a_unit_name(confirmed, tmp_path):
    store, _ = confirmed

    in_2023 = read_csv(reports_csv(store, Selection(year=2023), keys=True))
    towns = exported(store, Selection(unit="镇"))
    one = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store, Selection(year=2022, unit="荫田"))))

    assert len(in_2023) == 3 and {r["fiscal_year"] for r in in_2023} == {"2023"}
    assert len(towns) == 3 and all("镇" in r["fields"]["unit_name"]["value"] for r in towns)
    assert [r["unit_name"] for r in sheet_rows(one, "报告")] == ["常宁市荫田镇人民政府"]
    assert {r["unit_name"] for r in sheet_rows(one, "评分表")} <= {"常宁市荫田镇人民政府"}
    assert [p.stem for p in write_json(store, tmp_path / "j", Selection(year=2022, unit="荫田"))] == \
        ["001_dea89b1d5430c4b7"]
    assert exported(store, Selection(year=1999)) == []


def test_confirmed_time_is_local_text_in_the_time_zone(confirmed):
    store, _ = confirmed
    stored = store.confirmed_documents()[0]["confirmed_at"]
    want = datetime.fromisoformat(stored).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")

    rows = read_csv(reports_csv(store, keys=True))
    in_utc = read_csv(reports_csv(store, keys=True, time_zone="UTC"))
    book_rows = sheet_rows(openpyxl.load_workbook(io.BytesIO(xlsx_bytes(store))), "报告")

    assert want in {r["confirmed_at"] for r in rows} and want in {r["confirmed_at"] for r in book_rows}
    assert datetime.fromisoformat(stored).strftime("%Y-%m-%d %H:%M") in {r["confirmed_at"] for r in in_utc}
    assert exported(store)[0]["confirmed"]["at"] == stored  # JSON keeps ISO with its offset
    assert local_time("2024-06-18T06:03:00+00:00", zone_of("Asia/Shanghai")) == "2024-06-18 14:03"


def test_time_zone_setting_defaults_to_shanghai_and_a_wrong_one_is_a_chinese_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert load_settings(env={}).time_zone == "Asia/Shanghai"
    assert load_settings(env={"JIXIAO_TIME_ZONE": "Asia/Urumqi"}).time_zone == "Asia/Urumqi"
    with pytest.raises(JixiaoError, match="time_zone 的值无效"):
        zone_of("Mars/Olympus")


def test_cli_export_takes_year_unit_and_keys(confirmed, tmp_path):
    from click.testing import CliRunner

    store, _ = confirmed
    db = store.db.execute("PRAGMA database_list").fetchone()[2]

    result = CliRunner().invoke(cli, ["export", "--format", "csv", "--out", str(tmp_path / "r.csv"), "--db", db,
                                      "--year", "2022", "--unit", "荫田", "--keys"])
    chinese = CliRunner().invoke(cli, ["export", "--format", "csv", "--out", str(tmp_path / "zh.csv"), "--db", db,
                                       "--year", "2023"])

    assert result.exit_code == 0 and "已导出 1 份" in result.output, result.output
    rows = read_csv((tmp_path / "r.csv").read_text(encoding=CSV_ENCODING))
    assert [r["unit_name"] for r in rows] == ["常宁市荫田镇人民政府"]
    assert chinese.exit_code == 0 and "已导出 3 份" in chinese.output
    assert len(read_csv((tmp_path / "zh.csv").read_text(encoding=CSV_ENCODING))[0]) == len(report_columns())
    assert "部门（单位）名称" in (tmp_path / "zh.csv").read_text(encoding=CSV_ENCODING)


def test_web_export_takes_year_unit_and_keys_and_the_page_offers_them(tmp_path):
    app = make_app(tmp_path, time_zone="UTC")
    store = extract_uploads(tmp_path, STEMS, db_name="jixiao.db")
    resolve_and_confirm(store)
    stored = store.confirmed_documents()[0]["confirmed_at"]
    store.close()
    client = app.test_client()
    assert login(client, "rev").status_code == 302

    page = client.get("/export/").get_data(as_text=True)
    filtered = client.get("/export/reports.csv?year=2022&unit=荫田&keys=1").data.decode("utf-8-sig")
    chinese = client.get("/export/reports.csv?year=&unit=").data.decode("utf-8-sig")
    book = openpyxl.load_workbook(io.BytesIO(client.get("/export/xlsx?year=2023").data))

    assert 'name="year"' in page and 'name="unit"' in page and 'name="keys"' in page and "2022" in page
    assert "英文字段名" in page and "人工更正的字段" in page
    assert [r["unit_name"] for r in read_csv(filtered)] == ["常宁市荫田镇人民政府"]
    assert len(read_csv(chinese)) == len(STEMS) and chinese.startswith("部门（单位）名称,评价年度")
    assert datetime.fromisoformat(stored).strftime("%Y-%m-%d %H:%M") in chinese  # the app's time_zone (UTC)
    assert {r["fiscal_year"] for r in sheet_rows(book, "报告")} == {2023}
    assert client.get("/export/xlsx?year=abc").status_code == 400
