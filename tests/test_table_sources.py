"""Tables from every source come back as the same cells: ruled grids in scans, ruled tables in text PDFs,
tables broken by a page; and the rules engine on the real excerpts of ../shared/real keeps its figures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from service.document import DocumentBuilder
from service.extract.rules.engine import extract
from service.ingest import load
from service.ingest.lattice import find_grids, grid_table
from service.ingest.layout import Box
from service.ingest.tables import join_page_breaks
from service.record import to_record
from service.sections import split_sections
from service.settings import load_settings
from tests.builders import make_text_pdf
from tests.conftest import SHARED
from tests.scoring import load_scorer
from tests.test_rules import record_of_text, values

REAL = SHARED / "real"


def _ruled_page(merge_first_row: bool) -> tuple[np.ndarray, list[float], list[float]]:
    """A white page with a 3 x 4 ruled grid; the first row's last three cells merged when asked."""
    img = Image.new("RGB", (1200, 900), "white")
    draw = ImageDraw.Draw(img)
    xs, ys = [100, 400, 600, 800, 1000], [100, 250, 400, 550]
    for y in ys:
        draw.line((xs[0], y, xs[-1], y), fill="black", width=3)
    for i, x in enumerate(xs):
        for r in range(len(ys) - 1):
            if merge_first_row and r == 0 and i in (2, 3):
                continue
            draw.line((x, ys[r], x, ys[r + 1]), fill="black", width=3)
    return np.asarray(img)[:, :, ::-1].copy(), xs, ys


def test_a_scans_ruled_grid_gives_its_cells_and_a_merged_cell_once():
    bgr, xs, ys = _ruled_page(merge_first_row=True)
    (grid,) = find_grids(bgr)
    assert len(grid.xs) == 5 and len(grid.ys) == 4
    assert all(abs(a - b) <= 4 for a, b in zip(grid.xs, xs, strict=True))
    boxes = [Box("预算部门名称", 120, 150, 380, 190, 0.99), Box("某某县", 620, 150, 700, 190, 0.97),
             Box("水利局", 820, 150, 900, 190, 0.95),  # one merged cell's text, printed over two columns
             Box("年初预算数", 420, 300, 580, 340, 0.99), Box("120", 620, 300, 680, 340, 0.62),
             Box("全年执行数", 120, 280, 380, 310, 0.99), Box("（万元）", 120, 330, 380, 360, 0.99)]
    block = grid_table(grid, boxes)
    assert block.rows[0] == ["预算部门名称", "某某县水利局", "", ""]
    assert block.rows[1][:3] == ["全年执行数（万元）", "年初预算数", "120"]  # a cell's wrapped lines are one text
    assert block.confidences[1][2] == pytest.approx(0.62)  # the cell carries its OCR confidence


def test_a_page_of_prose_has_no_grid():
    img = Image.new("RGB", (1200, 900), "white")
    ImageDraw.Draw(img).line((100, 100, 1100, 100), fill="black", width=3)  # a rule under a title is no table
    assert find_grids(np.asarray(img)[:, :, ::-1].copy()) == []


def test_a_table_broken_by_a_page_is_one_table_and_its_repeated_header_is_dropped():
    b = DocumentBuilder()
    b.start_page(1)
    b.add_paragraph("附件：部门整体支出绩效自评表")
    b.add_table([["三级指标", "分值", "得分"], ["巡河次数", "20", "20"]], origin="pdf")
    b.start_page(2)
    b.add_paragraph("- 2 -")
    b.add_table([["三级指标", "分值", "得分"], ["问题整改率", "20", "18"]], origin="pdf")
    b.add_paragraph("三、存在的问题")
    b.start_page(3)
    b.add_table([["项目名称", "河道保洁"], ["年初预算数", "120"]], origin="pdf")
    doc = b.build("x.pdf", "0", "pdf")
    join_page_breaks(doc)
    assert len(doc.tables) == 2  # the third table stands after a heading: a table of its own
    assert [[c.text for c in row] for row in doc.tables[0].rows] == [
        ["三级指标", "分值", "得分"], ["巡河次数", "20", "20"], ["问题整改率", "20", "18"]]


def test_a_ruled_pdf_tables_wrapped_cells_come_back_whole(tmp_path):
    text = ("部门整体支出绩效自评表\n\n\t一级指标\n\t二级指标\n\t三级指标\n\t年度指标值\n\t实际完成值\n\t分值\n\t得分\n\n"
            "\t产出指标\n\t数量指标\n\t城乡居民基本医疗保险参保人数完成情况\n\t≥98%（以年初下达的任务数为准）\n\t98.6%\n\t20\n\t20\n\n")
    pdf = make_text_pdf(text, tmp_path / "wrapped.pdf")
    doc = load(pdf, load_settings(env={}))
    (table,) = doc.tables
    assert [c.text for c in table.rows[1]] == ["产出指标", "数量指标", "城乡居民基本医疗保险参保人数完成情况",
                                               "≥98%（以年初下达的任务数为准）", "98.6%", "20", "20"]


def test_units_years_dates_and_ratings_are_read_however_the_cover_was_flattened():
    text = ("某某县财政预算支出项目绩效目标自评表 填报日期:2024 年 3 月 8 项目名称 河道保洁经费 项目主管单位 某某县水利局 "
            "项目实施单位 某某县河道管理所\n项目支出绩效自评表\n(2023年度)\n经综合评价，整体绩效自评为优 秀。\n")
    _doc, record = record_of_text(text)
    got = values(record)
    assert got["unit_name"] == "某某县河道管理所"  # the unit that carried the project out, not the one above it
    assert got["fiscal_year"] == 2023 and got["report_date"] == "2024-03-08" and got["rating"] == "优秀"


def test_a_unit_name_printed_after_an_unreadable_character_goes_to_review():
    text = ("发布机构: 零陵区林业局\n部门整体支出绩效自评表\n一级预算单位名称 | \ufffd陵区林业局 |\n"
            + "本局负责全区林业资源保护、造林绿化和森林防火工作，年度内完成各项目标任务。\n" * 3)  # a page, not a line
    _doc, record = record_of_text(text)
    unit = record["fields"]["unit_name"]
    assert unit["status"] == "review" and any("缺字" in i for i in unit["issues"])  # not trusted as 陵区林业局


def test_the_rules_engine_on_the_real_excerpts_keeps_its_figures(tmp_path):
    """../shared/real: 20 opening excerpts of real reports, other provinces and templates (issue 11's set)."""
    import json

    score = load_scorer()
    results = []
    for raw in sorted((REAL / "raw").glob("*.txt")):
        doc = load(raw, load_settings(env={}))
        out = tmp_path / f"{raw.stem}.json"
        out.write_text(json.dumps(to_record(doc, extract(doc, split_sections(doc))).json(), ensure_ascii=False),
                       encoding="utf-8")
        results.append(score.score_one(REAL / "gold" / f"{raw.stem}.json", out))
    s = score.summarize(results)
    assert s["field_accuracy"] >= 0.80 and s["made_up_values"] == 0
    assert s["field_escape_rate"] <= 0.005 and s["indicator_escapes"] == 0
    assert s["indicator_row_f1"] >= 0.9175  # 0.0 before the rows were rebuilt from their cells (issue 11); 0.7447
    # before the tables printed as separate runs of names and values were paired by order; 0.7772 before the
    # rows between criterion prose (评价内容 分值 自评分 … 评价标准及依据) were read; 0.8081 before OCR'd text
    # run together was cut at page numbers, dates, repeated values and units only (18)


def test_a_frame_around_the_page_is_not_a_table_around_the_table():
    bgr, _xs, _ys = _ruled_page(merge_first_row=False)
    framed = bgr.copy()
    framed[20:24, 20:1180] = 0
    framed[876:880, 20:1180] = 0
    framed[20:880, 20:24] = 0
    framed[20:880, 1176:1180] = 0
    grids = find_grids(framed)
    assert len(grids) == 1 and len(grids[0].xs) == 5 and len(grids[0].ys) == 4
