"""The registry read from a file a finance bureau keeps: CSV (UTF-8 with or without a BOM, GBK/GB18030, UTF-16)
or XLSX, with a header row naming 名称 (or 单位名称 …), 类别 and optionally 代码 and 别名.

The whole file is checked before anything is written: a file that is not a table, has no 名称 or 类别 column,
or has any bad row is refused with a Chinese message naming each bad row by its line (the row number a
spreadsheet shows), and the caller writes nothing. Pure: bytes in, rows out (the store imports them in one
transaction).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from service.errors import JixiaoError
from service.units.registry import CATEGORIES, category_of, registry_key, split_aliases, unit_problems

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is fine
SHOWN_PROBLEMS = 20

# header words of each column, compared after NFKC, without spaces, '*', ':' and a bracketed note
HEADERS = {
    "name": ("名称", "单位名称", "单位", "单位全称", "单位名", "部门名称", "部门单位名称", "预算单位名称", "预算单位",
             "name", "unit", "unitname"),
    "category": ("类别", "单位类别", "类型", "单位类型", "分类", "单位分类", "层级", "category", "type", "kind"),
    "code": ("代码", "单位代码", "编码", "单位编码", "编号", "单位编号", "预算单位代码", "预算单位编码",
             "统一社会信用代码", "code"),
    "aliases": ("别名", "简称", "曾用名", "其他名称", "别称", "aliases", "alias"),
}
ZH_COLUMNS = {"name": "名称", "category": "类别", "code": "代码", "aliases": "别名"}
NOT_A_TABLE = "不是 CSV 或 XLSX 表格，无法导入；请在 Excel 或 WPS 中另存为 .xlsx 或 CSV 后再导入"
MAGIC = {b"%PDF": "这是 PDF 文件", b"\x89PNG": "这是图片", b"\xff\xd8\xff": "这是图片", b"GIF8": "这是图片",
         b"\xd0\xcf\x11\xe0": "这是旧版 Excel（.xls）、Word（.doc）或加密的文件"}


class UnitsFileError(JixiaoError):
    """A registry file that cannot be imported; `problems` are the bad rows (「第 3 行：…」), when that is why."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or []
        super().__init__(message)


@dataclass(frozen=True)
class UnitRow:
    """One unit as the file gives it, with its line; code and aliases empty when the file leaves them out."""

    line: int
    name: str
    category: str
    code: str | None
    aliases: tuple[str, ...]


def read_units_file(name: str, data: bytes, max_unpacked_bytes: int = 200 * 1024 * 1024) -> list[UnitRow]:
    """Every unit of a registry file, checked; UnitsFileError (in Chinese) when any of it is wrong."""
    if len(data) > MAX_FILE_BYTES:
        raise UnitsFileError(f"{name}：文件过大（超过 {MAX_FILE_BYTES // 1024 // 1024} MB），不像是单位名单")
    if not data.strip() or data.strip() in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise UnitsFileError(f"{name}：文件是空的，没有任何单位")
    zipped = data.startswith(b"PK")
    return _units_of(name, _xlsx_lines(name, data, max_unpacked_bytes) if zipped else _csv_lines(name, data))


# -- the file's rows, each with its line ---------------------------------------------------------------------------

def _csv_lines(name: str, data: bytes) -> list[tuple[int, list[str]]]:
    text = _decode(name, data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out, line = [], 1
    try:
        for row in reader:
            out.append((line, [cell.strip() for cell in row]))
            line = reader.line_num + 1
            if len(out) > MAX_ROWS + HEADER_SEARCH_ROWS:
                raise UnitsFileError(f"{name}：行数超过 {MAX_ROWS}，不像是单位名单")
    except csv.Error as e:
        raise UnitsFileError(f"{name}：第 {line} 行不是有效的 CSV（{e}）") from None
    return out


def _decode(name: str, data: bytes) -> str:
    """The text of a CSV: a BOM says its encoding; else UTF-8, else GB18030 (GBK's superset); binary refused."""
    for found in MAGIC:
        if data.startswith(found):
            raise UnitsFileError(f"{name}：{MAGIC[found]}，{NOT_A_TABLE}")
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif b"\x00" in data:
        raise UnitsFileError(f"{name}：{NOT_A_TABLE}")
    else:
        encodings = ["utf-8", "gb18030"]
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text):
            break
        return text
    raise UnitsFileError(f"{name}：无法识别文件的文字编码或内容（应为 UTF-8 或 GBK 编码的 CSV），{NOT_A_TABLE}")


def _delimiter(text: str) -> str:
    """The delimiter of a CSV: the one its first lines (a title line, the header, a few rows) hold most of
    (comma, tab, semicolon, full-width comma)."""
    first = [line for line in text.splitlines()[:HEADER_SEARCH_ROWS * 2] if line.strip()][:HEADER_SEARCH_ROWS]
    counts = {d: sum(line.count(d) for line in first) for d in (",", "\t", ";", "，")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _xlsx_lines(name: str, data: bytes, max_unpacked_bytes: int) -> list[tuple[int, list[str]]]:
    """The first worksheet's rows (row numbers as the spreadsheet shows them), cells as text."""
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            unpacked = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnitsFileError(f"{name}：文件已损坏，{NOT_A_TABLE}") from None
    if "xl/workbook.xml" not in names:
        raise UnitsFileError(f"{name}：这是压缩包或 Word 等其他格式的文件，{NOT_A_TABLE}")
    if unpacked > max_unpacked_bytes:
        raise UnitsFileError(f"{name}：表格解压后过大（{unpacked / 1024 / 1024:.0f} MB），不像是单位名单")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a broken workbook
        raise UnitsFileError(f"{name}：无法读取该 XLSX 表格（{type(e).__name__}），{NOT_A_TABLE}") from None
    try:
        if not book.worksheets:
            raise UnitsFileError(f"{name}：表格中没有工作表")
        out = []
        for line, row in enumerate(book.worksheets[0].iter_rows(min_row=1, values_only=True), 1):
            out.append((line, [_cell_text(v) for v in row]))
            if len(out) > MAX_ROWS + HEADER_SEARCH_ROWS * 10:
                raise UnitsFileError(f"{name}：行数超过 {MAX_ROWS}，不像是单位名单")
        return out
    finally:
        book.close()


def _cell_text(value) -> str:
    """A cell as text: 101.0 as 101 (a code typed as a number), nothing as ''."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# -- the rows as units ---------------------------------------------------------------------------------------------

def header_word(cell: str) -> str:
    """A header cell as compared: NFKC, lower case, no spaces, '*', ':' or bracketed note (「名称（全称）」 and
    「部门（单位）名称」 as 名称 and 部门名称)."""
    text = unicodedata.normalize("NFKC", cell or "").lower()
    return re.sub(r"[\s\ufeff*:：]|\(.*?\)", "", text)


def _columns(header: list[str]) -> dict[str, int]:
    """Which column holds each of name, category, code, aliases (the first of each that the header names)."""
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        word = header_word(cell)
        for key, words in HEADERS.items():
            if key not in found and word in words:
                found[key] = i
                break
    return found


def _non_empty(lines: list[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    return ((n, cells) for n, cells in lines if any(c.strip() for c in cells))


def _find_header(name: str, lines: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int]]:
    rows = list(_non_empty(lines))
    if not rows:
        raise UnitsFileError(f"{name}：文件是空的，没有任何单位")
    for n, cells in rows[:HEADER_SEARCH_ROWS]:
        columns = _columns(cells)
        if "name" in columns:
            if "category" not in columns:
                raise UnitsFileError(f"{name}：第 {n} 行的表头缺少「类别」列（类别应为 {'、'.join(CATEGORIES)}）；"
                                     f"读到的表头是：{_shown(cells)}")
            return n, columns
    n, cells = rows[0]
    raise UnitsFileError(f"{name}：找不到「名称」列。表头应有 名称（或 单位名称）、类别 两列，可选 代码、别名；"
                         f"第 {n} 行读到的是：{_shown(cells)}")


def _shown(cells: list[str]) -> str:
    given = [c for c in cells if c.strip()]
    return "、".join(f"「{c}」" for c in given[:8]) + ("…" if len(given) > 8 else "") if given else "（空）"


def _units_of(name: str, lines: list[tuple[int, list[str]]]) -> list[UnitRow]:
    header_line, columns = _find_header(name, lines)
    out: list[UnitRow] = []
    problems: list[str] = []
    names: dict[str, int] = {}
    codes: dict[str, int] = {}
    for n, cells in _non_empty(lines):
        if n <= header_line:
            continue

        def cell(key: str, cells=cells) -> str:
            i = columns.get(key)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        unit_name, category, code = cell("name"), cell("category"), cell("code")
        key = registry_key(unit_name)
        aliases = tuple(a for a in split_aliases(cell("aliases")) if registry_key(a) != key)
        wrong = unit_problems(unit_name, category, code, aliases)
        if key and key in names:
            wrong.append(f"名称「{unit_name}」与第 {names[key]} 行重复")
        if code and code in codes:
            wrong.append(f"代码 {code} 与第 {codes[code]} 行重复")
        if wrong:
            problems.append(f"第 {n} 行：{'；'.join(wrong)}")
            continue
        names.setdefault(key, n)
        if code:
            codes.setdefault(code, n)
        out.append(UnitRow(n, unit_name, category_of(category), code or None, aliases))
    if problems:
        shown = "；".join(problems[:SHOWN_PROBLEMS]) + (f"；……共 {len(problems)} 行有误" if len(problems) > SHOWN_PROBLEMS else "")
        raise UnitsFileError(f"{name}：有 {len(problems)} 行有误，未导入任何单位。{shown}", problems)
    if not out:
        raise UnitsFileError(f"{name}：只有表头（第 {header_line} 行），没有任何单位")
    return out
