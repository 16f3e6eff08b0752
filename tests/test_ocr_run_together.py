"""A project's 自评表 as document-sharing sites serve it: the OCR of a scanned page with every cell run
together, each page's text numbered 1、 2、 3、, a number printed as letters (IO for 10), a 分值 glued to
the 指标值 after it (415万元15万元, 52023年12月完成).

The report in tests/data/ocr_run_together is written for these tests, in the 决策/过程/产出/效益
framework with its 二级指标 named without 指标 (投入管理, 财务管理).
"""

from __future__ import annotations

from pathlib import Path

from tests.test_rules import record_of_text, values

SHARED_SITE = (Path(__file__).parent / "data" / "ocr_run_together" / "shared_site.txt").read_text(encoding="utf-8")

ROWS = [  # (一级, 二级, 三级, 指标值, 完成值, 分值, 得分) as the scanned table prints them
    ("项目决策", None, "项目目标明确性", "一", "目标明确、内容细化", 4, 4),
    ("项目决策", None, "资金测算合理性", "一", "按照标准测算", 3, 3),
    ("项目决策", None, "可行性", None, "实际用餐需求", 3, 3),
    ("项目管理", "投入管理", "预算执行率", "一", "98%", 10, 9),
    ("项目管理", "财务管理", "资金使用合规性", "一", "专款专用", 10, 10),
    ("项目产出", "数量指标", "受益学生人数", "1250人", "1250人", 15, 10),
    ("项目产出", "质量指标", "餐食抽检合格率", "100%", "100%", 10, 10),
    ("项目产出", "时效指标", "补助发放时间", "2023年12月完成", "2023年12月完成", 5, 5),
    ("项目产出", "成本指标", "每生每日补助标准", "4元", "4元", 5, 5),
    ("项目产出", "成本指标", "配餐设备维护费", "3.6万元", "3.6万元", 5, 5),
    ("项目效益", "社会效益指标", "学生营养状况改善", "明显改善", "明显改善", 20, 19),
    ("项目效益", "满意度指标", "家长满意度", "≥90%", "95%", 10, 10),
]


def _rows(record):
    return [(r["level1"], r["level2"], r["name"], r["target"], r["actual"], r["weight"], r["score"])
            for r in record["indicators"]]


def test_an_ocr_page_with_its_cells_run_together_gives_every_row_of_the_table():
    _doc, record = record_of_text(SHARED_SITE)
    assert _rows(record) == ROWS
    assert {r["table"] for r in record["indicators"]} == {"学生营养餐补助"}


def test_every_row_cut_out_of_run_together_text_goes_to_review_saying_how_it_was_read():
    _doc, record = record_of_text(SHARED_SITE)
    rows = {r["name"]: r for r in record["indicators"]}
    assert all(r["status"] == "review" and any("连写" in i for i in r["issues"]) for r in rows.values())
    assert any("「IO」按数字 10 读取" in i for i in rows["受益学生人数"]["issues"])
    assert any("指标值单元格缺失" in i for i in rows["可行性"]["issues"])


def test_a_misread_number_points_at_the_characters_it_was_read_from():
    doc, record = record_of_text(SHARED_SITE)
    row = next(r for r in record["indicators"] if r["name"] == "受益学生人数")
    cell = row["evidence"]["cells"]["score"]
    assert doc.text[cell["start"]:cell["end"]] == "IO"


def test_a_sharing_sites_page_numbers_are_not_read_into_the_cells():
    _doc, record = record_of_text(SHARED_SITE)
    assert not any(r["name"].startswith(("2、", "3、", "、")) for r in record["indicators"])
    assert next(r for r in record["indicators"] if r["name"] == "学生营养状况改善")["level2"] == "社会效益指标"


def test_a_projects_score_stated_above_its_table_is_the_projects_and_not_the_departments():
    _doc, record = record_of_text(SHARED_SITE)
    (project,) = record["projects"]
    assert (project["name"], project["score"]) == ("学生营养餐补助", 93)
    assert values(record).get("self_score") is None
    assert values(record)["unit_name"] == "某某县第三小学"  # 实施单位, up to the 自评得分 run into it


def test_a_projects_stated_score_the_rows_do_not_add_up_to_goes_to_review_with_the_sums():
    _doc, record = record_of_text(SHARED_SITE.replace("自评得分93", "自评得分98"))
    (project,) = record["projects"]
    assert project["score"] == 98
    assert project["status"] == "review"
    assert any("93" in i and "98" in i for i in project["issues"])


def test_the_departments_score_stated_before_a_project_table_is_not_the_projects():
    text = SHARED_SITE.replace("项目名称学生营养餐补助", "部门整体自评得分91项目名称学生营养餐补助").replace("自评得分93", "")
    _doc, record = record_of_text(text)
    (project,) = record["projects"]
    assert project["score"] is None
