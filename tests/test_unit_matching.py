"""Matching a report's unit name to the list of units expected to report: the fullest match wins, an equal tie is
asked of a person (never guessed), a person's choice wins over matching."""

from __future__ import annotations

import pytest

from service.units.matching import (
    AMBIGUOUS,
    CHOSEN,
    MATCHED,
    UNMATCHED,
    UnitIndex,
    is_place,
    match_documents,
    match_unit,
    normalise,
    resolve,
)
from service.units.registry import Unit

LIST = [
    Unit(1, "岭坡乡", "乡镇", "101"),
    Unit(2, "白果乡", "乡镇", "102"),
    Unit(3, "白果镇", "乡镇", "103"),
    Unit(4, "财政局", "部门", "201"),
    Unit(5, "财政局国库集中支付中心", "部门", "202"),
    Unit(6, "衡山县教育局", "部门", "203"),
    Unit(7, "衡东县教育局", "部门", "204"),
    Unit(8, "湘江街道", "街道", "301"),
    Unit(9, "市场监督管理局", "部门", "205"),
    Unit(10, "店门镇人民政府", "乡镇", "104", aliases=("店门",)),
]
INDEX = UnitIndex(LIST)


@pytest.mark.parametrize("name, unit", [
    ("岭坡乡", "岭坡乡"),                                   # the same name
    ("衡山县岭坡乡人民政府", "岭坡乡"),                       # the county in front, the government's form after
    ("岭坡乡政府", "岭坡乡"),
    ("湖南省衡山县教育局", "衡山县教育局"),                   # a province in front of the list's own name
    ("衡山县 教育局（本级）", "衡山县教育局"),                 # a space, a full-width 「（本级）」
    ("衡山县教育局(机关)", "衡山县教育局"),
    ("衡山县教育局本级", "衡山县教育局"),
    ("湘江街道办事处", "湘江街道"),
    ("衡山县市场监督管理局", "市场监督管理局"),                # 「县市…」 is not a 市 in front
    ("衡山县店门镇", "店门镇人民政府"),                       # the list has the form, the report has the county
    ("店门", "店门镇人民政府"),                               # an alias
])
def test_a_name_matches_its_unit(name, unit):
    m = match_unit(name, INDEX)
    assert m.status == MATCHED and m.unit.name == unit, m


def test_town_and_township_of_the_same_name_are_different_units():
    assert match_unit("白果镇人民政府", INDEX).unit.name == "白果镇"
    assert match_unit("衡山县白果乡人民政府", INDEX).unit.name == "白果乡"
    only_township = UnitIndex([Unit(2, "白果乡", "乡镇")])
    m = match_unit("白果镇人民政府", only_township)
    assert m.status == UNMATCHED and m.unit is None
    assert [u.name for u in m.candidates] == ["白果乡"]  # offered to the person choosing, not chosen


def test_a_townships_finance_office_is_not_its_government():
    government_only = UnitIndex([Unit(1, "岭坡乡人民政府", "乡镇")])
    assert match_unit("衡山县岭坡乡财政所", government_only).status == UNMATCHED
    both = UnitIndex([Unit(1, "岭坡乡人民政府", "乡镇"), Unit(2, "岭坡乡财政所", "乡镇")])
    assert match_unit("衡山县岭坡乡财政所", both).unit.name == "岭坡乡财政所"
    assert match_unit("衡山县岭坡乡人民政府", both).unit.name == "岭坡乡人民政府"


def test_a_department_named_inside_another_is_matched_to_the_fullest_name():
    assert match_unit("衡山县财政局国库集中支付中心", INDEX).unit.name == "财政局国库集中支付中心"
    assert match_unit("衡山县财政局", INDEX).unit.name == "财政局"
    centre_only = UnitIndex([Unit(5, "财政局国库集中支付中心", "部门")])
    assert match_unit("衡山县财政局", centre_only).status == UNMATCHED


def test_the_fullest_of_two_matching_names_wins():
    index = UnitIndex([Unit(1, "岭坡乡", "乡镇"), Unit(2, "衡山县岭坡乡", "乡镇")])
    assert match_unit("衡山县岭坡乡人民政府", index).unit.id == 2
    assert match_unit("湖南省衡山县岭坡乡人民政府", index).unit.id == 2


def test_two_equally_good_units_are_ambiguous_and_neither_is_guessed():
    m = match_unit("教育局", INDEX)  # the report leaves out the county; the list has two counties' bureaus
    assert m.status == AMBIGUOUS and m.unit is None and not m.settled
    assert sorted(u.name for u in m.candidates) == ["衡东县教育局", "衡山县教育局"]
    assert m.status_name == "待匹配"


def test_two_units_with_the_same_alias_are_ambiguous():
    index = UnitIndex([Unit(1, "某某县林业局", "部门", aliases=("林业局",)),
                       Unit(2, "某某县自然资源局", "部门", aliases=("林业局",))])
    assert match_unit("林业局", index).status == AMBIGUOUS


def test_a_development_zone_in_front_is_not_a_place():
    m = match_unit("衡山县经济开发区财政局", INDEX)
    assert m.status == UNMATCHED and [u.name for u in m.candidates] == ["财政局"]
    assert not is_place("衡山县经济开发区") and is_place("湖南省衡阳市衡山县") and not is_place("衡山县岭坡乡")


@pytest.mark.parametrize("name", [None, "", "   ", "（本级）"])
def test_no_name_matches_nothing(name):
    m = match_unit(name, INDEX)
    assert m.status == UNMATCHED and m.how


def test_no_list_matches_nothing():
    assert match_unit("衡山县教育局", UnitIndex([])).status == UNMATCHED


def test_normalising_keeps_a_bracket_that_tells_units_apart():
    assert normalise("衡山县教育局（本级）") == "衡山县教育局" == normalise(" 衡山县教育局 ")
    assert normalise("衡山县教育局（下属学校）") == "衡山县教育局(下属学校)"
    assert normalise("「岭坡乡」") == "岭坡乡" and normalise("ＡＢ镇") == "AB镇"


def test_a_persons_choice_wins_over_matching_even_an_exact_one():
    chosen = LIST[1]
    m = resolve("岭坡乡", INDEX, chosen, "王芳")
    assert m.status == CHOSEN and m.unit is chosen and "王芳" in m.how and m.settled


def test_documents_are_matched_with_their_choices():
    found = match_documents({"a": "教育局", "b": "教育局", "c": "岭坡乡"}, LIST,
                            {"a": {"unit_id": 6, "chosen_by": "王芳"}, "c": {"unit_id": 999, "chosen_by": "x"}})
    assert found["a"].status == CHOSEN and found["a"].unit.name == "衡山县教育局"
    assert found["b"].status == AMBIGUOUS
    assert found["c"].status == MATCHED  # a choice of a unit no longer in the list does not count


def test_two_reports_under_different_names_of_one_listed_unit_are_named_as_one_units_repeats():
    from service.overview import same_unit_reports

    docs = [{"sha256": "a", "name": "a.docx", "unit_name": "店门镇人民政府", "state": "confirmed"},
            {"sha256": "b", "name": "b.pdf", "unit_name": "店门", "state": "review"},
            {"sha256": "c", "name": "c.pdf", "unit_name": "岭坡乡", "state": "review"},
            {"sha256": "d", "name": "d.pdf", "unit_name": None, "state": "review"},
            {"sha256": "e", "name": "e.pdf", "unit_name": None, "state": "review"}]
    matches = match_documents({d["sha256"]: d["unit_name"] for d in docs}, LIST, {})
    found = same_unit_reports(2023, docs, matches)
    assert [(g["unit_name"], [d["sha256"] for d in g["documents"]]) for g in found] == [("店门镇人民政府", ["a", "b"])]
    assert found[0]["reason"].startswith("2023 年度有 2 份报告（已确认 1 份，待审核 1 份）")
    assert same_unit_reports(2023, docs) == []  # without the list, 「店门」 and 「店门镇人民政府」 are two names
