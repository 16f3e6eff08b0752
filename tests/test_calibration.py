"""Routing on perturbed extractions of the five samples: injected mistakes reach review, right values mostly don't."""

from __future__ import annotations

import json

import pytest

from service.check.calibration import (
    Tally,
    calibrate,
    calibrate_rows_on_grid,
    drop_digit,
    mistakes,
    one_row_wrong,
    row_left_out,
    shifted_rows,
    transpose_digits,
)
from service.ingest import load
from service.sections import split_sections
from tests.conftest import SAMPLES
from tests.scoring import GOLD

pytestmark = pytest.mark.slow  # mistakes injected into every gold value of the five samples, each re-checked


def _golds():
    for path in sorted(GOLD.glob("*.json")):
        yield load(SAMPLES / f"{path.stem}.txt"), json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def routing():
    tallies: dict[str, Tally] = {}
    correct, correct_rows = Tally(), Tally()
    for doc, gold in _golds():
        calibrate(doc, split_sections(doc), gold, tallies, correct, correct_rows)
    return tallies, correct, correct_rows


@pytest.fixture(scope="module")
def grid_routing():
    """Row routing as if the rules extractor read none of the rows: the report's table grid alone."""
    tallies: dict[str, Tally] = {}
    correct_rows = Tally()
    for doc, gold in _golds():
        calibrate_rows_on_grid(doc, gold, tallies, correct_rows)
    return tallies, correct_rows


def test_at_least_95_percent_of_injected_mistakes_go_to_review(routing):
    tallies = routing[0]
    caught = sum(t.caught for t in tallies.values())
    total = sum(t.total for t in tallies.values())
    assert total > 300 and caught / total >= 0.95


@pytest.mark.parametrize("kind", ["made-up value", "元 read as 万元"])
def test_made_up_values_and_unit_mistakes_almost_always_go_to_review(routing, kind):
    tally = routing[0][kind]
    assert tally.total > 0 and tally.share >= 0.99, tally.escapes


def test_at_most_10_percent_of_correct_values_bother_a_reviewer(routing):
    correct = routing[1]
    assert correct.total > 50 and 1 - correct.share <= 0.10, correct.escapes


def test_at_most_10_percent_of_correct_score_table_rows_bother_a_reviewer(routing):
    correct_rows = routing[2]
    assert correct_rows.total > 40 and 1 - correct_rows.share <= 0.10, correct_rows.escapes


def test_a_row_shifted_by_one_goes_to_review(routing):
    tally = routing[0]["score-table rows shifted by one"]
    assert tally.total > 30 and tally.share >= 0.95, tally.escapes


@pytest.mark.parametrize("kind", ["score above its weight", "row's score read as its weight", "row score digit dropped"])
def test_a_row_with_a_wrong_score_goes_to_review(routing, kind):
    tally = routing[0][kind]
    assert tally.total > 10 and tally.share >= 0.95, tally.escapes


def test_a_row_left_out_sends_its_table_to_review(routing):
    tally = routing[0]["score-table row left out"]
    assert tally.total > 30 and tally.share >= 0.95, tally.escapes


@pytest.mark.parametrize("kind", ["score-table rows shifted by one", "score above its weight",
                                  "row's score read as its weight", "row score digit dropped"])
def test_without_a_second_opinion_the_table_grid_still_catches_wrong_rows(grid_routing, kind):
    tally = grid_routing[0][kind]
    assert tally.total > 10 and tally.share >= 0.95, tally.escapes


def test_without_a_second_opinion_correct_rows_are_still_accepted(grid_routing):
    correct_rows = grid_routing[1]
    assert correct_rows.total > 40 and 1 - correct_rows.share <= 0.10, correct_rows.escapes


def test_mistake_generators_change_the_value_the_way_a_model_would():
    import random

    rng = random.Random(1)
    assert drop_digit(2946.602828, rng) != 2946.602828
    assert sorted(str(transpose_digits(1809.48, rng))) == sorted("1809.48")
    kinds = {k for k, _, _ in mistakes({"fields": {"budget_initial": {"value": 1045.9},
                                                   "budget_full_year": {"value": 2946.602828},
                                                   "assets_total": {"value": None}}})}
    assert {"年初/全年 swapped", "made-up value", "元 read as 万元"} <= kinds


def _row(table, name, target, weight, score):
    return {"table": table, "level1": "产出指标", "level2": "数量指标", "name": name, "target": target,
            "actual": target, "weight": weight, "score": score}


def test_row_mistake_generators_stay_within_one_table():
    rows = [_row("整体", "甲", "1人", 5, 5), _row("整体", "乙", "2人", 10, 8), _row("整体", "丙", "3人", 10, 8),
            _row("项目", "丁", "4人", 10, 10)]
    shifted = shifted_rows(rows)
    assert [m.changed for m in shifted] == [[0, 1], [1]]  # from 甲 on, from 乙 on; 丙 keeps its own values
    assert shifted[0].rows[0]["weight"] == 10 and shifted[0].rows[0]["target"] == "2人"
    assert shifted[0].rows[3] == rows[3]
    left_out = row_left_out(rows)
    assert [len(m.rows) for m in left_out] == [3, 3, 3]  # 丁 is alone in its table: nothing would show it
    assert left_out[0].changed == [0, 1]  # 乙 and 丙, renumbered
    wrong = {(m.kind, m.rows[m.changed[0]]["score"]) for m in one_row_wrong(rows) if m.changed == [1]}
    assert {("score above its weight", 11), ("row's score read as its weight", 10)} <= wrong
