"""Confirmed records out of the store: record JSON, CSV and XLSX.

Everything starts from `confirmed_records(store)`: one record JSON
(spec/record-format.md) per confirmed report, read through the store's
`confirmed_documents` and `confirmed_parts`. The CSV and XLSX tables are
built from those records, so every format says the same thing. Field status
is as stored: `accepted` (the machine's value, trusted, and the report
confirmed), `confirmed` (a person accepted the value), `corrected` (a person
changed it). Money is in 万元, percentages are numbers (100 for 100%).

Pure of Flask and click: the CLI and the web app call these functions.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .fields import BY_KEY, FIELDS
from .models import CORRECTED
from .review import LISTS

CSV_ENCODING = "utf-8-sig"  # with a BOM, so that Excel opens the Chinese text correctly
FIELD_KEYS = tuple(f.key for f in FIELDS)
ROW_TEXTS = ("level1", "level2", "name", "target", "actual")
ROW_NUMBERS = ("weight", "score")
PROJECT_NUMBERS = ("budget_initial", "budget_full_year", "spending_actual", "execution_rate", "score")
DOCUMENT_COLUMNS = ("document_sha256", "source_name", "unit_name", "fiscal_year")
REPORT_COLUMNS = ("document_sha256", "source_name", *FIELD_KEYS, "problems", "measures", "confirmed_by",
                  "confirmed_at")
INDICATOR_COLUMNS = (*DOCUMENT_COLUMNS, "table", *ROW_TEXTS, *ROW_NUMBERS, "remark", "status")
PROJECT_COLUMNS = (*DOCUMENT_COLUMNS, "name", *PROJECT_NUMBERS, "status")
LIST_ITEM_COLUMNS = (*DOCUMENT_COLUMNS, "list", "idx", "text")


# -- records ------------------------------------------------------------------

def confirmed_records(store: Any) -> list[dict[str, Any]]:
    """One record JSON per confirmed report, in the order they were confirmed."""
    return [record_of(report, store.confirmed_parts(report["document_sha256"]))
            for report in store.confirmed_documents()]


def record_of(report: dict[str, Any], parts: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The record JSON of one confirmed_reports row and its confirmed parts."""
    stored = {row["key"]: row for row in parts["confirmed_fields"]}
    items = parts["confirmed_list_items"]
    return {
        "source": {"name": report["source_name"], "sha256": report["document_sha256"]},
        "fields": {key: _field(stored.get(key), report.get(key)) for key in FIELD_KEYS},
        "indicators": [_indicator(row) for row in parts["confirmed_indicators"]],
        "projects": [_project(row) for row in parts["confirmed_projects"]],
        **{key: _text_list(stored.get(key), [i["text"] for i in items if i["list"] == key]) for key in LISTS},
        "confirmed": {"by": report["confirmed_by"], "at": report["confirmed_at"]},
    }


def _field(row: dict[str, Any] | None, column_value: Any) -> dict[str, Any]:
    """A confirmed field; without its confirmed_fields row, the report column's value and no status."""
    if row is None:
        return {"value": column_value, "status": None, "evidence": None}
    return {"value": row["value"], "status": row["status"], "evidence": _evidence(row)}


def _evidence(row: dict[str, Any]) -> dict[str, Any] | None:
    if row.get("quote") is None or row.get("start") is None or row.get("end") is None:
        return None
    return {"quote": row["quote"], "start": row["start"], "end": row["end"]}


def _indicator(row: dict[str, Any]) -> dict[str, Any]:
    return {"table": row["table_name"], **{k: row[k] for k in ROW_TEXTS},
            **{k: _plain_number(row[k]) for k in ROW_NUMBERS}, "remark": row["remark"], "status": row["status"]}


def _project(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], **{k: _plain_number(row[k]) for k in PROJECT_NUMBERS}, "status": row["status"]}


def _text_list(row: dict[str, Any] | None, texts: list[str]) -> dict[str, Any]:
    return {"value": texts, "status": row["status"] if row else None}


def _plain_number(value: Any) -> Any:
    """A REAL column's 10.0 as 10, so that a score reads as the report printed it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- JSON ---------------------------------------------------------------------

def json_files(records: list[dict[str, Any]]) -> dict[str, str]:
    """`{file name: JSON text}`, one `<source stem>.json` per record (a repeated stem gets the sha prefix)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for record in records:
        stem = _source_stem(record["source"]["name"])
        if stem.casefold() in taken:  # case-insensitive file systems would overwrite it
            stem = f"{stem}_{record['source']['sha256'][:12]}"
        taken.add(stem.casefold())
        out[f"{stem}.json"] = json.dumps(record, ensure_ascii=False, indent=2) + "\n"
    return out


def _source_stem(name: str) -> str:
    """The file name stem of an uploaded name, safe as a file name on any system."""
    stem = Path((name or "").replace("\\", "/")).stem.strip()
    stem = "".join(ch for ch in stem if ch not in '<>:"/|?*' and unicodedata.category(ch) != "Cc")
    return stem.strip(". ") or "report"


def write_json(store: Any, out_dir: str | Path) -> list[Path]:
    """Write one record JSON file per confirmed report into `out_dir`; the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in json_files(confirmed_records(store)).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def json_zip_bytes(store: Any) -> bytes:
    """The files of `write_json` in one zip archive, for a download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in json_files(confirmed_records(store)).items():
            archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


# -- table rows (shared by CSV and XLSX) ----------------------------------------

def report_row(record: dict[str, Any]) -> dict[str, Any]:
    """One report as a flat row of REPORT_COLUMNS; problems and measures one per line."""
    return {"document_sha256": record["source"]["sha256"], "source_name": record["source"]["name"],
            **{key: record["fields"][key]["value"] for key in FIELD_KEYS},
            **{key: "\n".join(record[key]["value"]) for key in LISTS},
            "confirmed_by": record["confirmed"]["by"], "confirmed_at": record["confirmed"]["at"]}


def _document_columns(record: dict[str, Any]) -> dict[str, Any]:
    return {"document_sha256": record["source"]["sha256"], "source_name": record["source"]["name"],
            "unit_name": record["fields"]["unit_name"]["value"],
            "fiscal_year": record["fields"]["fiscal_year"]["value"]}


def indicator_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's score rows, each with the columns that say whose they are."""
    return [{**_document_columns(record), **row} for row in record["indicators"]]


def project_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**_document_columns(record), **row} for row in record["projects"]]


def list_item_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per problem and per measure, numbered from 1 within its list."""
    return [{**_document_columns(record), "list": key, "idx": i, "text": text}
            for key in LISTS for i, text in enumerate(record[key]["value"], start=1)]


# -- CSV ----------------------------------------------------------------------

def reports_csv(store: Any) -> str:
    """One row per confirmed report (header: the keys); encode with CSV_ENCODING for Excel."""
    return _csv_text(REPORT_COLUMNS, [report_row(r) for r in confirmed_records(store)])


def indicators_csv(store: Any) -> str:
    """One row per confirmed score row (header: the keys); encode with CSV_ENCODING for Excel."""
    return _csv_text(INDICATOR_COLUMNS, [row for r in confirmed_records(store) for row in indicator_rows(r)])


def write_csv(store: Any, path: str | Path) -> list[Path]:
    """Write the reports to `path` and the score rows to `<stem>_indicators.csv` beside it."""
    path = Path(path)
    records = confirmed_records(store)
    indicators_path = path.with_name(f"{path.stem}_indicators.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = {path: _csv_text(REPORT_COLUMNS, [report_row(r) for r in records]),
              indicators_path: _csv_text(INDICATOR_COLUMNS, [row for r in records for row in indicator_rows(r)])}
    for target, text in tables.items():
        target.write_text(text, encoding=CSV_ENCODING, newline="")
    return list(tables)


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: csv_safe(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (=HYPERLINK(…), +cmd|…, @SUM, a leading tab or CR)
    gets a leading apostrophe, so it is shown as the text it is; numbers stay numbers (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# -- XLSX ---------------------------------------------------------------------

STATUS_ZH = {"accepted": "自动通过", "confirmed": "人工确认", "corrected": "人工更正", "review": "待复核"}
UNIT_SUFFIX = {"money": "（万元）", "percent": "（%）"}
COLUMN_ZH = {
    "document_sha256": "文件SHA-256", "source_name": "文件名", "confirmed_by": "确认人", "confirmed_at": "确认时间",
    **LISTS, "table": "所属表格", "level1": "一级指标", "level2": "二级指标", "target": "年度指标值",
    "actual": "实际完成值", "weight": "分值", "score": "得分", "remark": "偏差原因分析及改进措施", "status": "状态",
    "list": "类别", "idx": "序号", "text": "内容",
    **{k: BY_KEY[k].zh + UNIT_SUFFIX.get(BY_KEY[k].kind, "") for k in FIELD_KEYS},
}
PROJECT_ZH = {"name": "项目名称", "budget_initial": "年初预算数（万元）", "budget_full_year": "全年预算数（万元）",
              "spending_actual": "全年执行数（万元）", "execution_rate": "预算执行率（%）", "score": "项目自评得分"}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MIN_WIDTH, MAX_WIDTH = 6, 50
NARROW = {"document_sha256": 14}  # the hash is for joining, not reading: show its start


def xlsx_bytes(store: Any) -> bytes:
    """A workbook of the confirmed records: sheets 报告, 评分表, 项目, 问题与措施."""
    records = confirmed_records(store)
    workbook = Workbook(write_only=True)
    _write_sheet(workbook, "报告", REPORT_COLUMNS, [report_row(r) for r in records],
                 [_corrected_keys(r) for r in records])
    _write_sheet(workbook, "评分表", INDICATOR_COLUMNS, [row for r in records for row in indicator_rows(r)])
    _write_sheet(workbook, "项目", PROJECT_COLUMNS, [row for r in records for row in project_rows(r)])
    _write_sheet(workbook, "问题与措施", LIST_ITEM_COLUMNS, [row for r in records for row in list_item_rows(r)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_xlsx(store: Any, path: str | Path) -> Path:
    """Write the workbook of `xlsx_bytes` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(xlsx_bytes(store))
    return path


def header_zh(sheet: str, key: str) -> str:
    """The Chinese column title of `key` on `sheet` (a project's name and numbers are the project's)."""
    if sheet == "项目" and key in PROJECT_ZH:
        return PROJECT_ZH[key]
    if sheet == "评分表" and key == "name":
        return "三级指标"
    return COLUMN_ZH.get(key, key)


def _corrected_keys(record: dict[str, Any]) -> set[str]:
    return {key for key, f in record["fields"].items() if f["status"] == CORRECTED} | \
        {key for key in LISTS if record[key]["status"] == CORRECTED}


def _write_sheet(workbook: Workbook, title: str, columns: tuple[str, ...], rows: list[dict[str, Any]],
                 corrected: list[set[str]] | None = None) -> None:
    """One sheet: a bold, frozen, filterable Chinese header (the key as its comment), then the rows.

    `corrected[n]` names the keys of row n that a person corrected; those cells get a comment.
    """
    sheet = workbook.create_sheet(title)
    headers = [header_zh(title, key) for key in columns]
    values = [[_cell_value(key, row.get(key)) for key in columns] for row in rows]
    for i, header in enumerate(headers, start=1):
        width = max([_display_width(header), *(_display_width(v[i - 1]) for v in values)])
        limit = NARROW.get(columns[i - 1], MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, MIN_WIDTH), limit)
    sheet.freeze_panes = "D2" if title == "报告" else "A2"  # the report's file and unit stay in view
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    sheet.append([_header_cell(sheet, header, key) for header, key in zip(headers, columns, strict=True)])
    for n, row_values in enumerate(values):
        marks = corrected[n] if corrected else set()
        sheet.append([_data_cell(sheet, value, key in marks) for key, value in zip(columns, row_values, strict=True)])


def _header_cell(sheet: Any, header: str, key: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, header)
    cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    cell.comment = Comment(key, "jixiao")
    return cell


def _data_cell(sheet: Any, value: Any, corrected: bool) -> Any:
    """A plain value, or a cell that says a person corrected it; long text wraps; text is never a formula."""
    text = isinstance(value, str)
    if not corrected and not (text and ("\n" in value or value.startswith("="))):
        return value
    cell = WriteOnlyCell(sheet, value)
    if text:
        cell.data_type = "s"  # openpyxl would store "=…" as a formula that Excel runs
    if text and "\n" in value:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    if corrected:
        cell.comment = Comment("人工更正", "jixiao")
    return cell


def _cell_value(key: str, value: Any) -> Any:
    """What a cell shows: numbers stay numbers, a report date is a date, statuses and lists in Chinese."""
    if key == "status":
        return STATUS_ZH.get(value, value)
    if key == "list":
        return LISTS.get(value, value)
    if key == "report_date" and isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _display_width(value: Any) -> int:
    """Roughly how many character widths the longest line of `value` takes (a Chinese character is two)."""
    if value is None:
        return 0
    if isinstance(value, date):
        return 10
    lines = str(value).splitlines() or [""]
    return max(sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line) for line in lines)
