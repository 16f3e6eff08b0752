"""Routing on perturbed extractions of the five samples: injected mistakes reach review, right values mostly don't."""

from __future__ import annotations

import json

import pytest

from service.calibration import Tally, calibrate, drop_digit, mistakes, transpose_digits
from service.ingest import load
from service.sections import split_sections
from tests.conftest import SAMPLES
from tests.scoring import GOLD


@pytest.fixture(scope="module")
def routing():
    if not GOLD.exists():
        pytest.skip("../shared/gold is not beside the repository")
    tallies: dict[str, Tally] = {}
    correct = Tally()
    for path in sorted(GOLD.glob("*.json")):
        doc = load(SAMPLES / f"{path.stem}.txt")
        calibrate(doc, split_sections(doc), json.loads(path.read_text(encoding="utf-8")), tallies, correct)
    return tallies, correct


def test_at_least_95_percent_of_injected_mistakes_go_to_review(routing):
    tallies, _ = routing
    caught = sum(t.caught for t in tallies.values())
    total = sum(t.total for t in tallies.values())
    assert total > 100 and caught / total >= 0.95


@pytest.mark.parametrize("kind", ["made-up value", "元 read as 万元"])
def test_made_up_values_and_unit_mistakes_almost_always_go_to_review(routing, kind):
    tally = routing[0][kind]
    assert tally.total > 0 and tally.share >= 0.99, tally.escapes


def test_at_most_10_percent_of_correct_values_bother_a_reviewer(routing):
    _, correct = routing
    assert correct.total > 50 and 1 - correct.share <= 0.10, correct.escapes


def test_mistake_generators_change_the_value_the_way_a_model_would():
    import random

    rng = random.Random(1)
    assert drop_digit(2946.602828, rng) != 2946.602828
    assert sorted(str(transpose_digits(1809.48, rng))) == sorted("1809.48")
    kinds = {k for k, _, _ in mistakes({"fields": {"budget_initial": {"value": 1045.9},
                                                   "budget_full_year": {"value": 2946.602828},
                                                   "assets_total": {"value": None}}})}
    assert {"年初/全年 swapped", "made-up value", "元 read as 万元"} <= kinds
