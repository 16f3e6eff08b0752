"""`jixiao check`: values from any source re-checked against the report they claim to come from."""

from __future__ import annotations

import json

import pytest

from service.cli import cli
from service.record import Record
from tests.conftest import SAMPLES
from tests.scoring import GOLD

STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))


def gold_values(stem: str) -> tuple[dict, set[str]]:
    gold = json.loads((GOLD / f"{stem}.json").read_text(encoding="utf-8"))
    fields = {k: {"value": v["value"] if isinstance(v, dict) else v} for k, v in gold["fields"].items()}
    must = {k for k, v in gold["fields"].items() if isinstance(v, dict) and v.get("must_review")}
    return {"fields": fields}, must


def run_check(runner, tmp_path, stem: str, record: dict) -> dict:
    (tmp_path / "r.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(cli, ["check", str(SAMPLES / f"{stem}.txt"), "r.json", "--out", "checked"])
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "checked" / "r.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("stem", STEMS)
def test_gold_values_send_every_must_review_field_and_few_others(runner, tmp_path, stem):
    record, must = gold_values(stem)
    checked = run_check(runner, tmp_path, stem, record)["fields"]
    review = {k for k, f in checked.items() if f.get("status") == "review"}
    stated = {k for k, f in checked.items() if f["value"] is not None}
    assert must <= review
    assert len((review - must) & stated) <= 0.10 * len(stated - must) + 1  # few right values bother a reviewer


@pytest.mark.parametrize("stem", STEMS)
def test_gold_file_as_it_is_checks_with_every_must_review_field_sent(runner, tmp_path, stem):
    """The gold files give most fields as bare values ({"fiscal_year": 2023}); check takes them unchanged."""
    gold = json.loads((GOLD / f"{stem}.json").read_text(encoding="utf-8"))
    checked = run_check(runner, tmp_path, stem, gold)["fields"]
    must = {k for k, v in gold["fields"].items() if isinstance(v, dict) and v.get("must_review")}
    assert all("status" in f for f in checked.values() if f["value"] is not None)
    assert {k for k, f in checked.items() if f.get("status") == "review"} >= must


def test_values_only_record_gets_statuses_and_a_made_up_value_goes_to_review(runner, tmp_path):
    record = {"fields": {"fiscal_year": 2023, "assets_total": 807.744394, "vehicles": 7}}
    checked = run_check(runner, tmp_path, "000_8d720d4fc0889d24", record)["fields"]
    assert checked["fiscal_year"]["status"] == "accepted"
    assert checked["assets_total"]["status"] == "accepted"
    assert checked["vehicles"]["status"] == "review"


def test_zero_written_as_wu_after_its_label_is_grounded_but_a_blank_cell_is_not(runner, tmp_path):
    # 002: the 自评表 leaves 项目支出 blank, the text says 「（二）项目支出情况\n无」
    stem = "002_6ebd5ff7b055c059"
    checked = run_check(runner, tmp_path, stem, {"fields": {"expense_project": 0}})["fields"]["expense_project"]
    assert checked["grounding"] == "near_label" and "无" in checked["evidence"]["quote"]
    (tmp_path / "blank.txt").write_text("部门整体支出绩效自评报告\n项目支出：\n\n基本支出：12.5万元\n", encoding="utf-8")
    (tmp_path / "r.json").write_text(json.dumps({"fields": {"expense_project": 0}}), encoding="utf-8")
    result = runner.invoke(cli, ["check", "blank.txt", "r.json", "--out", "out"])
    assert result.exit_code == 0, result.output
    blank = json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))["fields"]["expense_project"]
    assert blank["status"] == "review" and blank["grounding"] == "not_found"


def test_statuses_are_the_same_with_the_evidence_quotes_deleted(runner, tmp_path):
    stem = "000_8d720d4fc0889d24"
    assert runner.invoke(cli, ["extract", str(SAMPLES / f"{stem}.txt"), "--out", "rec"]).exit_code == 0
    record = json.loads((tmp_path / "rec" / f"{stem}.json").read_text(encoding="utf-8"))
    bare = {"fields": {k: {"value": f["value"]} for k, f in record["fields"].items()}}
    with_quotes = run_check(runner, tmp_path, stem, record)["fields"]
    without = run_check(runner, tmp_path, stem, bare)["fields"]
    assert {k: f.get("status") for k, f in with_quotes.items()} == {k: f.get("status") for k, f in without.items()}


def test_quote_that_is_not_in_the_report_lowers_confidence(runner, tmp_path):
    record = {"fields": {"assets_total": {"value": 807.744394}}}
    quoted = {"fields": {"assets_total": {"value": 807.744394, "evidence": {"quote": "资产合计807.744394万元"}}}}
    plain = run_check(runner, tmp_path, "000_8d720d4fc0889d24", record)["fields"]["assets_total"]
    made_up = run_check(runner, tmp_path, "000_8d720d4fc0889d24", quoted)["fields"]["assets_total"]
    assert plain["status"] == "accepted"
    assert made_up["confidence"] < plain["confidence"] and "所附引文在原文中找不到" in made_up["issues"]


def test_made_up_value_is_sent_to_review_as_not_in_the_report(runner, tmp_path):
    record = {"fields": {"assets_total": {"value": 999.99}, "unit_name": {"value": "衡山县岭坡乡人民政府"}}}
    checked = run_check(runner, tmp_path, "000_8d720d4fc0889d24", record)["fields"]
    assert checked["assets_total"]["status"] == "review"
    assert "原文中找不到 999.99" in checked["assets_total"]["issues"]
    assert checked["unit_name"]["status"] == "accepted"
    ev = checked["unit_name"]["evidence"]
    text = (SAMPLES / "000_8d720d4fc0889d24.txt").read_text(encoding="utf-8")
    assert text[ev["start"]:ev["end"]] == ev["quote"] == "衡山县岭坡乡人民政府"


def test_value_in_yuan_is_found_in_its_wan_form(runner, tmp_path):
    (tmp_path / "yuan.txt").write_text("部门整体支出绩效自评报告\n2023年度政府采购支出128000元。\n", encoding="utf-8")

    def checked(wan):
        (tmp_path / "r.json").write_text(json.dumps({"fields": {"procurement_actual": wan}}), encoding="utf-8")
        assert runner.invoke(cli, ["check", "yuan.txt", "r.json", "--out", "out"]).exit_code == 0
        return json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))["fields"]["procurement_actual"]

    found = checked(12.8)  # 万元, as the record keeps money
    assert found["grounding"] in ("near_label", "exact") and found["evidence"]["quote"].endswith("128000元")
    assert checked(128000)["grounding"] == "not_found"  # the figure as printed is 12.8 万元, not 128000 万元


def test_unreadable_record_is_a_clear_error_and_the_others_are_checked(runner, tmp_path):
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "ok.json").write_text(json.dumps({"fields": {"fiscal_year": {"value": 2023}}}), encoding="utf-8")
    result = runner.invoke(cli, ["check", str(SAMPLES / "000_8d720d4fc0889d24.txt"), "bad.json", "ok.json",
                                 "--out", "checked"])
    assert result.exit_code == 1
    assert "bad.json" in result.output and "无法读取记录" in result.output
    assert (tmp_path / "checked" / "ok.json").exists() and not (tmp_path / "checked" / "bad.json").exists()


def test_eval_prints_the_figures_score_py_gives(runner, tmp_path):
    from tests.scoring import load_scorer

    result = runner.invoke(cli, ["eval", "--gold", str(GOLD), "--reports", str(SAMPLES), "--engine", "rules"])
    assert result.exit_code == 0, result.output
    figures = dict(pair.split("=") for pair in result.output.strip().splitlines()[-1].split())
    # score.py on the records `jixiao extract` writes for the same reports: eval measures what reviewers get
    extracted = runner.invoke(cli, ["extract", str(SAMPLES), "--engine", "rules", "--no-store", "--out",
                                    str(tmp_path / "out")])
    assert extracted.exit_code == 0, extracted.output
    scorer = load_scorer()
    summary = scorer.summarize([scorer.score_one(g, tmp_path / "out" / f"{g.stem}.json") for g in sorted(GOLD.glob("*.json"))])
    assert float(figures["accuracy"]) == pytest.approx(summary["field_accuracy"], abs=1e-4)
    assert float(figures["automation"]) == pytest.approx(summary["field_automation"], abs=1e-4)
    assert float(figures["escape_rate"]) == pytest.approx(summary["field_escape_rate"], abs=1e-4)
    assert int(figures["made_up"]) == summary["made_up_values"]


def test_per_field_threshold_from_settings_changes_routing(runner, tmp_path, monkeypatch):
    record = {"fields": {"assets_total": {"value": 807.744394}, "net_assets": {"value": 700.928026}}}
    default = run_check(runner, tmp_path, "000_8d720d4fc0889d24", record)["fields"]
    assert default["assets_total"]["status"] == "accepted"
    monkeypatch.setenv("JIXIAO_ACCEPT_AT_FIELDS", "assets_total=0.99")
    strict = run_check(runner, tmp_path, "000_8d720d4fc0889d24", record)["fields"]
    assert strict["assets_total"]["status"] == "review"
    assert strict["net_assets"]["status"] == "accepted"  # the other field keeps the default threshold


def gold_rows(stem: str) -> list[dict]:
    gold = json.loads((GOLD / f"{stem}.json").read_text(encoding="utf-8"))
    keys = ("table", "level1", "level2", "name", "target", "actual", "weight", "score")
    return [{k: r.get(k) for k in keys} for r in gold["indicators"] if not r.get("optional")]


def test_gold_rows_are_accepted_and_a_score_above_its_weight_goes_to_review(runner, tmp_path):
    stem = "000_8d720d4fc0889d24"
    rows = gold_rows(stem)
    assert all(r["status"] == "accepted" for r in run_check(runner, tmp_path, stem, {"indicators": rows})["indicators"])
    rows[0]["score"] = 6  # 实际财政供养人员数: 分值 5, 得分 5 in the report
    checked = run_check(runner, tmp_path, stem, {"fields": {}, "indicators": rows})["indicators"]
    assert checked[0]["status"] == "review"
    assert "得分 6 不在 0 到分值 5 之间" in checked[0]["issues"]
    assert "报告中该指标得分为 5，不是 6" in checked[0]["issues"]
    assert all(r["status"] == "accepted" for r in checked[1:])  # the broken sum is blamed on the wrong row
    ev = checked[0]["evidence"]
    text = (SAMPLES / f"{stem}.txt").read_text(encoding="utf-8")
    assert "实际财政供养人员数" in ev["quote"] and text[ev["start"]:ev["end"]] == ev["quote"]


def test_row_statuses_are_the_same_with_the_evidence_deleted(runner, tmp_path):
    stem = "000_8d720d4fc0889d24"
    assert runner.invoke(cli, ["extract", str(SAMPLES / f"{stem}.txt"), "--out", "rec"]).exit_code == 0
    record = json.loads((tmp_path / "rec" / f"{stem}.json").read_text(encoding="utf-8"))
    record["indicators"][3]["score"] = 4  # one row wrong, so that both statuses are seen
    keys = ("table", "level1", "level2", "name", "target", "actual", "weight", "score")
    bare = {"fields": {}, "indicators": [{k: r[k] for k in keys} for r in record["indicators"]]}
    with_evidence = run_check(runner, tmp_path, stem, record)["indicators"]
    without = run_check(runner, tmp_path, stem, bare)["indicators"]
    assert [r["status"] for r in with_evidence] == [r["status"] for r in without]
    assert {r["status"] for r in without} == {"accepted", "review"}


def test_made_up_row_and_row_left_out_go_to_review(runner, tmp_path):
    stem = "002_6ebd5ff7b055c059"
    rows = gold_rows(stem)
    made_up = {**rows[0], "name": "道路硬化里程", "target": "5公里", "actual": "5公里"}
    checked = run_check(runner, tmp_path, stem, {"indicators": [*rows, made_up]})["indicators"]
    assert checked[-1]["status"] == "review" and "原文中找不到指标“道路硬化里程”" in checked[-1]["issues"]
    assert all(r["status"] == "accepted" for r in checked[:-1])
    without_one = run_check(runner, tmp_path, stem, {"indicators": rows[1:]})["indicators"]
    assert all(r["status"] == "review" for r in without_one)  # nothing else tells which row is missing
    assert any("该表各项得分合计为 65，报告表中各项得分合计为 80" in i for i in without_one[0]["issues"])


def test_row_threshold_is_the_setting_for_the_key_indicators(runner, tmp_path, monkeypatch):
    stem = "002_6ebd5ff7b055c059"
    monkeypatch.setenv("JIXIAO_ACCEPT_AT_FIELDS", "indicators=0.99")
    checked = run_check(runner, tmp_path, stem, {"indicators": gold_rows(stem)})["indicators"]
    assert {r["status"] for r in checked} == {"review"}


def test_the_llm_second_look_sends_a_row_it_doubts_to_review(runner, tmp_path):
    from service.check.second_look import second_look
    from service.ingest import load
    from service.sections import split_sections
    from service.settings import load_settings

    stem = "000_8d720d4fc0889d24"
    rows = [{**r, "status": "accepted", "confidence": 0.95} for r in gold_rows(stem)]
    rows[0]["score"] = 6  # the model misread it; it trusted the row
    doc = load(SAMPLES / f"{stem}.txt")
    record = second_look(doc, split_sections(doc), Record(indicators=rows), load_settings()).json()
    assert record["indicators"][0]["status"] == "review"
    assert "报告中该指标得分为 5，不是 6" in record["indicators"][0]["issues"]
    assert all(r["status"] == "accepted" for r in record["indicators"][1:])


def test_check_prints_the_rows_that_need_review(runner, tmp_path):
    stem = "000_8d720d4fc0889d24"
    rows = gold_rows(stem)
    rows[0]["score"] = 6
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"fields": {}, "indicators": rows}, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(cli, ["check", str(SAMPLES / f"{stem}.txt"), str(path)])
    assert "评分表 1 行需复核" in result.output  # the table lists the row (wrapped to the terminal's width)


def _scan(confidence: float):
    from service.document import DocumentBuilder

    b = DocumentBuilder()
    b.start_page(1, ocr=True)
    b.add_ocr_line(1, "部门整体支出绩效自评报告", 0.99)
    b.add_ocr_line(1, "资产总额807.74万元。", confidence)
    return b.build("scan.png", "0" * 64, "image")


@pytest.mark.parametrize(("confidence", "status"), [(0.99, "accepted"), (0.62, "review")])
def test_a_value_read_from_a_poorly_recognised_scan_line_goes_to_review(confidence, status):
    from service.check.recheck import recheck
    from service.sections import split_sections

    doc = _scan(confidence)
    checked = recheck(doc, split_sections(doc), Record(fields={"assets_total": 807.74})).json()["fields"]["assets_total"]
    assert checked["status"] == status
    assert ("OCR 识别置信度较低（0.62）" in checked["issues"]) == (status == "review")
