"""Layouts the five samples do not have: tab-separated tables, full-width digits, project lists and
sentences, a project's tables named above them, the fullest unit name. The eight reports in
tests/data/new_layouts were written by us (see its README), not received from a unit."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.ingest import load
from service.settings import load_settings
from tests.scoring import score_records
from tests.test_rules import record_of_text, rules_record, values

NEW = Path(__file__).resolve().parent / "data" / "new_layouts"
STEMS = sorted(p.stem for p in NEW.glob("*.txt"))


@pytest.fixture(scope="module")
def records():
    settings = load_settings(env={})
    return {stem: rules_record(load(NEW / f"{stem}.txt", settings)) for stem in STEMS}


def test_new_layouts_let_no_wrong_value_through_unseen(records, tmp_path):
    summary, report = score_records(records, tmp_path, gold=NEW / "gold")
    assert summary["field_escape_rate"] == 0, report
    assert summary["made_up_values"] == 0, report
    assert summary["indicator_escapes"] == 0, report
    assert summary["projects"]["escape"] == 0, report  # a must_review field trusted would be an escape too


def test_new_layouts_are_mostly_read(records, tmp_path):
    summary, report = score_records(records, tmp_path, gold=NEW / "gold")
    assert summary["field_accuracy"] >= 0.83, report
    assert summary["indicator_row_f1"] >= 0.85, report
    assert summary["projects"]["correct"] >= 12, report  # of 13


def test_tab_separated_score_table_with_merged_cells_left_blank_keeps_its_columns(records):
    rows = records["r_b1"]["indicators"]
    assert len(rows) == 14
    second = rows[1]  # its 一级/二级指标 cells are blank: merged with the row above
    assert (second["level1"], second["level2"]) == ("产出指标", "数量指标")
    assert (second["weight"], second["score"]) == (5, 5) and second["target"] == "≥1.2万人"


def test_full_width_numbers_are_read_as_written():
    _doc, record = record_of_text("一、“三公”经费情况\n2024年“三公”经费预算24.00万元，决算１９．３５万元，"
                                  "其中公务接待费３．７３万元，公务用车运行维护费１５．６２万元，因公出国（境）费0万元。\n")
    got = values(record)
    assert got["sangong_actual"] == 19.35 and got["sangong_budget"] == 24
    assert got["sangong_reception_actual"] == 3.73
    assert record["fields"]["sangong_actual"]["evidence"]["quote"].endswith("19.35万元")


def test_a_projects_tables_named_on_the_line_above_are_the_projects_not_the_departments(records):
    rows = records["r_b4"]["indicators"]
    assert sum(r["table"] == "森林防火专项经费" for r in rows) == 9
    assert sum(r["table"] == "整体" for r in rows) == 12
    (fire,) = [p for p in records["r_b4"]["projects"] if p["name"] == "森林防火专项经费"]
    assert (fire["budget_full_year"], fire["spending_actual"], fire["score"]) == (135.6, 128.82, 88)
    assert fire["status"] == "accepted"  # its money table and its score table add up together
    fields = records["r_b4"]["fields"]
    assert fields["budget_initial"]["value"] == 1126.4  # the department's, not the project's 120


def test_a_project_list_table_gives_one_project_per_row_and_no_department_figures():
    _doc, record = record_of_text(
        "三、项目支出情况\n\n序号\t项目名称\t年初预算数\t全年预算数\t实际支出\t执行率\t自评得分\n"
        "1\t森林防火专项经费\t120\t135.6\t128.82\t95%\t88\n2\t林业有害生物防治经费\t60\t72.5\t72.5\t100%\t—\n\n")
    projects = {p["name"]: p for p in record["projects"]}
    assert set(projects) == {"森林防火专项经费", "林业有害生物防治经费"}
    assert projects["林业有害生物防治经费"]["score"] is None  # "—": not stated
    assert record["fields"].get("budget_initial", {}).get("value") is None


@pytest.mark.parametrize("text", [
    "（一）农村人居环境整治项目\n该项目年初预算80.00万元，全年预算310.50万元，实际支出298.17万元，预算执行率96.03%，项目自评得分91分。\n",
    "1.农村人居环境整治项目：年初预算80.00万元，全年预算310.50万元，实际支出298.17万元，执行率96.03%，得分91分。\n",
    "农村人居环境整治项目年初预算80.00万元，全年预算310.50万元，实际支出298.17万元，执行率96.03%，项目自评得分91分。\n",
])
def test_a_project_told_in_a_sentence_is_read_and_trusted_when_its_rate_fits(text):
    _doc, record = record_of_text("四、重点项目绩效情况\n" + text)
    (p,) = record["projects"]
    assert p["name"] == "农村人居环境整治项目"
    assert (p["budget_initial"], p["budget_full_year"], p["spending_actual"], p["execution_rate"], p["score"]) == \
        (80, 310.5, 298.17, 96.03, 91)
    assert p["status"] == "accepted"
    assert record["fields"].get("self_score", {}).get("value") != 91  # a project's score is not the department's


def test_a_project_sentence_whose_rate_does_not_fit_goes_to_review():
    _doc, record = record_of_text("四、重点项目绩效情况\n1.乡村道路养护项目：全年预算100万元，实际支出90万元，执行率99%。\n")
    (p,) = record["projects"]
    assert p["status"] == "review" and p["issues"]


def test_the_fullest_unit_name_is_taken_but_not_a_phrase_like_quan_xian():
    _doc, record = record_of_text("白沙坪镇2023年度部门整体支出绩效自评报告\n\n一、基本情况\n"
                                  "桐江县白沙坪镇人民政府是县财政一级预算单位。全县白沙坪镇人民政府所辖14个村。\n\n"
                                  "白沙坪镇人民政府\n")
    assert values(record)["unit_name"] == "桐江县白沙坪镇人民政府"
    _doc, record = record_of_text("白沙坪镇2023年度部门整体支出绩效自评报告\n\n一、基本情况\n"
                                  "全县白沙坪镇人民政府所辖14个村。\n")
    assert values(record).get("unit_name") != "全县白沙坪镇人民政府"
