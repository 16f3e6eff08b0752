"""What the LLM engine sends: every part that can state a fact reaches a call, score tables whole."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from service.extract.llm import planner
from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.engine import extract
from service.extract.llm.planner import FURNITURE_TITLE, plan
from service.extract.llm.prompts import render
from service.extract.llm.schema import Fact, ScoreTablesModel
from service.ingest import load_bytes
from service.sections import split_sections
from service.settings import load_settings
from tests.llm_server import FakeOpenAI

logging.getLogger("instructor").setLevel(logging.CRITICAL)

PIPE_TABLE = """部门整体支出绩效自评表
单位名称 | 某某县某某局 |
一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 |
产出指标 | 数量指标 | 培训人次 | ≥300人次 | 320人次 | 20 | 20 |
| 质量指标 | 合格率 | ≥95% | 97% | 20 | 19 |
效益指标 | 社会效益 | 群众知晓率 | ≥90% | 92% | 30 | 28 |
满意度指标 | 服务对象满意度 | 满意度 | ≥90% | 95% | 20 | 20 |
合计 | | | | | 90 | 87 |
"""

CELLS_PROJECT = """项目支出绩效自评表
项目名称
农村饮水安全维修
主管部门
某某县水利局
实施单位
某某县农村供水站
一级指标
二级指标
三级指标
分值
得分
产出指标
数量指标
维修处数
40
40
总分
100
96
"""


def document(text: str, name: str = "r.txt"):
    doc = load_bytes(text.encode("utf-8"), name, load_settings(env={}))
    return doc, split_sections(doc)


def calls_of(text: str):
    doc, sections = document(text)
    return doc, plan(doc, sections)


def sent_to(prompt: str, text: str) -> list[str]:
    """The texts the calls of `prompt` send for a document of `text`."""
    doc, calls = calls_of(text)
    return [c.text(doc) for c in calls if c.prompt == prompt]


def test_a_document_that_is_only_a_pipe_score_table_goes_whole_to_the_table_prompt():
    doc, calls = calls_of(PIPE_TABLE)
    tables = [c for c in calls if c.prompt == "score_table"]
    assert len(tables) == 1
    sent = tables[0].text(doc)
    for row in ("培训人次", "合格率", "群众知晓率", "满意度", "合计", "单位名称 | 某某县某某局"):
        assert row in sent
    assert "单元格之间用“|”分隔" in render("score_table", document_name="r.txt", section_title="t",
                                       section_text=sent).text


def test_a_project_table_one_cell_per_line_goes_with_its_project_header():
    doc, calls = calls_of(CELLS_PROJECT)
    table = next(c for c in calls if c.prompt == "score_table")
    sent = table.text(doc)
    assert all(w in sent for w in ("农村饮水安全维修", "某某县农村供水站", "维修处数", "总分"))
    assert "每个单元格占一行" in render("score_table", document_name="r.txt", section_title="t",
                                      section_text=sent).text


def test_a_table_too_long_for_one_call_is_split_between_rows_with_its_header_repeated(monkeypatch):
    monkeypatch.setattr(planner, "MAX_TABLE_CHARS", 400)
    rows = "".join(f"产出指标 | 数量指标 | 指标{i:02d}项 | ≥{i}个 | {i}个 | 5 | 5 |\n" for i in range(40))
    doc, calls = calls_of("部门整体支出绩效自评表\n一级指标 | 二级指标 | 三级指标 | 年度指标值 | 实际完成值 | 分值 | 得分 |\n"
                          + rows + "合计 | | | | | 100 | 100 |\n")
    tables = [c for c in calls if c.prompt == "score_table"]
    assert len(tables) > 1
    for call in tables:
        assert "三级指标 | 年度指标值" in call.text(doc)
    sent = "\n".join(c.text(doc) for c in tables)
    assert all(f"指标{i:02d}项" in sent for i in range(40))
    for call in tables:  # never a row cut in two
        for s, e in call.spans:
            assert doc.text[s:e].rstrip("\n").endswith("|")


def test_page_furniture_is_no_title_and_goes_apart_named_as_such():
    text = ("您当前所在位置：首页 > 政务公开 > 财政信息\n索引号：11431023/2024-00012\n发布机构：某某县人民政府\n"
            "发布日期：2024-04-12\n某某县某某镇人民政府2023年度部门整体支出绩效自评报告\n一、基本情况\n"
            "我镇在职人员45人，全年支出1200.5万元。\n")
    doc, sections = document(text)
    assert not any("位置" in s.title or "索引号" in s.title for s in sections)
    calls = plan(doc, sections)
    facts = next(c for c in calls if c.prompt == "facts")
    assert FURNITURE_TITLE in facts.titles
    body = [doc.text[s:e] for (s, e), t in zip(facts.spans, facts.titles, strict=True) if t != FURNITURE_TITLE]
    assert not any("索引号" in b for b in body) and any("1200.5" in b for b in body)


def test_the_sign_off_date_always_reaches_a_facts_call():
    text = ("某某局2023年度部门整体支出绩效自评报告\n一、存在的问题\n资金拨付不够及时。\n二、改进措施\n"
            "加快资金拨付进度。\n\n某某局\n2024年3月15日\n")
    assert any("2024年3月15日" in sent for sent in sent_to("facts", text))


def test_a_section_that_states_no_fact_is_left_out_and_one_with_a_number_is_sent():
    text = ("某某局2023年度部门整体支出绩效自评报告\n一、工作成效\n我局坚持以人民为中心，扎实推进各项工作。\n"
            "二、支出情况\n全年支出合计856.3万元。\n")
    doc, calls = calls_of(text)
    sent = "\n".join(c.text(doc) for c in calls)
    assert "856.3" in sent and "扎实推进" not in sent


def test_indicators_scored_in_sentences_go_to_the_table_prompt():
    text = ("某某局2023年度部门整体支出绩效自评报告\n三、自评情况\n"
            "预算执行率指标分值10分，自评得9.85分；产出数量指标分值20分，得19分。\n")
    assert any("自评得9.85分" in sent for sent in sent_to("score_table", text))


def test_every_field_may_be_returned_by_any_call_whatever_the_hints():
    fact = Fact.model_validate({"key": "execution_weight", "value": 10, "unit": "分",
                                "quote": "预算执行率指标分值10分"}, context={"section": "预算执行率指标分值10分"})
    assert fact.key == "execution_weight"
    answer = ScoreTablesModel.model_validate({"tables": [], "facts": [fact.model_dump()]},
                                             context={"section": "预算执行率指标分值10分"})
    assert answer.facts[0].value == 10


def test_a_count_stated_as_none_is_zero_and_its_reask_speaks_of_counts_not_money():
    ctx = {"section": "公务用车：无。"}
    assert Fact.model_validate({"key": "vehicles", "value": 0, "unit": "辆", "quote": "公务用车：无"}, context=ctx)
    with pytest.raises(ValidationError) as err:
        Fact.model_validate({"key": "vehicles", "value": 2, "unit": "辆", "quote": "公务用车：无"}, context=ctx)
    assert "车辆数" in str(err.value) and "金额" not in str(err.value)


def run_answer(text: str, answer):
    doc, sections = document(text)
    with FakeOpenAI(answer) as server:
        client = LLMClient(Endpoint(server.base_url, "k", "m"), load_settings(env={"JIXIAO_LLM_HTTP_RETRIES": "0"}),
                           sleep=lambda s: None)
        return doc, extract(doc, sections, client)


DECISION_TABLE = """部门整体支出绩效自评表
一级指标 | 二级指标 | 三级指标 | 分值 | 得分 |
决策 | 目标设定 | 绩效目标合理性 | 20 | 18 |
过程 | 资金管理 | 预算执行率 | 20 | 19 |
产出 | 产出数量 | 完成率 | 40 | 38 |
效益 | 社会效益 | 群众满意度 | 20 | 20 |
总分 | | | 100 | 95 |
"""


def test_in_the_decision_process_framework_the_execution_row_is_a_row_counted_once():
    rows = [("决策", "目标设定", "绩效目标合理性", 20, 18), ("过程", "资金管理", "预算执行率", 20, 19),
            ("产出", "产出数量", "完成率", 40, 38), ("效益", "社会效益", "群众满意度", 20, 20)]

    def answer(request):
        if "ScoreTablesModel" not in str(request):
            return {"facts": []}
        return {"tables": [{"table": "整体", "execution_weight": 20, "execution_score": 19, "total": 95,
                            "total_quote": "总分 | | | 100 | 95 |",
                            "rows": [{"level1": a, "level2": b, "name": n, "weight": w, "score": sc,
                                      "quote": f"{a} | {b} | {n} | {w} | {sc} |"} for a, b, n, w, sc in rows]}],
                "facts": []}

    _doc, run = run_answer(DECISION_TABLE, answer)
    assert [r.name for r in run.extraction.indicators][1] == "预算执行率"
    score = run.extraction.fields["self_score"]
    assert score.value == 95 and not score.issues


def test_a_value_read_from_page_furniture_goes_to_review_and_the_published_date_is_proposed_as_such():
    text = ("发布机构：某某县人民政府\n发布日期：2024-04-12\n部门整体支出绩效自评报告\n一、支出情况\n全年支出合计856.3万元。\n")

    def answer(request):
        return {"facts": [{"key": "unit_name", "value": "某某县人民政府", "quote": "发布机构：某某县人民政府"},
                          {"key": "expense_total", "value": 856.3, "unit": "万元", "quote": "全年支出合计856.3万元"}]}

    _doc, run = run_answer(text, answer)
    fields = run.extraction.fields
    assert fields["unit_name"].status == "review" and "不是报告正文" in fields["unit_name"].issues[0]
    assert fields["report_date"].value == "2024-04-12" and fields["report_date"].status == "review"
    assert "发布日期" in fields["report_date"].issues[0]
    assert fields["expense_total"].value == 856.3


def test_a_value_the_model_left_out_but_the_rules_read_is_proposed_for_review_not_dropped():
    from service.check.second_look import second_look
    from service.record import to_record

    text = "某某局2023年度部门整体支出绩效自评报告\n一、支出情况\n2023年度部门支出合计1498.12万元。\n"
    doc, run = run_answer(text, lambda request: {"facts": []})
    record = second_look(doc, split_sections(doc), to_record(doc, run.extraction), load_settings(env={})).json()
    field = record["fields"]["expense_total"]
    assert field["value"] == 1498.12 and field["status"] == "review"
    assert "大模型没有读出此项" in field["issues"][0]


def test_the_department_tables_money_block_gives_its_fields_located_by_their_numbers():
    text = ("部门整体支出绩效自评表\n项目 | 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分 |\n"
            "年度资金总额 | 1172.55 | 1300.2 | 1268.72 | 10 | 97.58% | 9.76 |\n" + PIPE_TABLE.split("\n", 1)[1])

    def answer(request):
        if "ScoreTablesModel" not in str(request):
            return {"facts": []}
        return {"tables": [{"table": "整体", "money_unit": "万元", "budget_initial": 1172.55, "budget_full_year": 1300.2,
                            "spending_actual": 1268.72, "execution_rate": 97.58, "execution_weight": 10,
                            "execution_score": 9.76, "rows": []}], "facts": []}

    doc, run = run_answer(text, answer)
    fields = run.extraction.fields
    assert {k: fields[k].value for k in ("budget_initial", "spending_actual", "execution_rate", "execution_score")} \
        == {"budget_initial": 1172.55, "spending_actual": 1268.72, "execution_rate": 97.58, "execution_score": 9.76}
    ev = fields["spending_actual"].evidence
    assert doc.text[ev.start:ev.end] == "1268.72"


RUN_TOGETHER = ("项目支出绩效自评表\n项目名称：某某河道整治\n"
                "一级指标二级指标三级指标年度指标值实际完成值分值得分偏差原因分析及改进措施"
                "产出指标(60分)数量指标整治河道长度≥12公里≥12公里3030质量指标工程验收合格率100%100%3030"
                "效益指标(30分)社会效益指标群众生产生活条件改善3028"
                "满意度指标(10分)服务对象满意度指标群众满意度≥95%96%1010总分10098\n")


def test_a_run_together_table_is_sent_as_a_grid_only_when_its_cut_numbers_add_up():
    doc, calls = calls_of(RUN_TOGETHER)
    table = next(c for c in calls if c.prompt == "score_table")
    assert "| 产出指标(60分) | 数量指标 | 整治河道长度 | ≥12公里 | ≥12公里 | 30 | 30 |" in table.rebuilt[0]
    assert "| 总分 |  |  |  |  | 100 | 98 |" in table.rebuilt[0]

    doc, calls = calls_of(RUN_TOGETHER.replace("3028", "3020"))  # 30+30+20+10 is not the 总分 98
    table = next(c for c in calls if c.prompt == "score_table")
    assert table.rebuilt == []
    assert "群众生产生活条件改善3020" in table.text(doc)  # the text itself still goes, for the model to read


def test_a_table_title_of_only_cell_separators_is_no_title():
    doc, calls = calls_of("培训人次 | = | 300 | 人次 | 320 | 20 | 20 |\n| |||\n合格率 | ≥ | 95 | % | 97 | 20 | 19 |\n"
                          "| ||\n满意度指标 | 服务对象满意度指标 | 满意度 | ≥ | 90 | % | 95 | 60 | 60 |\n| |\n"
                          "合计 | 100 | 99 |\n")  # an excerpt starting inside a table; a line "| |" between rows
    table = next(c for c in calls if c.prompt == "score_table")
    assert table.title == "评分表"
