"""Every request of a kind starts with the same instructions, so providers' prompt caching applies: what
differs from call to call (the table's layout, the hinted fields, the document and its section) comes last."""

import os

import pytest

from service.extract.llm.prompts import FORMS, render

SECTIONS = [
    ("a.txt", "一、基本情况", "年末资产总额2,310.50万元。", ["assets_total"]),
    ("b.docx", "附件1 部门整体支出绩效自评表", "一级指标|二级指标|三级指标|分值|得分\n产出指标|数量指标|人数|10|10", []),
    ("c.pdf", "存在的问题", "1.预算编制不够细化。\n2.绩效目标不够明确。", ["self_score", "unit_name"]),
]
PER_CALL = ["报告文件", "这段文字看起来写有", *FORMS.values()]  # what one call says that another does not


def first_per_call_part(text: str) -> int:
    return min(text.index(mark) for mark in PER_CALL if mark in text)


@pytest.mark.parametrize("name", ["facts", "score_table", "lists"])
def test_requests_of_one_kind_share_all_their_instructions_as_a_prefix(name):
    texts = [render(name, document_name=d, section_title=t, section_text=s, fields=f).text
             for d, t, s, f in SECTIONS]
    shared = len(os.path.commonprefix(texts))
    assert all(first_per_call_part(text) <= shared for text in texts)
    if name != "lists":
        assert all(text.index("规则") < shared for text in texts)  # the rules, the longest part, are shared
