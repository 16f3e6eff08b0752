"""Tables flattened into text (tab, pipe and space forms) come back as the same rows of cells."""

from __future__ import annotations

import pytest

from service.ingest import load
from service.ingest.tables import find_tables
from service.settings import load_settings
from tests.conftest import SAMPLES

STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))
TABLES_PER_SAMPLE = {
    "000_8d720d4fc0889d24": 3,  # 基础数据表, 部门整体支出绩效自评表, 项目支出绩效自评表
    "001_dea89b1d5430c4b7": 0,
    "002_6ebd5ff7b055c059": 1,
    "003_30586584fcfb4137": 0,
    "004_b638ef10e80c4f2a": 1,
}

SCORE_TABLE = [
    ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
    ["产出指标", "数量指标", "实际财政供养人员数", "52人", "52人", "5", "5"],
    ["产出指标", "质量指标", "工资津贴发放率", "100%", "100%", "5", "4.5"],
    ["满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", "10", "9"],
]
BEFORE, AFTER = "附件二\n\n2023年度部门整体支出绩效自评表\n", "\n说明：表中数据来源于部门决算。\n"


def tab_form(rows: list[list[str]]) -> str:
    """Word's export: each cell on a line starting with a tab, a blank line after each row."""
    return "".join("".join(f"\t{cell}\n" for cell in row) + "\n" for row in rows)


def pipe_form(rows: list[list[str]]) -> str:
    """Markdown-like rows with a rule line under the header."""
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines) + "\n"


def space_form(rows: list[list[str]]) -> str:
    """A PDF text layer: cells separated by runs of spaces."""
    return "\n".join("   ".join(row) for row in rows) + "\n"


def only_table(text: str):
    tables = find_tables(text)
    assert len(tables) == 1, [t.grid() for t in tables]
    return tables[0]


def assert_offsets_point_at_cells(text: str, table) -> None:
    for row in table.rows:
        for cell in row:
            assert text[cell.start:cell.end] == cell.text, (cell.start, cell.end, cell.text)
    assert table.start <= table.rows[0][0].start and table.rows[-1][-1].end <= table.end


@pytest.fixture(scope="module")
def samples():
    settings = load_settings(env={})
    return {stem: load(SAMPLES / f"{stem}.txt", settings) for stem in STEMS}


def test_tab_form_rows_and_cells():
    text = ("正文段落。\n\n"
            "\t预算部门名称\n\t衡山县岭坡乡人民政府\n\n"
            "\t年度预算申请\n（万元）\n\t\n\t年初预算数\n\n"
            "\t\n\t年度资金总额\n\t1045.9\n\n"
            "\n表后段落。\n")

    table = only_table(text)

    assert table.origin == "tab"
    assert table.grid() == [
        ["预算部门名称", "衡山县岭坡乡人民政府"],
        ["年度预算申请\n（万元）", "", "年初预算数"],
        ["", "年度资金总额", "1045.9"],
    ]
    assert_offsets_point_at_cells(text, table)
    assert text[:table.start].strip() == "正文段落。"
    assert text[table.end:].strip() == "表后段落。"


def test_cell_with_blank_line_inside_stays_one_cell(samples):
    text = ("\t二级指标\n\t三级指标\n\t分值\n\n"
            "\t质量指标\n\t各重点工作完 \n\n成率\n\t5\n\n"
            "\t\n\t工资津贴发放率\n\t5\n\n")

    table = only_table(text)

    assert table.grid() == [
        ["二级指标", "三级指标", "分值"],
        ["质量指标", "各重点工作完 \n\n成率", "5"],
        ["", "工资津贴发放率", "5"],
    ]
    assert_offsets_point_at_cells(text, table)
    grids_000 = [t.grid() for t in samples["000_8d720d4fc0889d24"].tables]
    assert any(row[2:8] == ["质量指标", "各重点工作完 \n\n成率", "100%", "100%", "5", "5"]
               for grid in grids_000 for row in grid)


def test_pipe_form_gives_same_cells_as_tab_form():
    tab_text = BEFORE + tab_form(SCORE_TABLE) + AFTER
    pipe_text = BEFORE + pipe_form(SCORE_TABLE) + AFTER

    tab, pipe = only_table(tab_text), only_table(pipe_text)

    assert (tab.origin, pipe.origin) == ("tab", "pipe")
    assert pipe.grid() == tab.grid() == SCORE_TABLE
    assert_offsets_point_at_cells(pipe_text, pipe)


def test_space_form_gives_same_cells_as_tab_form():
    tab_text = BEFORE + tab_form(SCORE_TABLE) + AFTER
    space_text = BEFORE + space_form(SCORE_TABLE) + AFTER

    tab, spaces = only_table(tab_text), only_table(space_text)

    assert spaces.origin == "spaces"
    assert spaces.grid() == tab.grid() == SCORE_TABLE
    assert_offsets_point_at_cells(space_text, spaces)


@pytest.mark.parametrize("stem", STEMS)
def test_sample_tables_offsets_point_at_cell_text(samples, stem):
    doc = samples[stem]

    assert len(doc.tables) == TABLES_PER_SAMPLE[stem]
    for table in doc.tables:
        assert table.origin == "tab"
        assert len(table.rows) >= 2
        assert_offsets_point_at_cells(doc.text, table)


def test_single_indented_line_is_not_a_table():
    text = ("一、部门基本情况\n\n"
            "\t本单位为全额拨款行政单位，内设党政办、民政所等机构。\n\n"
            "二、预算执行情况\n\n"
            "    我乡镇2023年部门决算汇总公开单位只有乡镇本级。\n")

    assert find_tables(text) == []


def test_page_number_between_rows_is_not_cell_text():
    text = ("\t三级指标\n\t分值\n\n"
            "\t实际财政供养人员数\n\t5\n\n"
            "- 3 -\n\n"
            "\t工资津贴发放率\n\t5\n\n")

    rows = [row for table in find_tables(text) for row in table.grid()]

    assert ["实际财政供养人员数", "5"] in rows, rows
    assert ["工资津贴发放率", "5"] in rows, rows
