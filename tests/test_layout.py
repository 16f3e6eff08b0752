"""The layout step on hand-made boxes: lines, tables, merged and wrapped cells, page breaks.

Boxes are placed as a printer would: every character is `CW` wide (Latin
letters and digits half that), every line `H` tall; a table's rows stand
`ROW` apart and a wrapped cell's lines `LINE` apart.
"""

from __future__ import annotations

import pytest

from service.document import DocumentBuilder
from service.ingest.layout import (
    Box,
    TableBlock,
    TextLine,
    carried_separators,
    char_units,
    column_separators,
    lay_out,
    lay_out_pages,
    line_pitch,
    write_blocks,
)

CW, H = 10.0, 12.0
LINE, ROW = 14.0, 30.0
WIDTH = 600.0
COLS = (50.0, 150.0, 250.0)  # where each column's text starts


def box(text: str, x: float, y: float, conf: float = 1.0) -> Box:
    return Box(text, x, y, x + char_units(text) * CW, y + H, conf)


def row(y: float, *cells: str) -> list[Box]:
    """One visual line of a table: cell i at column i; "" leaves the column empty."""
    return [box(t, COLS[i], y) for i, t in enumerate(cells) if t]


def kinds(blocks) -> list[str]:
    return ["table" if isinstance(b, TableBlock) else "line" for b in blocks]


PARA_ABOVE = "这是表格上方的一段说明文字，它比表格的任何一列都宽得多"
PARA_BELOW = "表格下方的段落同样很长，长到越过了表格所有的列边界线"


def _three_column_table() -> list[Box]:
    return [
        box(PARA_ABOVE, 50, 40),
        *row(100, "项目", "年初预算数", "全年执行数"),
        *row(130, "年度资金总额", "100", "98.5"),
        *row(160, "", "50", "49"),  # the first column merged down: nothing printed there
        *row(190, "", "合计说明文字很", "12"),
        *row(190 + LINE, "", "长"),  # the cell above wrapped
        box(PARA_BELOW, 50, 190 + LINE + 45),
    ]


def test_three_column_table_with_a_merged_first_column_and_a_wrapped_cell():
    blocks = lay_out(_three_column_table(), WIDTH)

    assert kinds(blocks) == ["line", "table", "line"]
    assert blocks[0].text == PARA_ABOVE
    assert blocks[1].rows == [
        ["项目", "年初预算数", "全年执行数"],
        ["年度资金总额", "100", "98.5"],
        ["", "50", "49"],
        ["", "合计说明文字很长", "12"],
    ]
    assert blocks[1].n_cols == 3 and not blocks[1].continued
    assert blocks[2].text == PARA_BELOW


def test_a_row_that_lacks_a_middle_cell_gets_an_empty_cell_there():
    boxes = [
        *row(100, "科目", "预算数", "决算数"),
        *row(130, "基本支出", "", "49"),
        *row(160, "项目支出", "20", "19"),
    ]
    (table,) = lay_out(boxes, WIDTH)
    assert table.rows == [["科目", "预算数", "决算数"], ["基本支出", "", "49"], ["项目支出", "20", "19"]]


def test_columns_that_never_share_a_line_are_told_apart_by_the_white_between_them():
    boxes = [
        *row(100, "单位名称", "某某镇"),
        *row(130, "年度资金", "", "972.54"),
        *row(160, "其他资金", "", "10"),
    ]
    (table,) = lay_out(boxes, WIDTH)
    assert table.rows == [["单位名称", "某某镇", ""], ["年度资金", "", "972.54"], ["其他资金", "", "10"]]


def test_single_cell_rows_inside_a_table_stay_rows():
    boxes = [
        *row(100, "经费", "预算", "决算"),
        *row(130, "三公经费", "0", "0"),
        *row(160, "其中：公车购置"),  # a row with only its first cell filled
        *row(190, "公务接待", "0", "0"),
    ]
    (table,) = lay_out(boxes, WIDTH)
    assert table.rows == [["经费", "预算", "决算"], ["三公经费", "0", "0"], ["其中：公车购置", "", ""],
                          ["公务接待", "0", "0"]]


@pytest.mark.parametrize(("amount_header", "expected"), [
    # "3852.5" is the widest text of its column: it ran to the edge, and the "4" below finishes it
    ("金额", [["项目名称说明", "金额", "备注"], ["成本", "3852.54", "无"], ["小计", "", ""]]),
    # the column is wider than "3852.5": it ended there, and a number on its own starts a row
    ("金额（万元）", [["项目名称说明", "金额（万元）", "备注"], ["成本", "3852.5", "无"], ["", "4", ""],
                     ["小计", "", ""]]),
])
def test_rows_as_close_as_lines_continue_only_text_that_ran_to_the_columns_edge(amount_header, expected):
    boxes = [
        *row(100, "项目名称说明", amount_header, "备注"),
        *row(100 + LINE, "成本", "3852.5", "无"),
        *row(100 + 2 * LINE, "", "4"),
        *row(100 + 3 * LINE, "小计"),  # "成本" ended short of its column's edge: a new row
    ]
    (table,) = lay_out(boxes, WIDTH)
    assert table.rows == expected


def test_ruling_line_read_as_a_bar_separates_cells():
    rule = 100.0  # the ruling line's x; "年初预算数" fills its column up to it
    boxes = []
    for y, (a, b) in ((100, ("年初预算数", "全年预算数")), (130, ("1045.9", "2769.17"))):
        # OCR read each line as one box "a|b"; cut at the bar, the pieces touch it
        boxes += [box(a, 50, y), Box("|", rule, y, rule + 0.5 * CW, y + H), box(b, rule + 0.5 * CW, y)]
    (table,) = lay_out(boxes, WIDTH)
    assert table.rows == [["年初预算数", "全年预算数"], ["1045.9", "2769.17"]]


def test_boxes_of_one_cell_join_without_spaces_in_chinese_and_with_one_between_latin_words():
    boxes = [box("部门", 50, 100), box("整体", 71, 100), box("Total", 200, 130), box("score", 231, 130)]
    lines = lay_out(boxes, WIDTH)
    assert [b.text for b in lines] == ["部门整体", "Total score"]


def test_lone_line_with_a_wide_gap_is_text():
    blocks = lay_out([box("单位：万元", 50, 100), box("2023年", 400, 100), box("正文", 50, 130)], WIDTH)
    assert kinds(blocks) == ["line", "line"]
    assert blocks[0].text == "单位：万元 2023年"


def test_paragraph_wrapped_at_the_margin_is_joined_and_headings_and_indents_are_not():
    full = "一" * 50  # reaches the right margin
    lines = [
        ("二、部门整体支出情况", 50),
        (full, 50), ("续行文字，到此结束。", 50),  # wrapped: one paragraph
        ("新的段落缩进两格" + "字" * 40, 70), ("第二行", 50),
        (full, 50), ("（一）基本支出情况", 50),  # a heading after a full line stays on its own
    ]
    boxes = [box(t, x, 100 + i * 20) for i, (t, x) in enumerate(lines)]
    texts = [b.text for b in lay_out(boxes, WIDTH)]
    assert texts == ["二、部门整体支出情况", full + "续行文字，到此结束。",
                     "新的段落缩进两格" + "字" * 40 + "第二行", full, "（一）基本支出情况"]


def test_table_across_a_page_break_keeps_its_columns():
    page1 = [box(PARA_ABOVE, 50, 40), *row(100, "指标", "分值", "得分"), *row(130, "产出", "10", "9")]
    # Page 2 starts with a row whose only cell is in the second column, then rows without the first column.
    page2 = [*row(30, "", "（续）"), *row(60, "", "8", "7"), *row(90, "", "6", "5")]
    first, second = lay_out_pages([(page1, WIDTH), (page2, WIDTH)])

    assert kinds(first) == ["line", "table"] and kinds(second) == ["table"]
    assert second[0].continued
    assert second[0].separators == first[1].separators
    assert second[0].rows == [["", "（续）", ""], ["", "8", "7"], ["", "6", "5"]]


def test_lay_out_with_the_previous_pages_columns_marks_the_table_continued():
    (head,) = lay_out([*row(100, "指标", "分值", "得分"), *row(130, "产出", "10", "9")], WIDTH)
    (tail,) = lay_out([*row(30, "", "8", "7"), *row(60, "", "6", "5")], WIDTH, separators=head.separators)
    assert tail.continued and tail.rows == [["", "8", "7"], ["", "6", "5"]]
    (other,) = lay_out([*row(30, "一栏很长很长的文字很长", "", "7"), *row(60, "一栏", "", "5")], WIDTH,
                       separators=head.separators)
    assert not other.continued  # its cells run across the old boundaries: another table


def test_write_blocks_joins_a_continued_table_and_gives_every_ocr_cell_its_confidence():
    builder = DocumentBuilder()
    page1 = [*row(100, "指标", "分值", "得分"), *row(130, "产出", "10", "9")]
    page2 = [box("2", 290, 5), *row(30, "", "8", "7")]  # a page number, then the table's last row
    page2[-1].confidence = 0.42
    builder.start_page(1, ocr=True)
    write_blocks(builder, lay_out(page1, WIDTH), 1, "ocr", ocr=True)
    builder.start_page(2, ocr=True)
    assert carried_separators(builder, "pdf") is None  # a PDF page's points are not a scan's pixels
    blocks = lay_out(page2, WIDTH, separators=carried_separators(builder, "ocr"))
    assert [b.text for b in blocks if isinstance(b, TextLine)] == ["2"]
    write_blocks(builder, blocks, 2, "ocr", ocr=True)
    doc = builder.build("scan.png", "0", "image")

    (table,) = doc.tables
    assert table.grid() == [["指标", "分值", "得分"], ["产出", "10", "9"], ["", "8", "7"]]
    low = table.rows[2][2]
    assert doc.ocr_confidence(low.start, low.end) == pytest.approx(0.42)
    assert doc.page_at(low.start) == 2 and doc.page_at(table.rows[1][0].start) == 1
    cells = [c for r in table.rows for c in r if c.text]
    assert all(doc.ocr_confidence(c.start, c.end) == pytest.approx(0.42 if c is low else 1.0) for c in cells)


def test_column_separators_take_the_narrowest_gaps_first():
    lines = [[(0, 40), (60, 100), (160, 200)], [(0, 20), (120, 200)]]
    # (40, 60) and (100, 160) from the first line; (20, 120) holds the first boundary already;
    # the second boundary goes where no cell runs across: left of the cell starting at 120
    assert column_separators(lines) == [50, 110]


def test_line_pitch_ignores_a_stray_small_step():
    assert line_pitch([3, 30, 14, 30, 31], height=H) == 14


def test_text_lines_keep_the_lowest_confidence_of_their_boxes():
    (line,) = lay_out([box("年初预算", 50, 100, 0.99), box("安排收入", 91, 100, 0.61)], WIDTH)
    assert isinstance(line, TextLine) and line.confidence == pytest.approx(0.61)
