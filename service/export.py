"""Confirmed records out of the store: record JSON, CSV and XLSX.

Everything starts from `confirmed_records(store)`: one record JSON
(spec/record-format.md) per confirmed report, read through the store's
`confirmed_documents` and `confirmed_parts`. The CSV and XLSX tables are
built from those records, so every format says the same thing. Field status
is as stored: `accepted` (the machine's value, trusted, and the report
confirmed), `confirmed` (a person accepted the value), `corrected` (a person
changed it). Money is in 万元, percentages are numbers (100 for 100%).

What analysts asked of the tables: the unit and year come first and rows are
sorted by them, two confirmed reports of the same unit and year are marked
(重复), the hash that joins the sheets is the last column, headers are Chinese
with their units (the keys behind `keys=True` in CSV), fields a person
corrected are named (人工更正的字段) and, in XLSX, highlighted, and times are
local text in the deployment's time zone (setting `time_zone`). Every export
takes a `Selection` (a year, part of a unit's name). The record JSON keeps the
stored ISO times with their offset.

Pure of Flask and click: the CLI and the web app call these functions.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from service.errors import JixiaoError
from service.fields import BY_KEY, field_keys
from service.labels import LISTS
from service.models import CORRECTED
from service.record import Record

CSV_ENCODING = "utf-8-sig"  # with a BOM, so that Excel opens the Chinese text correctly
ROW_TEXTS = ("level1", "level2", "name", "target", "actual")
ROW_NUMBERS = ("weight", "score")
PROJECT_NUMBERS = ("budget_initial", "budget_full_year", "spending_actual", "execution_rate", "score")
UNIT_YEAR = ("unit_name", "fiscal_year")
DOCUMENT_COLUMNS = (*UNIT_YEAR, "source_name")  # first in every table; the hash that joins them is last
INDICATOR_COLUMNS = (*DOCUMENT_COLUMNS, "table", *ROW_TEXTS, *ROW_NUMBERS, "remark", "status", "document_sha256")
PROJECT_COLUMNS = (*DOCUMENT_COLUMNS, "name", *PROJECT_NUMBERS, "status", "document_sha256")
LIST_ITEM_COLUMNS = (*DOCUMENT_COLUMNS, "list", "idx", "text", "document_sha256")
DEFAULT_TIME_ZONE = "Asia/Shanghai"
LOCAL_TIME = "%Y-%m-%d %H:%M"


def report_columns() -> tuple[str, ...]:
    """The 报告 sheet's columns: unit and year, every field of the registry, the lists, who confirmed."""
    return (*UNIT_YEAR, "duplicate", *(k for k in field_keys() if k not in UNIT_YEAR), "problems", "measures",
            "corrected_fields", "confirmed_by", "confirmed_at", "source_name", "document_sha256")


@dataclass(frozen=True)
class Selection:
    """Which confirmed reports to export: one year, and part of a unit's name (as the review queue filters)."""

    year: int | None = None
    unit: str | None = None

    def matches(self, report: dict[str, Any]) -> bool:
        """Whether a confirmed_reports row is selected."""
        if self.year is not None and report.get("fiscal_year") != self.year:
            return False
        unit = (self.unit or "").strip()
        return not unit or unit in (report.get("unit_name") or "")


ALL = Selection()


# -- records ------------------------------------------------------------------

def confirmed_records(store: Any, selection: Selection = ALL) -> list[Record]:
    """One record per selected confirmed report, in the order they were confirmed."""
    return [record_of(report, store.confirmed_parts(report["document_sha256"]))
            for report in store.confirmed_documents() if selection.matches(report)]


def record_of(report: dict[str, Any], parts: dict[str, list[dict[str, Any]]]) -> Record:
    """The record of one confirmed_reports row and its confirmed parts."""
    stored = {row["key"]: row for row in parts["confirmed_fields"]}
    items = parts["confirmed_list_items"]
    return Record.model_validate({
        "source": {"name": report["source_name"], "sha256": report["document_sha256"]},
        "fields": {key: _field(stored.get(key), report.get(key)) for key in field_keys()},
        "indicators": [_indicator(row) for row in parts["confirmed_indicators"]],
        "projects": [_project(row) for row in parts["confirmed_projects"]],
        **{key: _text_list(stored.get(key), [i["text"] for i in items if i["list"] == key]) for key in LISTS},
        "confirmed": {"by": report["confirmed_by"], "at": report["confirmed_at"]},
    })


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
            **{k: plain_number(row[k]) for k in ROW_NUMBERS}, "remark": row["remark"], "status": row["status"]}


def _project(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], **{k: plain_number(row[k]) for k in PROJECT_NUMBERS}, "status": row["status"]}


def _text_list(row: dict[str, Any] | None, texts: list[str]) -> dict[str, Any]:
    return {"value": texts, "status": row["status"] if row else None}


def plain_number(value: Any) -> Any:
    """A REAL column's 10.0 as 10, so that a score reads as the report printed it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# -- JSON ---------------------------------------------------------------------

def json_files(records: list[Record]) -> dict[str, str]:
    """`{file name: JSON text}`, one `<source stem>.json` per record (a repeated stem gets the sha prefix)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for record in records:
        stem = _source_stem(record.source.name)
        if stem.casefold() in taken:  # case-insensitive file systems would overwrite it
            stem = f"{stem}_{record.source.sha256[:12]}"
        taken.add(stem.casefold())
        out[f"{stem}.json"] = json.dumps(record.json(), ensure_ascii=False, indent=2) + "\n"
    return out


def _source_stem(name: str) -> str:
    """The file name stem of an uploaded name, safe as a file name on any system."""
    stem = Path((name or "").replace("\\", "/")).stem.strip()
    stem = "".join(ch for ch in stem if ch not in '<>:"/|?*' and unicodedata.category(ch) != "Cc")
    return stem.strip(". ") or "report"


def write_json(store: Any, out_dir: str | Path, selection: Selection = ALL) -> list[Path]:
    """Write one record JSON file per selected confirmed report into `out_dir`; the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in json_files(confirmed_records(store, selection)).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def json_zip_bytes(store: Any, selection: Selection = ALL) -> bytes:
    """The files of `write_json` in one zip archive, for a download."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in json_files(confirmed_records(store, selection)).items():
            archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


# -- table rows (shared by CSV and XLSX) ----------------------------------------

def zone_of(name: str) -> tzinfo:
    """The zone of the setting `time_zone`; Asia/Shanghai (UTC+8, no daylight saving) even without tzdata."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name == DEFAULT_TIME_ZONE:
            return timezone(timedelta(hours=8), "CST")
        raise JixiaoError(f"配置项 time_zone 的值无效：{name!r}（应为时区名，如 Asia/Shanghai）") from None


def local_time(stamp: str | None, zone: tzinfo, fmt: str = LOCAL_TIME) -> str | None:
    """A stored ISO time as local text, 2024-06-18 14:03 (a time without offset is UTC, as the store writes);
    the review app's pages show times through this too."""
    if not stamp:
        return stamp
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime(fmt)


def in_table_order(records: list[Record]) -> list[Record]:
    """The records sorted by unit and year (reports without them last), then by when they were confirmed."""
    def order(record: Record) -> tuple:
        unit, year = (record.field_value(k) for k in UNIT_YEAR)
        return (unit is None, unit or "", year is None, year or 0, record.confirmed.at or "")
    return sorted(records, key=order)


def duplicates(records: list[Record]) -> dict[str, str]:
    """`{sha256: 与…重复}` for each report confirmed for the same unit and year as another."""
    groups: dict[tuple[str, Any], list[Record]] = {}
    for record in records:
        unit, year = (record.field_value(k) for k in UNIT_YEAR)
        if unit and year is not None:
            groups.setdefault((unit.strip(), year), []).append(record)
    marks = {}
    for group in groups.values():
        for record in group if len(group) > 1 else []:
            others = [r.source.name for r in group if r is not record]
            marks[record.source.sha256] = f"与{'、'.join(others)}重复"
    return marks


def report_rows(records: list[Record], zone: tzinfo) -> list[dict[str, Any]]:
    """The reports as rows of `report_columns()`, in their order, duplicates of a unit and year marked."""
    marks = duplicates(records)
    return [{**report_row(r, zone), "duplicate": marks.get(r.source.sha256)} for r in records]


def report_row(record: Record, zone: tzinfo) -> dict[str, Any]:
    """One report as a flat row of `report_columns()`; problems and measures one per line, the time local."""
    return {"document_sha256": record.source.sha256, "source_name": record.source.name,
            **{key: record.field_value(key) for key in field_keys()},
            **{key: "\n".join(_texts(record, key)) for key in LISTS},
            "corrected_fields": "、".join(corrected_names(record)) or None,
            "confirmed_by": record.confirmed.by, "confirmed_at": local_time(record.confirmed.at, zone)}


def _texts(record: Record, key: str) -> list[str]:
    entry = getattr(record, key)
    return entry.value if entry is not None else []


def corrected_names(record: Record) -> list[str]:
    """The Chinese names of the fields and lists a person corrected, in the order of the field list."""
    keys = _corrected_keys(record)
    return [BY_KEY[k].zh for k in field_keys() if k in keys] + [LISTS[k] for k in LISTS if k in keys]


def _document_columns(record: Record) -> dict[str, Any]:
    return {"document_sha256": record.source.sha256, "source_name": record.source.name,
            "unit_name": record.field_value("unit_name"), "fiscal_year": record.field_value("fiscal_year")}


def score_sheet_rows(record: Record) -> list[dict[str, Any]]:
    """The report's score rows, each with the columns that say whose they are."""
    return [{**_document_columns(record), **row.model_dump(mode="json", exclude_unset=True)}
            for row in record.indicators]


def project_rows(record: Record) -> list[dict[str, Any]]:
    return [{**_document_columns(record), **p.model_dump(mode="json", exclude_unset=True)} for p in record.projects]


def list_item_rows(record: Record) -> list[dict[str, Any]]:
    """One row per problem and per measure, numbered from 1 within its list."""
    return [{**_document_columns(record), "list": key, "idx": i, "text": text}
            for key in LISTS for i, text in enumerate(_texts(record, key), start=1)]


# -- CSV ----------------------------------------------------------------------

def reports_csv(store: Any, selection: Selection = ALL, *, keys: bool = False,
                time_zone: str = DEFAULT_TIME_ZONE) -> str:
    """One row per selected confirmed report; encode with CSV_ENCODING for Excel.

    The header is Chinese with units (年初预算数（万元）) and statuses are Chinese; with `keys`, the header is
    the keys and statuses are as stored, for scripts.
    """
    return _reports_csv(confirmed_records(store, selection), keys, time_zone)


def indicators_csv(store: Any, selection: Selection = ALL, *, keys: bool = False) -> str:
    """One row per selected confirmed score row; the header as in `reports_csv`."""
    return _indicators_csv(confirmed_records(store, selection), keys)


def write_csv(store: Any, path: str | Path, selection: Selection = ALL, *, keys: bool = False,
              time_zone: str = DEFAULT_TIME_ZONE) -> list[Path]:
    """Write the reports to `path` and the score rows to `<stem>_indicators.csv` beside it."""
    path = Path(path)
    records = confirmed_records(store, selection)
    indicators_path = path.with_name(f"{path.stem}_indicators.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = {path: _reports_csv(records, keys, time_zone), indicators_path: _indicators_csv(records, keys)}
    for target, text in tables.items():
        target.write_text(text, encoding=CSV_ENCODING, newline="")
    return list(tables)


def _reports_csv(records: list[Record], keys: bool, zone_name: str) -> str:
    return _csv_text("报告", report_columns(), report_rows(in_table_order(records), zone_of(zone_name)), keys)


def _indicators_csv(records: list[Record], keys: bool) -> str:
    rows = [row for r in in_table_order(records) for row in score_sheet_rows(r)]
    return _csv_text("评分表", INDICATOR_COLUMNS, rows, keys)


def _csv_text(sheet: str, columns: tuple[str, ...], rows: list[dict[str, Any]], keys: bool) -> str:
    """The rows under a Chinese header (the one of the XLSX sheet `sheet`), or under the keys with `keys`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns if keys else [header_zh(sheet, key) for key in columns])
    for row in rows:
        values = [row.get(key) if keys or key != "status" else STATUS_ZH.get(row.get(key), row.get(key))
                  for key in columns]
        writer.writerow([csv_safe(v) for v in values])
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
    "list": "类别", "idx": "序号", "text": "内容", "duplicate": "重复", "corrected_fields": "人工更正的字段",
}
PROJECT_ZH = {"name": "项目名称", "budget_initial": "年初预算数（万元）", "budget_full_year": "全年预算数（万元）",
              "spending_actual": "全年执行数（万元）", "execution_rate": "预算执行率（%）", "score": "项目自评得分"}
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
CORRECTED_FILL = PatternFill("solid", fgColor="FFF2CC")  # a person changed this value
DUPLICATE_FONT = Font(color="C00000", bold=True)
NUMBER_FORMATS = {"money": "0.00", "percent": "0.00", "score": "0.0#", "int": "0", "year": "0"}
COLUMN_KINDS = {"weight": "score", "score": "score", "idx": "int"}  # besides the fields' own kinds
MIN_WIDTH, MAX_WIDTH = 6, 50
NARROW = {"document_sha256": 14}  # the hash is for joining, not reading: show its start


def xlsx_bytes(store: Any, selection: Selection = ALL, *, time_zone: str = DEFAULT_TIME_ZONE) -> bytes:
    """A workbook of the selected confirmed records: sheets 报告, 评分表, 项目, 问题与措施."""
    zone = zone_of(time_zone)
    records = in_table_order(confirmed_records(store, selection))
    workbook = Workbook(write_only=True)
    _write_sheet(workbook, "报告", report_columns(), report_rows(records, zone),
                 [_corrected_keys(r) for r in records])
    _write_sheet(workbook, "评分表", INDICATOR_COLUMNS, [row for r in records for row in score_sheet_rows(r)])
    _write_sheet(workbook, "项目", PROJECT_COLUMNS, [row for r in records for row in project_rows(r)])
    _write_sheet(workbook, "问题与措施", LIST_ITEM_COLUMNS, [row for r in records for row in list_item_rows(r)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_xlsx(store: Any, path: str | Path, selection: Selection = ALL, *,
               time_zone: str = DEFAULT_TIME_ZONE) -> Path:
    """Write the workbook of `xlsx_bytes` to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(xlsx_bytes(store, selection, time_zone=time_zone))
    return path


def header_zh(sheet: str, key: str) -> str:
    """The Chinese column title of `key` on `sheet` (a project's name and numbers are the project's)."""
    if sheet == "项目" and key in PROJECT_ZH:
        return PROJECT_ZH[key]
    if sheet == "评分表" and key == "name":
        return "三级指标"
    if key in BY_KEY:
        return BY_KEY[key].zh + UNIT_SUFFIX.get(BY_KEY[key].kind, "")
    return COLUMN_ZH.get(key, key)


def _corrected_keys(record: Record) -> set[str]:
    return {key for key, f in record.fields.items() if f.status == CORRECTED} | \
        {key for key in LISTS if getattr(record, key) is not None and getattr(record, key).status == CORRECTED}


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
    sheet.freeze_panes = "C2"  # the unit and year stay in view
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    sheet.append([_header_cell(sheet, header, key) for header, key in zip(headers, columns, strict=True)])
    for n, row_values in enumerate(values):
        marks = corrected[n] if corrected else set()
        sheet.append([_data_cell(sheet, key, value, key in marks) for key, value in zip(columns, row_values,
                                                                                          strict=True)])


def _header_cell(sheet: Any, header: str, key: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, header)
    cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    cell.comment = Comment(key, "jixiao")
    return cell


def _data_cell(sheet: Any, key: str, value: Any, corrected: bool) -> Any:
    """A plain value, or a styled cell: numbers formatted by kind (0.00 万元), a corrected value highlighted
    with a comment that says so, a duplicate mark in red; long text wraps; text is never a formula."""
    text = isinstance(value, str)
    number_format = NUMBER_FORMATS.get(BY_KEY[key].kind if key in BY_KEY else COLUMN_KINDS.get(key, "")) if isinstance(value, int | float) else None
    duplicate = key == "duplicate" and bool(value)
    if not (corrected or number_format or duplicate or (text and ("\n" in value or value.startswith("=")))):
        return value
    cell = WriteOnlyCell(sheet, value)
    if text:
        cell.data_type = "s"  # openpyxl would store "=…" as a formula that Excel runs
    if text and "\n" in value:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    if number_format:
        cell.number_format = number_format
    if duplicate:
        cell.font = DUPLICATE_FONT
    if corrected:
        cell.comment = Comment("人工更正", "jixiao")
        cell.fill = CORRECTED_FILL
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
