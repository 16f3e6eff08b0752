"""Score tables with criterion prose between their rows (评价内容 分值 自评分 复核分 评价标准及依据): rows read as
a name and two numbers, every row in review, kept where the table adds up or, cut short, with the reason that
its sums could not be checked (service/ingest/stream_criteria.py; the reports are in tests/data/criteria_rows)."""

from __future__ import annotations

from pathlib import Path

from service.extract.rules.engine import extract
from service.ingest import load_bytes
from service.record import to_record
from service.sections import split_sections
from service.settings import load_settings

DATA = Path(__file__).parent / "data" / "criteria_rows"
BETWEEN = "行间夹有评价标准文字"
UNCHECKED = "合计无法核对"


def _record(text: str) -> dict:
    doc = load_bytes(text.encode("utf-8"), "criteria.txt", load_settings(env={}))
    return to_record(doc, extract(doc, split_sections(doc))).json()


def _report(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _rows(record: dict) -> list[tuple]:
    return [(r["level1"], r["name"], r["weight"], r["score"]) for r in record["indicators"]]


def test_rows_between_criterion_prose_are_read_and_sent_to_review_when_the_table_adds_up():
    record = _record(_report("adds_up.txt"))
    assert _rows(record) == [
        ("项目决策", "立项依据", 4, 4), ("项目决策", "绩效目标", 6, 5), ("项目管理", "资金到位", 10, 10),
        ("项目管理", "资金使用", 10, 8), ("项目管理", "制度执行", 10, 9), ("项目绩效", "路灯修复数量", 20, 20),
        ("项目绩效", "维修及时性", 20, 18), ("项目绩效", "群众满意度", 20, 19)]
    for row in record["indicators"]:
        assert row["status"] == "review" and any(BETWEEN in i for i in row["issues"])
        assert not any(UNCHECKED in i for i in row["issues"])


def test_a_project_name_printed_after_the_labels_beside_its_label_names_the_table():
    record = _record(_report("adds_up.txt"))  # 项目名称 项目主管单 位 白沙县城市管理局 … 白沙县城区路灯维修改造项目 项目属性
    assert {r["table"] for r in record["indicators"]} == {"白沙县城区路灯维修改造项目"}
    (project,) = record["projects"]
    assert project["name"] == "白沙县城区路灯维修改造项目" and project["score"] == 93


def test_rows_that_do_not_make_the_stated_total_are_not_given():
    record = _record(_report("adds_up.txt").replace("合计 100 93", "合计 100 95"))
    assert record["indicators"] == []
    (project,) = record["projects"]
    assert project["score"] == 95 and project["status"] == "review"


def test_numbers_inside_criterion_prose_never_become_rows():
    record = _record(_report("prose_numbers.txt"))  # 满分 5 3 分以下, 按 10 8 分档, 4 0.5 分为…, 复核分 5 and 12
    assert _rows(record) == [
        (None, "前期论证", 5, 5), (None, "资金管理", 15, 12), (None, "目标申报", 5, 4), (None, "清淤长度", 40, 38),
        (None, "灌溉受益面积", 20, 19), (None, "农户满意度", 15, 14)]
    assert all(r["status"] == "review" for r in record["indicators"])


def test_a_table_cut_short_keeps_its_rows_in_review_saying_the_sums_could_not_be_checked():
    record = _record(_report("partial.txt"))  # the text ends in the 评分标准 of its fourth row
    assert _rows(record) == [("项目决策", "决策程序", 2, 2), ("项目决策", "论证充分", 2, 1.5),
                             ("项目管理", "资金拨付", 4, 4), ("项目管理", "档案管理", 4, 3)]
    for row in record["indicators"]:
        assert row["status"] == "review" and any(UNCHECKED in i for i in row["issues"])
        assert row["table"] == "临江区社区图书角建设项目"
    (project,) = record["projects"]
    assert project["score"] == 88 and project["status"] == "review"  # 自评总分 above the header
    assert any(UNCHECKED in i for i in project["issues"])
    assert not any("不等于 100" in i for i in project["issues"])  # the rows read are not the whole table


def test_a_table_cut_short_whose_group_points_do_not_divide_its_rows_gives_no_rows():
    record = _record(_report("partial.txt").replace("项目决策 4 分", "项目决策 3 分"))  # 2 + 2 is no 3
    assert record["indicators"] == []


def test_a_criteria_rows_evidence_points_at_its_own_name_and_numbers():
    text = _report("prose_numbers.txt")
    row = _record(text)["indicators"][1]
    cells = row["evidence"]["cells"]
    assert [text[cells[k]["start"]:cells[k]["end"]] for k in ("name", "weight", "score")] == ["资金管理", "15", "12"]


def test_a_grid_headed_by_evaluation_content_and_its_points_gives_its_rows():
    text = ("某某县交通运输局2023年度项目支出绩效自评表\n项目名称\t农村公路养护项目\n"
            "评价内容\t分值\t自评分\t复核分\t评价标准及依据\n"
            "养护里程完成率\t30\t30\t\t完成率100%得满分\n"
            "路面完好率\t30\t27\t\t每低1个百分点扣1分\n"
            "群众满意度\t40\t38\t\t满意度95%\n"
            "合计\t100\t95\t\t\n")
    doc = load_bytes(text.encode("utf-8"), "grid.txt", load_settings(env={}))
    record = to_record(doc, extract(doc, split_sections(doc))).json()
    assert [(r["table"], r["name"], r["weight"], r["score"]) for r in record["indicators"]] == [
        ("农村公路养护项目", "养护里程完成率", 30, 30), ("农村公路养护项目", "路面完好率", 30, 27),
        ("农村公路养护项目", "群众满意度", 40, 38)]
    assert record["projects"][0]["score"] == 95
