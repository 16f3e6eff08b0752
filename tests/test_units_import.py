"""Importing the list of units expected to report from CSV (UTF-8 with a BOM, GBK) and XLSX, by the store and by
`jixiao units import`: tolerant of headers, all or nothing, each bad row named by its line, idempotent."""

from __future__ import annotations

import io

import openpyxl
import pytest

from service.cli import cli
from service.errors import StoreError
from service.store import Store
from service.units.importing import UnitsFileError, read_units_file

LIST_CSV = "名称,类别,代码\n岭坡乡,乡镇,101\n湘江街道,街道,201\n衡山县教育局,部门,301\n"


def xlsx(rows: list[list], title_rows: int = 0) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for _ in range(title_rows):
        sheet.append(["衡山县 2023 年度应报送单位名单"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def names(rows) -> list[tuple]:
    return [(r.name, r.category, r.code) for r in rows]


# -- reading a file --------------------------------------------------------------------------------------------------

def test_a_utf8_csv_with_a_bom_is_read():
    rows = read_units_file("名单.csv", LIST_CSV.encode("utf-8-sig"))
    assert names(rows) == [("岭坡乡", "乡镇", "101"), ("湘江街道", "街道", "201"), ("衡山县教育局", "部门", "301")]
    assert [r.line for r in rows] == [2, 3, 4]


def test_a_gbk_csv_from_excel_is_read():
    text = "单位名称,单位类别,单位代码\r\n岭坡乡,乡,101\r\n湘江街道办事处,街道办事处,\r\n"
    rows = read_units_file("名单.csv", text.encode("gbk"))
    assert names(rows) == [("岭坡乡", "乡镇", "101"), ("湘江街道办事处", "街道", None)]


def test_common_header_variants_and_a_title_row_are_understood():
    text = "衡山县应报送单位名单\n序号\t部门（单位）名称*\t类型\t编码\t简称\n1\t衡山县教育局\t县直部门\t301\t教育局、县教育局\n"
    [row] = read_units_file("名单.txt", text.encode("utf-8"))
    assert (row.name, row.category, row.code, row.aliases, row.line) == \
        ("衡山县教育局", "部门", "301", ("教育局", "县教育局"), 3)


def test_an_xlsx_list_is_read_with_the_spreadsheets_row_numbers():
    data = xlsx([["名称", "类别", "代码"], ["岭坡乡", "乡镇", 101], [None, None, None], ["白果镇", "镇", 102.0]],
                title_rows=1)
    rows = read_units_file("名单.xlsx", data)
    assert names(rows) == [("岭坡乡", "乡镇", "101"), ("白果镇", "乡镇", "102")]
    assert [r.line for r in rows] == [3, 5]


@pytest.mark.parametrize("data, said", [
    ("类别,代码\n乡镇,101\n".encode(), "找不到「名称」列"),
    ("名称,代码\n岭坡乡,101\n".encode(), "缺少「类别」列"),
    (b"", "文件是空的"),
    ("\ufeff\r\n".encode(), "文件是空的"),
    ("名称,类别\n".encode(), "只有表头"),
    (b"%PDF-1.7\n1 0 obj\n", "不是 CSV 或 XLSX 表格"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是 CSV 或 XLSX 表格"),
    (b"PK\x03\x04 not really a zip", "不是 CSV 或 XLSX 表格"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "旧版 Excel（.xls）"),
])
def test_a_file_that_is_not_a_list_is_refused_in_chinese(data, said):
    with pytest.raises(UnitsFileError) as e:
        read_units_file("名单.csv", data)
    assert said in str(e.value) and "名单.csv" in str(e.value)


def test_a_word_document_is_not_a_spreadsheet(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("名称 类别")
    out = io.BytesIO()
    document.save(out)
    with pytest.raises(UnitsFileError, match="不是 CSV 或 XLSX 表格"):
        read_units_file("名单.docx", out.getvalue())


def test_every_bad_row_is_named_by_its_line():
    text = "名称,类别,代码\n岭坡乡,乡镇,101\n白果村,村,102\n,乡镇,103\n岭坡乡,乡镇,104\n湘江街道,街道,101\n"
    with pytest.raises(UnitsFileError) as e:
        read_units_file("名单.csv", text.encode())
    assert e.value.problems == ["第 3 行：类别「村」不是 乡镇、街道、部门 之一", "第 4 行：名称为空",
                                "第 5 行：名称「岭坡乡」与第 2 行重复", "第 6 行：代码 101 与第 2 行重复"]
    assert "有 4 行有误，未导入任何单位" in str(e.value)


def test_an_empty_category_is_an_error_not_a_guess():
    with pytest.raises(UnitsFileError, match="第 2 行：类别为空"):
        read_units_file("名单.csv", "名称,类别\n岭坡乡,\n".encode())


# -- into the store --------------------------------------------------------------------------------------------------

def test_importing_the_same_file_again_changes_nothing(store):
    rows = read_units_file("名单.csv", LIST_CSV.encode("utf-8-sig"))
    assert store.import_units(rows, "boss", "名单.csv") == {"added": 3, "updated": 0, "unchanged": 0}
    audited = len(store.unit_audit_entries())
    assert store.import_units(rows, "boss", "名单.csv") == {"added": 0, "updated": 0, "unchanged": 3}
    assert len(store.list_units()) == 3 and len(store.unit_audit_entries()) == audited == 3


def test_a_unit_is_matched_by_its_code_else_by_its_name(store):
    store.import_units(read_units_file("a.csv", LIST_CSV.encode()), "boss", "a.csv")
    renamed = "名称,类别,代码\n衡山县岭坡乡,乡镇,101\n湘江街道,街道,209\n"
    assert store.import_units(read_units_file("b.csv", renamed.encode()), "boss", "b.csv") == \
        {"added": 0, "updated": 2, "unchanged": 0}
    units = {u["code"]: u["name"] for u in store.list_units()}
    assert units == {"101": "衡山县岭坡乡", "209": "湘江街道", "301": "衡山县教育局"}
    latest = store.unit_audit_entries()[0]
    assert latest["action"] == "import_update" and latest["reason"] == "导入 b.csv 第 3 行"
    assert latest["old_value"]["code"] == "201" and latest["new_value"]["code"] == "209"


def test_a_row_taking_another_units_name_writes_nothing(store):
    store.import_units(read_units_file("a.csv", LIST_CSV.encode()), "boss", "a.csv")
    clash = "名称,类别,代码\n白果镇,乡镇,102\n湘江街道,乡镇,101\n"  # code 101 is 岭坡乡's, the name 湘江街道's
    with pytest.raises(StoreError, match="第 3 行：代码 101 属于「岭坡乡」"):
        store.import_units(read_units_file("c.csv", clash.encode()), "boss", "c.csv")
    assert sorted(u["name"] for u in store.list_units()) == ["岭坡乡", "湘江街道", "衡山县教育局"]
    assert len(store.unit_audit_entries()) == 3


def test_the_units_audit_is_append_only(store):
    store.import_units(read_units_file("a.csv", LIST_CSV.encode()), "boss", "a.csv")
    with pytest.raises(Exception, match="append-only"):
        store.db.execute("UPDATE unit_audit SET user_name = 'x'")
    with pytest.raises(Exception, match="append-only"):
        store.db.execute("DELETE FROM unit_audit")


def test_a_unit_of_an_unknown_category_is_refused_by_the_database_too(store):
    with pytest.raises(Exception, match="CHECK"):
        store.db.execute("INSERT INTO units (name, name_key, category, created_by, created_at) "
                         "VALUES ('x', 'x', '村', 'boss', 'now')")


# -- the command -----------------------------------------------------------------------------------------------------

def test_units_import_and_list_on_the_command_line(runner, tmp_path):
    (tmp_path / "名单.xlsx").write_bytes(xlsx([["单位名称", "类别", "代码"], ["岭坡乡", "乡镇", "101"],
                                             ["衡山县教育局", "部门", "301"]]))
    result = runner.invoke(cli, ["units", "import", "名单.xlsx"])
    assert result.exit_code == 0, result.output
    assert "新增 2 个" in result.output and "名单现有 2 个单位" in result.output
    again = runner.invoke(cli, ["units", "import", "名单.xlsx"])
    assert again.exit_code == 0 and "新增 0 个" in again.output and "2 个未改动" in again.output
    listed = runner.invoke(cli, ["units", "list"])
    assert listed.exit_code == 0 and listed.output.splitlines() == ["岭坡乡\t乡镇\t101\t", "衡山县教育局\t部门\t301\t"]
    assert runner.invoke(cli, ["units", "list", "--category", "部门"]).output == "衡山县教育局\t部门\t301\t\n"


@pytest.mark.parametrize("content, said", [
    ("名称,类别\n岭坡乡,村\n".encode("gbk"), "第 2 行：类别「村」"),
    ("代码\n101\n".encode(), "找不到「名称」列"),
    (b"", "文件是空的"),
    (b"%PDF-1.4\n", "不是 CSV 或 XLSX 表格"),
])
def test_units_import_of_a_bad_file_exits_1_and_writes_nothing(runner, tmp_path, content, said):
    (tmp_path / "bad.csv").write_bytes(content)
    result = runner.invoke(cli, ["units", "import", "bad.csv"])
    assert result.exit_code == 1 and said in result.output, result.output
    store = Store(str(tmp_path / "jixiao.db"))
    try:
        assert store.list_units() == [] and store.unit_audit_entries() == []
    finally:
        store.close()


def test_units_import_of_a_missing_file_exits_1(runner):
    result = runner.invoke(cli, ["units", "import", "nowhere.csv"])
    assert result.exit_code == 1 and "找不到文件" in result.output


def test_a_file_whose_alias_is_another_units_name_is_refused_whole(tmp_path):
    store = Store(str(tmp_path / "j.db"))
    store.import_units(read_units_file("名单.csv", LIST_CSV.encode("utf-8")), "admin", "名单.csv")
    clash = "名称,类别,别名\n测试局,部门,岭坡乡人民政府\n白果镇,乡镇,\n"
    with pytest.raises(StoreError, match="第 2 行：别名「岭坡乡人民政府」与单位「岭坡乡」的名称相同"):
        store.import_units(read_units_file("补充.csv", clash.encode("utf-8")), "admin", "补充.csv")
    assert [u.name for u in store.registry()] == ["岭坡乡", "湘江街道", "衡山县教育局"]  # nothing written
    store.close()


def test_a_refused_command_says_so_in_chinese_without_an_english_prefix(runner, tmp_path):
    result = runner.invoke(cli, ["units", "import", "没有这个文件.csv"])
    assert result.exit_code == 1
    assert result.output.startswith("错误：找不到文件 没有这个文件.csv") and "Error" not in result.output
