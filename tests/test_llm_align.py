"""Quotes are located on characters, whitespace- and width-insensitively (table-driven)."""

import pytest

from service.core.align import EXACT, FOLDED, locate

TEXT = "2023年决算总收入2769.17439万元，其中一般公共财政拨款2326.032882万元\n\t全年\n预算数\n\t2946.602828\n"

CASES = [
    ("决算总收入2769.17439万元", EXACT, "决算总收入2769.17439万元"),
    ("决算 总收入 2769.17439 万元", FOLDED, "决算总收入2769.17439万元"),
    ("全年预算数 2946.602828", FOLDED, "全年\n预算数\n\t2946.602828"),
    ("其中一般公共财政拨款2326.032882万元", EXACT, "其中一般公共财政拨款2326.032882万元"),
    ("决算总收入2769.17439万元,其中", FOLDED, "决算总收入2769.17439万元，其中"),  # half-width comma
]


@pytest.mark.parametrize(("quote", "match", "source"), CASES)
def test_quote_maps_back_to_the_exact_source_characters(quote, match, source):
    span = locate(quote, TEXT)
    assert span is not None and span.match == match
    assert TEXT[span.start:span.end] == source


@pytest.mark.parametrize("quote", ["决算总收入2769.2万元", "总收入合计", "", "   "])
def test_quote_not_in_text_is_not_found(quote):
    assert locate(quote, TEXT) is None


def test_search_stays_inside_the_given_span():
    start = TEXT.index("其中")
    assert locate("决算总收入", TEXT, start) is None
    assert locate("2326.032882", TEXT, start).start > start
