"""Score tables whose names and values a PDF printed in separate runs: paired by order, only where the table
adds up, every row in review (service/ingest/stream_runs.py; the reports are in tests/data/separate_runs)."""

from __future__ import annotations

from pathlib import Path

from service.extract.rules.engine import extract
from service.ingest import load_bytes
from service.record import to_record
from service.sections import split_sections
from service.settings import load_settings

DATA = Path(__file__).parent / "data" / "separate_runs"
PAIRED = "分处两段，按顺序对应"


def _record(text: str) -> dict:
    doc = load_bytes(text.encode("utf-8"), "runs.txt", load_settings(env={}))
    return to_record(doc, extract(doc, split_sections(doc))).json()


def _report(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _rows(record: dict) -> list[tuple]:
    return [(r["name"], r["target"], r["actual"], r["weight"], r["score"]) for r in record["indicators"]]


def test_names_and_values_in_separate_runs_are_paired_by_order_and_sent_to_review():
    record = _record(_report("six_rows.txt"))
    assert _rows(record) == [
        ("助餐服务覆盖人数", ">=500人", "532人", 15, 15), ("助餐点建设数量", ">=12个", "11个", 15, 14),
        ("餐食抽检合格率", "=100%", "100%", 20, 20), ("补贴发放及时率", "按月", "按月", 20, 20),
        ("老年人就餐便利度提升", ">=85%", "91%", 10, 10), ("老年人满意度", ">=90%", "88%", 10, 9)]
    for row in record["indicators"]:
        assert row["table"] == "青溪镇老年助餐服务补贴"  # the name printed before its 项目名称 label
        assert row["status"] == "review" and any(PAIRED in i for i in row["issues"])


def test_level_labels_are_left_empty_when_they_do_not_say_which_row_is_whose():
    record = _record(_report("six_rows.txt"))  # two rows under one 数量指标: five 二级指标 words, six rows
    assert {(r["level1"], r["level2"]) for r in record["indicators"]} == {(None, None)}


def test_a_name_broken_by_the_value_run_is_joined_and_the_levels_fill_where_unambiguous():
    record = _record(_report("broken_name.txt"))
    got = [(r["level1"], r["level2"], r["name"], r["weight"], r["score"]) for r in record["indicators"]]
    assert got == [("产出指标", "数量指标", "健身器材更新完成率", 30, 30), ("产出指标", "质量指标", "器材验收合格率", 20, 18),
                   ("产出指标", "时效指标", "维护响应及时性", 20, 20),
                   ("满意度指标", "服务对象满意度指标", "居民健身满意度", 20, 20)]
    assert all(r["status"] == "review" for r in record["indicators"])


def test_a_paired_rows_evidence_points_at_its_own_name_and_values():
    text = _report("broken_name.txt")
    row = _record(text)["indicators"][3]
    cells = row["evidence"]["cells"]
    assert text[cells["name"]["start"]:cells["name"]["end"]] == "居民健身满意度"
    assert text[cells["target"]["start"]:cells["target"]["end"]] == ">=90%"
    assert text[cells["score"]["start"]:cells["score"]["end"]] == "20"


def test_separate_runs_whose_sums_do_not_hold_give_no_rows():
    record = _record(_report("sums_off.txt"))  # 40 + 28 + 20 + 9 (预算执行率) is 97, the 总分 says 95
    assert record["indicators"] == []
    (project,) = [p for p in record["projects"] if p["name"] == "农村饮水水质检测"]
    assert project["status"] == "review"


def test_separate_runs_with_a_name_too_few_give_no_rows():
    record = _record(_report("broken_name.txt").replace("器材验收合格率 ", ""))
    assert record["indicators"] == []


def test_the_total_read_from_the_end_of_the_value_run_is_the_projects_score_in_review():
    record = _record(_report("six_rows.txt"))
    (project,) = [p for p in record["projects"] if p["name"] == "青溪镇老年助餐服务补贴"]
    assert project["score"] == 97 and project["status"] == "review"
    assert any(PAIRED in i for i in project["issues"])
