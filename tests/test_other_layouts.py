"""Reports written in layouts other than the five samples: every stated fact found, nothing made up."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.extract.rules.engine import extract
from service.ingest import load
from service.record import to_record
from service.sections import split_sections
from tests.conftest import SAMPLES

DATA = Path(__file__).parent / "data" / "other_layouts"

NARRATIVE_ONLY = {
    "unit_name": "湘潭县某某镇人民政府", "fiscal_year": 2023, "report_date": "2024-03-15", "self_score": 92.5,
    "rating": "优", "staff_authorized": 45, "staff_actual": 42, "retirees": 12, "vehicles": 2,
    "budget_initial": 1200, "budget_full_year": 1523.45, "spending_actual": 1498.12, "execution_rate": 98.33,
    "income_total": 1523.45, "income_general_budget": 1420.30, "income_gov_fund": 80.15, "income_other": 23,
    "expense_total": 1498.12, "expense_basic": 856.34, "expense_project": 641.78, "expense_personnel": 712.56,
    "expense_public": 143.78, "sangong_budget": 12, "sangong_actual": 9.85, "sangong_overseas_actual": 0,
    "sangong_vehicle_actual": 6.2, "sangong_reception_actual": 3.65, "procurement_actual": 235.6,
    "assets_total": 2345.67, "liabilities_total": 456.78, "net_assets": 1888.89,
}


def _record(name: str) -> dict:
    doc = load(DATA / name)
    return to_record(doc, extract(doc, split_sections(doc))).json()


@pytest.fixture(scope="module")
def narrative_only():
    return _record("narrative_only.txt")


@pytest.mark.parametrize("key", sorted(NARRATIVE_ONLY))
def test_narrative_only_report_states_every_fact_once_and_it_is_read(narrative_only, key):
    field = narrative_only["fields"].get(key)
    assert field is not None, f"{key} not found"
    want = NARRATIVE_ONLY[key]
    assert field["value"] == pytest.approx(want) if isinstance(want, float | int) else field["value"] == want
    assert field["status"] == "accepted", field["issues"]


def test_narrative_only_report_lists_problems_and_measures(narrative_only):
    assert narrative_only["problems"]["value"] == ["预算编制不够精准，年中追加较多。", "绩效目标设置不够细化。"]
    assert narrative_only["measures"]["value"] == ["提高预算编制的准确性。", "细化量化绩效目标。"]


LABEL_VALUE_TABLE = {"unit_name": "某某县文化馆", "fiscal_year": 2023, "income_total": 356.2,
                     "income_general_budget": 340, "income_other": 16.2, "expense_total": 350.1,
                     "expense_basic": 210.1, "expense_project": 140}


def test_two_column_label_value_table_is_read_with_the_value_as_evidence_and_its_label_as_context():
    record = _record("label_value_table.txt")
    got = {k: v["value"] for k, v in record["fields"].items()}
    for key, want in LABEL_VALUE_TABLE.items():
        assert got.get(key) == pytest.approx(want) if isinstance(want, float | int) else got.get(key) == want, key
    ev = record["fields"]["expense_basic"]["evidence"]
    text = load(DATA / "label_value_table.txt").text
    assert ev["quote"] == "210.10"
    assert [text[c["start"]:c["end"]] for c in ev["context"]] == ["基本支出"]
    assert "budget_initial" not in got and "self_score" not in got


def _run_together_version(stem: str) -> tuple[str, str]:
    """A sample whose score table is rewritten as one line of space-separated cells."""
    text = (SAMPLES / f"{stem}.txt").read_text(encoding="utf-8")
    doc = load(SAMPLES / f"{stem}.txt")
    table = next(t for t in doc.tables if any(c.text.strip() == "一级指标" for r in t.rows for c in r))
    first = next(i for i, r in enumerate(table.rows) if any(c.text.strip() == "一级指标" for c in r))
    head = table.rows[first][0].start
    cells = [c.text.replace("\n", "").replace(" ", "") for r in table.rows[first:] for c in r if c.text.strip()]
    return text, text[:head].rstrip("\t") + " ".join(cells) + "\n\n" + text[table.end:]


def test_score_table_run_together_on_one_line_gives_the_same_rows():
    text, flattened = _run_together_version("002_6ebd5ff7b055c059")
    assert "\t一级指标" not in flattened and " 一级指标 二级指标 三级指标 " in flattened

    def rows(t):
        from service.ingest import load_bytes

        doc = load_bytes(t.encode("utf-8"), "x.txt")
        rec = to_record(doc, extract(doc, split_sections(doc))).json()
        return rec, [(r["level1"], r["level2"], r["name"], r["target"], r["actual"], r["weight"], r["score"],
                      r["remark"]) for r in rec["indicators"]]

    original, want = rows(text)
    record, got = rows(flattened)
    assert got == want and len(got) == 9
    assert all(r["status"] == "accepted" for r in record["indicators"])  # they add up to the stated total
    assert record["fields"]["self_score"]["value"] == 90


def test_header_with_formula_suffixes_chinese_numeral_date_and_rating_wording():
    from service.ingest import load_bytes

    text = ("某某县某某局2023年度部门整体支出绩效自评报告\n一、自评结果\n"
            "经综合评价，我局自评综合得分为92.5分，评价结果为优秀。\n二、资金情况（单位：万元）\n"
            "| 年初预算数 | 全年预算数（A） | 全年执行数（B） | 分值 | 执行率（B/A） | 得分 |\n"
            "| 100 | 120 | 110 | 10 | 91.67% | 9.17 |\n\n某某县某某局\n二〇二四年三月十五日\n")
    doc = load_bytes(text.encode("utf-8"), "x.txt")
    got = {k: v.value for k, v in extract(doc, split_sections(doc)).fields.items()}
    assert got["report_date"] == "2024-03-15"
    assert got["self_score"] == 92.5 and got["rating"] == "优秀"
    assert (got["budget_initial"], got["budget_full_year"], got["spending_actual"]) == (100, 120, 110)
    assert (got["execution_rate"], got["execution_weight"], got["execution_score"]) == (91.67, 10, 9.17)


def test_money_table_without_a_stated_unit_is_not_read_as_wan():
    from service.ingest import load_bytes

    text = ("某某县某某局2023年度部门整体支出绩效自评报告\n二、资金情况\n"
            "| 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分 |\n"
            "| 100 | 120 | 110 | 10 | 91.67% | 9.17 |\n")
    doc = load_bytes(text.encode("utf-8"), "x.txt")
    got = {k: v.value for k, v in extract(doc, split_sections(doc)).fields.items()}
    assert "budget_initial" not in got and "spending_actual" not in got
    assert got["execution_weight"] == 10
