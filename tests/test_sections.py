"""Sections: the headings of each sample report, pinned, and the rules that find them."""

from __future__ import annotations

import pytest

from service.ingest import load, load_bytes
from service.sections import split_sections
from service.settings import load_settings
from tests.conftest import SAMPLES

STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))

# (level, kind, title) of every section, as split_sections gives them (read against the reports).
EXPECTED = {
    "000_8d720d4fc0889d24": [
        (0, "narrative", "2023年度衡山县岭坡乡人民政府部门整体"),
        (1, "narrative", "一、部门、单位基本情况"),
        (2, "narrative", "（一）部门职责"),
        (2, "narrative", "（二）机构设置及部门决算单位构成"),
        (2, "narrative", "（三）人员及车辆情况"),
        (1, "narrative", "二、预算支出及绩效情况"),
        (2, "narrative", "（一）部门预决算情况"),
        (3, "narrative", "1、部门预算情况"),
        (3, "narrative", "2.部门决算情况(含年中预算追加情况)"),
        (3, "narrative", "3.“三公”经费执行情况"),
        (3, "narrative", "4.政府采购执行情况"),
        (3, "narrative", "5.资产管理情况"),
        (2, "narrative", "（二）资金使用及绩效情况"),
        (4, "narrative", "（1）基本支出情况"),
        (4, "narrative", "①人员经费支出"),
        (4, "narrative", "②公用经费支出"),
        (4, "narrative", "（2）项目支出情况"),
        (1, "narrative", "三、整体绩效目标完成情况"),
        (2, "narrative", "（一）及时制定了自评实施方案，成立了绩效评价工作领导小组"),
        (2, "narrative", "（二）组织完成了专项资金的绩效自评工作"),
        (2, "narrative", "（三）综合分析并出具了绩效自评报告"),
        (2, "narrative", "（四）2023年我乡镇取得的主要工作成绩"),
        (3, "narrative", "（一）坚持实干为要，党建引领“聚合力”"),
        (3, "narrative", "（二）坚持项目带动，发展经济“强动能”"),
        (3, "narrative", "（三）坚持宜居宜业，擦亮岭坡“新面貌”"),
        (3, "narrative", "（四）坚持精准施策，做好衔接“稳过渡”"),
        (3, "narrative", "（五）坚持共建共享，织密治理“平安网”"),
        (3, "narrative", "（六）坚持改善民生，提升群众“幸福感”"),
        (3, "narrative", "2、项目绩效目标完成情况（仅对50万元以上的项目资金分项说明）"),
        (1, "narrative", "四、存在的问题及改进措施"),
        (2, "narrative", "（一）存在的问题"),
        (2, "narrative", "（二）改进措施"),
        (1, "narrative", "五、 其他需要说明的情况"),
        (1, "table", "2023年度部门整体支出绩效评价基础数据表"),
        (2, "narrative", "说明：“项目支出”需要填报基本支出以外的"),
        (1, "table", "2023年度部门整体支出绩效自评表"),
        (1, "table", "2023年度项目支出绩效自评表"),
    ],
    "001_dea89b1d5430c4b7": [
        (0, "narrative", "绩效评价报告"),
        (1, "narrative", "一、基本情况："),
        (2, "narrative", "（一）部门职责"),
        (2, "narrative", "（二）部门单位构成"),
        (2, "narrative", "（三）部门收支情况"),
        (2, "narrative", "部门绩效目标"),
        (3, "narrative", "1、2022年机关运行经费决算情况"),
        (1, "narrative", "一、2022年度工作情况"),
        (2, "narrative", "（一）党的建设方面"),
        (2, "narrative", "（二）项目建设方面"),
        (2, "narrative", "（三）农业农村方面"),
        (2, "narrative", "（四）社会事务方面"),
        (2, "narrative", "（五）综合治理方面"),
        (2, "narrative", "（六）其他方面"),
        (1, "narrative", "二、绩效评价工作情况"),
        (3, "narrative", "1.绩效评价目的"),
        (3, "narrative", "2、绩效评价实施过程"),
        (1, "narrative", "三、评价结论及建议"),
        (3, "narrative", "1、评价结论"),
        (3, "narrative", "2、存在的问题"),
        (3, "narrative", "3、建议"),
    ],
    "002_6ebd5ff7b055c059": [
        (1, "table", "部门整体支出绩效自评表"),
        (2, "narrative", "部门整体支出绩效自评报告"),
        (1, "narrative", "1、 预算单位基本情况"),
        (1, "narrative", "二、一般公共预算支出情况"),
        (2, "narrative", "（一）基本支出情况"),
        (2, "narrative", "（二）项目支出情况"),
        (1, "narrative", "三、部门整体支出绩效情况"),
        (1, "narrative", "四、存在的问题及原因分析"),
        (1, "narrative", "5、 下一步改进措施"),
        (1, "narrative", "6、 绩效自评结果拟应用和公开情况"),
    ],
    "003_30586584fcfb4137": [
        (0, "narrative", "沅陵镇太常便民服务中心"),
        (1, "narrative", "一、部门概况"),
        (2, "narrative", "（一）部门基本情况"),
        (3, "narrative", "1、机构人员情况"),
        (2, "narrative", "主要职能"),
        (2, "narrative", "重点工作计划"),
        (2, "narrative", "部门整体支出规模"),
        (1, "narrative", "二、部门整体支出管理及使用情况"),
        (2, "narrative", "（一）基本支出"),
        (2, "narrative", "（二）专项支出"),
        (2, "narrative", "（三）“三公”经费的使用和管理情况"),
        (1, "narrative", "三、部门专项组织实施情况"),
        (3, "narrative", "1.重点突出抓好经济建设"),
        (3, "narrative", "2.常抓不懈筑牢平安基石"),
        (4, "narrative", "（一）落实安全防范措施，健全安全长效机制"),
        (4, "narrative", "（二）压实平安建设责任，防范化解重大风险"),
        (4, "narrative", "（三）抓实防汛备汛工作，确保汛期平安度汛"),
        (3, "narrative", "3.深入群众推动乡村振兴"),
        (3, "narrative", "4.夯实基础做好“三农”工作"),
        (3, "narrative", "5.严实深细推进党风廉政建设"),
        (1, "narrative", "四、资产管理情况"),
        (1, "narrative", "部门整体支出绩效情况"),
        (2, "narrative", "（一）经济性分析"),
        (2, "narrative", "（二）效率性分析"),
        (2, "narrative", "（三）有效性分析"),
        (2, "narrative", "（四）可持续性分析"),
        (1, "narrative", "六、存在的主要问题"),
        (1, "narrative", "七、改进措施和有关建议"),
        (1, "narrative", "附件："),
    ],
    "004_b638ef10e80c4f2a": [
        (0, "narrative", "平等乡人民政府部门整体绩效自评报告"),
        (1, "narrative", "一、部门基本情况"),
        (2, "narrative", "（一）机构组成。"),
        (2, "narrative", "（二）机构职能和人员概况。"),
        (2, "narrative", "（三）2023年重点工作开展情况"),
        (3, "narrative", "（一）坚持理论武装，把牢政治方向"),
        (3, "narrative", "（二）坚持平安建设，维护一方稳定"),
        (3, "narrative", "（三）坚持发展为要，推动农业发展"),
        (3, "narrative", "（四）坚持民生保障，落实惠民政策"),
        (2, "narrative", "（四）部门整体支出绩效目标。"),
        (1, "narrative", "二、部门财政资金收支情况"),
        (2, "narrative", "（一）部门财政资金收入情况"),
        (2, "narrative", "（二）部门财政资金支出情况"),
        (2, "narrative", "（三）部门财政资金结转结余情况"),
        (1, "narrative", "三、部门整体绩效管理情况"),
        (2, "narrative", "（一）部门整体履职绩效分析。"),
        (2, "narrative", "（二）特定目标类项目绩效分析。"),
        (3, "narrative", "1.整体情况"),
        (2, "narrative", "（三）结果应用情况。"),
        (1, "narrative", "四、评价结论及建议"),
        (2, "narrative", "（一）评价结论。"),
        (2, "narrative", "（二）存在问题。"),
        (2, "narrative", "（三）改进建议。"),
        (1, "table", "县级部门整体绩效自评打分表"),
    ],
}


def outline(sections) -> list[tuple[int, str, str]]:
    return [(s.level, s.kind, s.title) for s in sections]


def split_text(text: str):
    doc = load_bytes(text.encode("utf-8"), "synthetic.txt", load_settings(env={}))
    return doc, split_sections(doc)


def tab_rows(rows: list[list[str]]) -> str:
    return "".join("".join(f"\t{cell}\n" for cell in row) + "\n" for row in rows)


@pytest.fixture(scope="module")
def samples():
    settings = load_settings(env={})
    docs = {stem: load(SAMPLES / f"{stem}.txt", settings) for stem in STEMS}
    return {stem: (doc, split_sections(doc)) for stem, doc in docs.items()}


@pytest.mark.parametrize("stem", STEMS)
def test_sample_sections_are_pinned(samples, stem):
    _doc, sections = samples[stem]

    assert outline(sections) == EXPECTED[stem]


@pytest.mark.parametrize("stem", STEMS)
def test_sections_partition_the_text(samples, stem):
    doc, sections = samples[stem]

    assert sections[0].start == 0
    assert sections[-1].end == len(doc.text)
    for a, b in zip(sections, sections[1:], strict=False):
        assert a.end == b.start, (a.title, b.title)
    assert all(s.start < s.end for s in sections)


@pytest.mark.parametrize("stem", STEMS)
def test_sections_start_at_their_heading(samples, stem):
    doc, sections = samples[stem]

    for s in sections:
        if s.kind == "narrative" and s.marker and not s.marker.startswith("附件"):
            assert doc.text[s.start:s.end].startswith(s.title), s.title


def test_score_tables_are_table_sections(samples):
    doc, sections = samples["000_8d720d4fc0889d24"]
    tables = [s for s in sections if s.kind == "table"]

    assert [s.title for s in tables] == ["2023年度部门整体支出绩效评价基础数据表", "2023年度部门整体支出绩效自评表",
                                         "2023年度项目支出绩效自评表"]
    assert [s.marker for s in tables] == ["附件一", "附件二", "附件三"]
    for s, t in zip(tables, doc.tables, strict=True):
        assert s.start <= t.start and t.end <= s.end
        assert s.title in doc.text[s.start:t.start]

    doc, sections = samples["004_b638ef10e80c4f2a"]
    last = sections[-1]
    assert (last.kind, last.title) == ("table", "县级部门整体绩效自评打分表")
    assert last.start <= doc.tables[0].start and last.end == len(doc.text)


def test_headings_without_numbers_are_found():
    text = ("一、部门概况\n\n"
            "本单位为全额拨款行政单位，内设党政办、民政所、社保站等机构。\n"
            "主要职能\n"
            "本单位的主要职责是贯彻执行党和国家的各项方针政策，发展经济，保障民生。\n\n"
            "部门整体支出规模\n\n"
            "2023年支出合计2228.08万元，其中基本支出1040万元，项目支出1188.08万元。\n")

    doc, sections = split_text(text)

    assert outline(sections) == [(1, "narrative", "一、部门概况"), (2, "narrative", "主要职能"),
                                 (2, "narrative", "部门整体支出规模")]
    assert doc.text[sections[2].start:].startswith("部门整体支出规模")


def test_numbered_list_items_are_not_headings():
    text = ("一、部门概况\n\n"
            "本单位为全额拨款行政单位。\n\n"
            "重点工作计划\n\n"
            "(1)推动全镇经济发展；\n"
            "(2)加快发展，巩固扶贫攻坚成果；\n"
            "(3)完善社会保障体系，加大农村基础设施建设；\n"
            "二、存在的问题\n\n"
            "无。\n")

    _doc, sections = split_text(text)

    assert outline(sections) == [(1, "narrative", "一、部门概况"), (2, "narrative", "重点工作计划"),
                                 (1, "narrative", "二、存在的问题")]


def test_long_numbered_sentence_is_not_a_heading():
    text = ("一、工作成效\n\n"
            "1.强化党委领导。认真落实意识形态工作责任制，将意识形态工作作为党建工作的重要内容，定期研究部署。\n"
            "2.抓实民政政策兑现。全乡低保212户，发放资金165万元。\n"
            "二、存在的问题\n\n"
            "无。\n")

    _doc, sections = split_text(text)

    assert outline(sections) == [(1, "narrative", "一、工作成效"), (1, "narrative", "二、存在的问题")]


def test_table_split_by_page_number_is_one_section():
    page_one = tab_rows([["一级指标", "二级指标", "三级指标", "分值"], ["产出指标", "数量指标", "人员数", "20"]])
    page_two = tab_rows([["效益指标", "社会效益指标", "社会环境", "30"], ["满意度指标", "满意度", "群众满意度", "40"]])
    text = ("一、基本情况\n\n本单位是全额拨款行政单位。\n\n"
            "2023年度部门整体支出绩效自评表\n" + page_one + "\n- 3 -\n\n\n" + page_two + "\n"
            "二、存在的问题\n\n无。\n")

    doc, sections = split_text(text)

    assert len(doc.tables) == 1 and len(doc.tables[0].rows) == 4  # the page number does not split the table
    assert outline(sections) == [(1, "narrative", "一、基本情况"), (1, "table", "2023年度部门整体支出绩效自评表"),
                                 (1, "narrative", "二、存在的问题")]
    table = sections[1]
    assert table.start <= doc.tables[0].start and doc.tables[0].end <= table.end
    assert "- 3 -" not in [c.text for row in doc.tables[0].rows for c in row]


def test_heading_inside_table_is_not_a_section():
    text = ("一、基本情况\n\n本单位是全额拨款行政单位。\n\n"
            + tab_rows([["一、部门概况", "本单位是行政单位"], ["二、预算情况", "收支平衡"]])
            + "\n二、存在的问题\n\n无。\n")

    doc, sections = split_text(text)

    assert len(doc.tables) == 1
    assert [s.title for s in sections if s.kind == "narrative"] == ["一、基本情况", "二、存在的问题"]
    assert [s.kind for s in sections] == ["narrative", "table", "narrative"]


def test_numbering_restarted_under_a_heading_makes_children():
    text = ("一、工作情况\n（一）自评工作\n本单位开展了自评。\n（二）主要工作成绩\n"
            "（一）坚持党建引领\n全年召开党委会15次，学习理论。\n（二）坚持项目带动\n引进项目3个，投资5000万元。\n"
            "二、存在的问题\n人员不足，任务繁重。\n")

    _doc, sections = split_text(text)

    assert outline(sections) == [
        (1, "narrative", "一、工作情况"), (2, "narrative", "（一）自评工作"), (2, "narrative", "（二）主要工作成绩"),
        (3, "narrative", "（一）坚持党建引领"), (3, "narrative", "（二）坚持项目带动"),
        (1, "narrative", "二、存在的问题")]


def test_unnumbered_heading_over_numbered_children_is_top_level():
    text = ("四、资产管理情况\n年末资产总额100万元，负债总额20万元。\n部门整体支出绩效情况\n经自评，2023年度我单位部门整体支出绩效评价结论为“优”，自查评分为95分。\n"
            "（一）经济性分析\n本单位厉行节约，严格控制支出规模。\n（二）效率性分析\n各项工作按时完成，资金及时拨付到位。\n")

    _doc, sections = split_text(text)

    assert (1, "narrative", "部门整体支出绩效情况") in outline(sections)
