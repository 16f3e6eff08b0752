"""The validators instructor re-asks on: the quote is in the section, the value is in the quote."""

import pytest
from pydantic import ValidationError

from service.extract.llm.schema import ListsModel, SectionFacts

SECTION = "2023年决算总收入2769.17439万元，其中一般公共财政拨款2326.032882万元。无公务用车。单位名称：某某局"


def facts(*items):
    return {"facts": [dict(zip(("key", "value", "unit", "quote"), item, strict=True)) for item in items]}


@pytest.mark.parametrize("item", [
    ("income_total", 2769.17439, "万元", "决算总收入2769.17439万元"),
    ("income_total", 2769.17439, "万元", "决算 总收入 2769.17439 万元"),  # spaces do not matter
    ("vehicles", 0, "辆", "无公务用车"),  # a count of 0 stated in words
    ("unit_name", "某某局", None, "单位名称：某某局"),
])
def test_value_read_from_its_quote_is_accepted(item):
    accepted = SectionFacts.model_validate(facts(item), context={"section": SECTION})
    assert [(f.key, f.value, f.unit, f.quote) for f in accepted.facts] == [item]  # taken as it was given


@pytest.mark.parametrize(("item", "message"), [
    (("income_total", 2769.2, "万元", "决算总收入2769.17439万元"), "没有出现在引文"),
    (("income_total", 27.6917439, "万元", "决算总收入2769.17439万元"), "金额不要换算单位"),
    (("income_total", 2769.17439, "万元", "收入合计2769.17439万元"), "在给定章节中找不到"),
    (("vehicles", 1, "辆", "无公务用车"), "没有出现在引文"),
    (("unit_name", "某某县某某局", None, "单位名称：某某局"), "没有出现在引文中"),
    (("made_up_key", 1, None, "无公务用车"), "不在提示列出的键中"),
])
def test_value_not_read_from_the_section_is_refused_with_a_reason(item, message):
    with pytest.raises(ValidationError, match=message):
        SectionFacts.model_validate(facts(item), context={"section": SECTION})


def test_list_item_must_be_quoted_from_the_section():
    with pytest.raises(ValidationError, match="在给定章节中找不到"):
        ListsModel.model_validate({"problems": ["人员不足"], "measures": []}, context={"section": SECTION})
