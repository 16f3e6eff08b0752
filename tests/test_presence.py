"""Nothing lost: a fact the report states, or every report states, is never silently null (未提及)."""

from __future__ import annotations

import json
import logging

from service.check.presence import check_presence
from service.cli import cli
from service.record import Record
from service.review import items_from_record
from service.store.rows import queue_summary
from tests.conftest import SHARED
from tests.llm_server import FakeOpenAI
from tests.test_cli_llm import point_at

logging.getLogger("instructor").setLevel(logging.CRITICAL)

DEPARTMENT = ("某某县农业农村局2023年度部门整体支出绩效自评报告\n"
              "一、基本情况\n年末资产总额2,310.50万元，流动负债其他应付款1181.09万元。\n"
              "二、自评结论\n部门整体自评得分95分。\n")


def record(**values) -> dict:
    return {"fields": {k: {"value": v, "status": "accepted", "confidence": 0.9, "evidence": None, "issues": []}
                       for k, v in values.items()}, "indicators": []}


def presence(text: str, given: dict, **kw) -> dict:
    """The record JSON `check_presence` makes of the record JSON `given`."""
    return check_presence(text, Record.model_validate(given), **kw).json()


def test_a_field_the_text_names_next_to_a_number_is_not_found_not_unstated_and_its_place_is_shown():
    out = presence(DEPARTMENT, record(unit_name="某某县农业农村局", fiscal_year=2023, assets_total=2310.5,
                                            self_score=95))
    liabilities = out["fields"]["liabilities_total"]
    assert liabilities["status"] == "review" and liabilities["value"] is None
    assert liabilities["issues"][-1].startswith("未找到")
    ev = liabilities["evidence"]
    assert DEPARTMENT[ev["start"]:ev["end"]] == "负债其他应付款1181.09万元"
    assert not liabilities.get("candidates")  # another label stands between: the place is shown, no number


def test_a_number_right_after_its_label_is_proposed_and_one_of_a_compound_label_is_not():
    text = "某某县某某局2023年度部门整体支出绩效自评报告\n负债总额：1181.09万元。负债和净资产合计1692.13万元。\n"
    out = presence(text, record(unit_name="某某县某某局", fiscal_year=2023, self_score=95))
    proposal = out["fields"]["liabilities_total"]["candidates"][0]
    assert proposal["value"] == 1181.09 and "建议值" in proposal["note"]
    net = out["fields"]["net_assets"]
    assert net["status"] == "accepted" and net["value"] is None  # 负债和净资产合计 is neither of them


def test_a_field_the_text_gives_no_sign_of_is_accepted_as_unstated():
    out = presence(DEPARTMENT, record(unit_name="某某县农业农村局", fiscal_year=2023, self_score=95))
    for key in ("retirees", "vehicles", "sangong_reception_actual", "procurement_actual"):
        assert out["fields"][key]["status"] == "accepted" and out["fields"][key]["value"] is None


def test_unit_year_and_a_departments_score_are_expected_in_every_report():
    out = presence(DEPARTMENT, record())
    for key in ("unit_name", "fiscal_year", "self_score"):
        assert out["fields"][key]["status"] == "review", key
        assert out["fields"][key]["issues"][-1].startswith("未找到")
    # the score is stated (得分95分): its place is shown
    ev = out["fields"]["self_score"]["evidence"]
    assert "95" in DEPARTMENT[ev["start"]:ev["end"]]


def test_a_project_documents_total_is_not_expected_as_the_departments_score():
    project = ("项目支出绩效自评表（2023年度）\n项目名称 | 农村道路养护 |\n实施单位 | 某某县交通运输局 |\n"
               "三级指标 | 分值 | 得分 |\n养护里程 | 100 | 96 |\n总分 | 100 | 96 |\n")
    rows = record(unit_name="某某县交通运输局", fiscal_year=2023)
    rows["indicators"] = [{"table": "农村道路养护", "name": "养护里程", "weight": 100, "score": 96}]
    out = presence(project, rows)
    assert out["fields"]["self_score"]["status"] == "accepted"
    assert out["fields"]["self_score"]["value"] is None


def test_a_money_amount_is_no_sign_of_a_count_and_traditional_labels_are_read():
    text = "新田縣教育局2021年部門整體支出績效自評報告\n公務用車購置及運行費0萬元。\n負債總額35.2萬元。\n"
    out = presence(text, record(unit_name="新田縣教育局", fiscal_year=2021, self_score=90))
    assert out["fields"]["vehicles"]["status"] == "accepted"  # 0萬元 is money, not a number of cars
    assert out["fields"]["liabilities_total"]["status"] == "review"


def test_a_model_that_answers_nothing_leaves_nothing_trusted_as_unstated(runner, tmp_path, monkeypatch):
    """The LLM engine returning valid but empty answers: what the rules extractor reads is proposed for
    review, the expected facts are 未找到, and no stated fact is accepted as null."""
    source = (SHARED / "reports" / "002_6ebd5ff7b055c059.txt").read_text(encoding="utf-8")
    (tmp_path / "r.txt").write_text(source, encoding="utf-8")

    def nothing(body: dict) -> dict:
        name = body["tools"][0]["function"]["name"]
        return {"SectionFacts": {"facts": []}, "ScoreTablesModel": {"tables": []},
                "ListsModel": {"problems": [], "measures": []}}[name]

    with FakeOpenAI(nothing) as server:
        point_at(server, monkeypatch)
        result = runner.invoke(cli, ["extract", "r.txt", "--engine", "llm", "--out", "out"])
    assert result.exit_code == 0, result.output
    out = json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))
    rules = runner.invoke(cli, ["extract", "r.txt", "--engine", "rules", "--out", "rules"])
    assert rules.exit_code == 0, rules.output
    by_rules = json.loads((tmp_path / "rules" / "r.json").read_text(encoding="utf-8"))

    stated = [k for k, f in by_rules["fields"].items() if f["value"] is not None]
    assert len(stated) >= 10
    for key in stated:  # each proposed for review, none silently null
        assert out["fields"][key]["status"] == "review", key
    trusted_rows = [r for r in by_rules["indicators"] if r["status"] == "accepted"]
    assert len(trusted_rows) >= 9
    assert len(out["indicators"]) >= len(trusted_rows)
    assert all(r["status"] == "review" for r in out["indicators"])
    items = [i.row() for i in items_from_record(Record.model_validate(out))]
    assert queue_summary(items)["flagged"] >= len(stated) + len(trusted_rows)
    accepted_nulls = [i["item"] for i in items if i["kind"] == "field" and i["value"] is None
                      and i["status"] == "accepted"]
    assert not set(accepted_nulls) & {"field:unit_name", "field:fiscal_year", "field:self_score"}


def test_a_fact_named_on_a_scanned_line_says_the_ocr_may_have_lost_its_number():
    out = presence(DEPARTMENT, record(unit_name="某某县农业农村局", fiscal_year=2023, self_score=95),
                         ocr_confidence=lambda start, end: 0.62)
    issues = out["fields"]["liabilities_total"]["issues"]
    assert issues[0].startswith("未找到") and "OCR" in issues[1] and "0.62" in issues[1]
