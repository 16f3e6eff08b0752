"""Thresholds learned from what reviewers did (service.check.threshold_learning): which audit entries make a
decision, the figures per field, and the proposed threshold with its minimum-sample rule. Every expected figure
is worked out by hand here from a small log written out in the test."""

from __future__ import annotations

import math

import pytest

from service.check.threshold_learning import (
    NONE_MEETS,
    TOO_LITTLE,
    binomial_cdf,
    decisions,
    figures,
    meets,
    min_sample,
    propose,
    threshold_key,
    upper_bound,
)

A, B = "a" * 64, "b" * 64


class Log:
    """Audit entries as the store writes them, numbered in order."""

    def __init__(self):
        self.entries: list[dict] = []

    def add(self, action: str, item: str | None = None, old=None, new=None, status: str | None = None,
            confidence: float | None = None, undoes: int | None = None, doc: str = A) -> int:
        entry_id = len(self.entries) + 1
        self.entries.append({"id": entry_id, "document_sha256": doc, "item": item, "action": action,
                             "old_value": old, "new_value": new, "old_status": status, "confidence": confidence,
                             "undoes": undoes})
        return entry_id


def test_item_keys_are_the_threshold_keys():
    assert threshold_key("field:self_score") == "self_score"
    assert threshold_key("indicator:12") == "indicators"
    assert threshold_key("project:0") == "projects"
    assert threshold_key("list:problems") == "problems"


def test_an_auto_accepted_value_a_reviewer_corrected_is_an_escape():
    log = Log()
    log.add("extracted")
    log.add("correct", "field:self_score", 92.5, 90, "accepted", 0.92)
    [d] = decisions(log.entries)
    assert (d.key, d.machine_status, d.looked_at, d.corrected, d.confidence) == \
        ("self_score", "accepted", True, True, 0.92)


def test_a_bulk_accept_is_not_a_look_and_a_later_correction_is():
    log = Log()
    log.add("bulk_accept", "field:unit_name", "甲", "甲", "accepted", 0.9)
    log.add("bulk_accept", "field:vehicles", 3, 3, "accepted", 0.9)
    log.add("correct", "field:unit_name", "甲", "乙", "confirmed", 0.9)  # after the bulk accept: not a machine status
    found = {d.item: d for d in decisions(log.entries)}
    assert (found["field:vehicles"].looked_at, found["field:vehicles"].corrected) == (False, False)
    assert (found["field:unit_name"].looked_at, found["field:unit_name"].corrected) == (True, True)
    assert found["field:unit_name"].machine_status == "accepted"  # what the first entry found


def test_what_an_undo_restored_is_what_stands():
    log = Log()
    wrong = log.add("correct", "field:fiscal_year", 2023, 2022, "review", 0.5)
    log.add("undo", "field:fiscal_year", 2022, 2023, undoes=wrong)
    log.add("accept", "field:fiscal_year", 2023, 2023, "review", 0.5)
    taken_back = log.add("correct", "field:budget_initial", 100, 120, "accepted", 0.95)
    log.add("undo", "field:budget_initial", 120, 100, undoes=taken_back)
    [d] = decisions(log.entries)  # budget_initial: every action taken back, no decision
    assert (d.item, d.machine_status, d.corrected) == ("field:fiscal_year", "review", False)


def test_added_rows_and_values_the_machine_left_empty_are_not_decisions():
    log = Log()
    log.add("add", "indicator:7", None, {"name": "新增"})
    log.add("correct", "field:rating", None, "优", "review", 0.5)
    log.add("correct", "list:problems", [], ["预算编制不细"], "review", 0.5)
    assert decisions(log.entries) == []


def test_an_entry_without_its_confidence_takes_the_items():
    log = Log()
    log.add("accept", "indicator:0", {"name": "x"}, {"name": "x"}, "review")  # written before m018
    log.add("accept", "indicator:1", {"name": "y"}, {"name": "y"}, "review")  # nor is its item there any more
    [d] = decisions(log.entries, {(A, "indicator:0"): 0.7})
    assert (d.key, d.confidence) == ("indicators", 0.7)


def test_a_re_extraction_starts_a_new_decision_for_a_replaced_item():
    log = Log()
    first = log.add("correct", "field:unit_name", "甲", "乙", "review", 0.4)
    log.add("undo", "field:unit_name", "乙", "甲", undoes=first)
    log.add("extracted")  # the item was back in review: replaced by the new run's reading
    log.add("accept", "field:unit_name", "丙", "丙", "accepted", 0.9)
    log.add("correct", "field:staff_actual", 10, 12, "review", 0.6)
    log.add("extracted")  # staff_actual was settled: kept, its later change belongs to the same decision
    log.add("correct", "field:staff_actual", 12, 10, "corrected", 0.6)
    found = sorted(decisions(log.entries), key=lambda d: d.item)
    assert [(d.item, d.machine_status, d.confidence, d.corrected) for d in found] == [
        ("field:staff_actual", "review", 0.6, False),  # back to what the machine read
        ("field:unit_name", "accepted", 0.9, False),  # the first reading's only action was undone
    ]


def test_a_deleted_row_is_a_correction():
    log = Log()
    log.add("delete", "indicator:3", {"name": "合计"}, {"name": "合计"}, "accepted", 0.88)
    [d] = decisions(log.entries)
    assert d.corrected and d.looked_at


def test_figures_per_field_from_a_seeded_log():
    log = Log()
    # self_score: 3 auto-accepted and looked at (1 corrected), 1 only bulk-accepted, 2 sent (1 accepted as read)
    log.add("accept", "field:self_score", 90, 90, "accepted", 0.9, doc=A)
    log.add("correct", "field:self_score", 91, 95, "accepted", 0.85, doc=B)
    log.add("accept", "field:self_score", 88, 88, "accepted", 0.95, doc="c" * 64)
    log.add("bulk_accept", "field:self_score", 80, 80, "accepted", 0.99, doc="d" * 64)
    log.add("accept", "field:self_score", 70, 70, "review", 0.6, doc="e" * 64)
    log.add("correct", "field:self_score", 60, 65, "review", 0.5, doc="f" * 64)
    f = figures(decisions(log.entries))["self_score"]
    assert (f.auto_looked, f.auto_corrected, f.auto_bulk, f.sent, f.sent_unchanged) == (3, 1, 1, 2, 1)
    assert f.escape_rate == 1 / 3 and f.wasted_share == 1 / 2
    assert sorted(f.points) == [(0.5, True), (0.6, False), (0.85, True), (0.9, False), (0.95, False)]
    assert f.proposal.threshold is None and f.proposal.why == TOO_LITTLE


def test_the_bound_for_no_corrections_is_the_rule_of_three():
    for n in (10, 59, 1000):
        assert upper_bound(0, n) == pytest.approx(1 - 0.05 ** (1 / n), abs=1e-9)
    assert upper_bound(0, 1000) == pytest.approx(3 / 1000, rel=0.01)
    assert upper_bound(5, 5) == 1.0 and upper_bound(0, 0) == 1.0


def test_the_bound_for_one_correction_solves_the_binomial_tail():
    u = upper_bound(1, 50)
    # at the bound, seeing 0 or 1 in 50 has probability 5 %: (1-u)^50 + 50 u (1-u)^49 = 0.05
    assert (1 - u) ** 50 + 50 * u * (1 - u) ** 49 == pytest.approx(0.05, abs=1e-9)
    assert binomial_cdf(1, 50, 0.1) == pytest.approx(0.9 ** 50 + 50 * 0.1 * 0.9 ** 49)


def test_the_minimum_sample_follows_from_the_bound():
    # none corrected in n shows p <= target when (1 - target)^n <= 0.05: n >= ln 0.05 / ln(1 - target)
    assert min_sample(0.003) == math.ceil(math.log(0.05) / math.log(0.997)) == 998
    assert min_sample(0.05) == 59
    assert meets(0, 59, 0.05) and not meets(0, 58, 0.05)


def test_the_proposal_is_the_lowest_threshold_whose_values_meet_the_target():
    # 60 values at 0.9 and 10 at 0.95, none corrected; 5 at 0.7, 2 of them corrected; 20 at 0.5, 10 corrected
    points = [(0.95, False)] * 10 + [(0.9, False)] * 60 + [(0.7, True)] * 2 + [(0.7, False)] * 3 + \
        [(0.5, True)] * 10 + [(0.5, False)] * 10
    p = propose(points, target=0.05)
    # t = 0.5: 12 of 95 corrected; t = 0.7: 2 of 75, P(X <= 2 | 75, 0.05) = 0.27 > 0.05; t = 0.9: 0 of 70,
    # 0.95^70 = 0.028 <= 0.05: the lowest that meets it
    assert binomial_cdf(2, 75, 0.05) > 0.05 and 0.95 ** 70 <= 0.05
    assert (p.threshold, p.looked, p.corrected) == (0.9, 70, 0)
    assert p.upper == pytest.approx(1 - 0.05 ** (1 / 70)) and p.upper <= 0.05
    assert sum(c for conf, c in points if conf >= p.threshold) / p.looked <= 0.05


def test_too_few_values_propose_nothing_however_clean():
    p = propose([(0.9, False)] * 997)  # the default target, 0.3 %, needs 998
    assert (p.threshold, p.why, p.needed) == (None, TOO_LITTLE, 998)
    assert propose([(0.9, False)] * 998).threshold == 0.9


def test_enough_values_but_too_many_corrections_propose_nothing():
    p = propose([(0.9, True)] * 10 + [(0.8, False)] * 100, target=0.05)
    assert (p.threshold, p.why) == (None, NONE_MEETS)
