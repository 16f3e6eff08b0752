"""A document about one project only: its budget block and total are the project's, never the department's
fields (spec: `projects`, `self_score` null), and a department's report keeps them as its own."""

from __future__ import annotations

import logging

from service.core.project_docs import UNNAMED, is_project_document, project_name, project_signal
from service.extract.llm.client import LLMClient
from service.extract.llm.config import Endpoint
from service.extract.llm.engine import extract
from service.ingest import load_bytes
from service.sections import split_sections
from service.settings import load_settings
from tests.llm_server import FakeOpenAI

logging.getLogger("instructor").setLevel(logging.CRITICAL)

# a project report written for these tests (no score table): its title names the project in brackets
PROJECT_REPORT = ("某某县文化馆2023年度项目支出绩效自评报告(2023年乡镇综合文化站免费开放补助资金)\n\n"
                  "一、自评结论\n(一)自评得分\n\n98分。\n"
                  "二、预算执行情况\n该项目全年预算数12.5万元，全年执行数12.5万元，预算执行率100%。\n")
DEPARTMENT_REPORT = ("某某县文化馆2023年度部门整体支出绩效自评报告\n\n一、自评结论\n自评得分98分。\n"
                     "二、预算执行情况\n全年预算数12.5万元，全年执行数12.5万元，预算执行率100%。\n")
FACTS = [{"key": "unit_name", "value": "某某县文化馆", "quote": "某某县文化馆"},
         {"key": "self_score", "value": 98, "unit": "分", "quote": "98分。"},
         {"key": "budget_full_year", "value": 12.5, "unit": "万元", "quote": "全年预算数12.5万元"},
         {"key": "spending_actual", "value": 12.5, "unit": "万元", "quote": "全年执行数12.5万元"},
         {"key": "execution_rate", "value": 100, "unit": "%", "quote": "预算执行率100%"}]


def run(text, facts):
    doc = load_bytes(text.encode("utf-8"), "r.txt", load_settings(env={}))
    settings = load_settings(env={"JIXIAO_LLM_HTTP_RETRIES": "1"})

    def answer(request):
        tool = request["tools"][0]["function"]["name"]
        if tool == "ListsModel":
            return {"problems": [], "measures": []}
        if tool == "ScoreTablesModel":
            return {"tables": []}
        content = request["messages"][0]["content"]
        return {"facts": [f for f in facts if f["quote"] in content]}

    with FakeOpenAI(answer) as server:
        client = LLMClient(Endpoint(server.base_url, "k", "m"), settings, sleep=lambda s: None)
        return extract(doc, split_sections(doc), client).extraction


def test_project_report_files_its_score_and_money_under_the_project_named_in_its_title():
    ex = run(PROJECT_REPORT, FACTS)
    assert [p.name for p in ex.projects] == ["2023年乡镇综合文化站免费开放补助资金"]
    project = ex.projects[0]
    assert (project.score, project.budget_full_year, project.spending_actual, project.execution_rate) == \
        (98, 12.5, 12.5, 100)
    for key in ("self_score", "budget_full_year", "spending_actual", "execution_rate"):
        assert key not in ex.fields or ex.fields[key].value is None, key
    assert ex.fields["unit_name"].value == "某某县文化馆"


def test_department_report_keeps_its_score_and_money_as_its_own_fields():
    ex = run(DEPARTMENT_REPORT, [dict(f, quote=f["quote"].replace("98分。", "自评得分98分")) for f in FACTS])
    assert ex.projects == []
    assert ex.fields["self_score"].value == 98 and ex.fields["spending_actual"].value == 12.5


def test_project_report_that_names_no_project_sends_its_project_to_review():
    text = PROJECT_REPORT.replace("(2023年乡镇综合文化站免费开放补助资金)", "")
    ex = run(text, FACTS)
    assert [p.name for p in ex.projects] == [UNNAMED]
    assert ex.projects[0].status == "review" and "项目名称" in ex.projects[0].issues[0]
    assert ex.projects[0].score == 98


def test_project_name_is_read_from_label_brackets_or_title():
    assert project_name("项目名称    森林防火專項\n项目单位 某县林业局\n") == ("森林防火專項", "label")
    assert project_name("项目名称：农村公路养护，主管部门：某县交通运输局\n") == ("农村公路养护", "label")
    assert project_name("项目名称中江县农业水价综合改革项目主管部门某县水利局\n") == ("中江县农业水价综合改革项目", "label")
    assert project_name("某县图书馆2022年度项目支出绩效自评报告(2022年公共图书馆文化馆(站)免费开放经费)\n") == \
        ("2022年公共图书馆文化馆(站)免费开放经费", "title")
    assert project_name("某市某区林业局2024年度林业草原改革发展资金绩效评价表\n") == ("林业草原改革发展资金", "title")
    assert project_name("某县某局2022年度部门整体支出绩效自评报告\n") is None


def test_drafts_batches_and_header_cells_are_not_taken_for_a_project_name():
    for text in ("某县某局2023年度项目支出绩效自评报告（修订稿）\n", "某县某局2023年度项目支出绩效自评报告（第一批）\n",
                 "某县某局2023年度项目支出绩效自评表（一）\n", "2023年度本级项目支出绩效自评表\n",
                 "项目名称 | 项目类型 | 资金来源 |\n", "项目名称 | 见附表 |\n"):
        assert project_name(text) is None, text


def test_only_a_document_that_says_it_is_about_a_project_is_taken_for_one():
    assert is_project_document("某县某局2022年项目支出绩效自评表\n", [])
    assert project_signal("评分表\n", ["森林防火专项"]) == "tables"
    assert not is_project_document("某县某局2022年度部门整体支出绩效自评报告\n", [])
    assert not is_project_document("某县某局2022年度绩效自评报告\n一、基本情况\n", [])  # says neither
    # spaced out as a PDF copy prints it, traditional as a mirror site does, or a 部门 report by another name
    for title in ("某 县 交 通 运 输 局 2023 年 度 部 门 整 体 支 出 绩 效 自 评 报 告", "某縣衛生局2023年度部門整體支出績效自評報告",
                  "某县交通运输局2023年度部门支出绩效自评报告", "某县林业局2023年度绩效自评报告\n一、部门（单位）概况"):
        assert not is_project_document(title + "\n三、项目支出绩效情况\n", ["农村公路养护"]), title
    # a project table's 评价方式 line is not a department's title
    assert is_project_document("项目支出绩效自评表\n项目名称 森林防火专项\n评价方式:部门(单位)绩效自评\n", [])


def test_figures_read_in_the_text_of_a_document_that_never_says_it_is_about_a_project_go_to_review():
    from service.core.candidates import Candidate
    from service.core.project_docs import file_under_project
    from service.models import Evidence, Project

    projects = [Project(name="农村公路养护")]
    cands = [Candidate("self_score", 96, Evidence("自评得分96分", 0, 8), 1, "text")]
    assert file_under_project("某县某局2023年度绩效自评报告\n", cands, projects, "tables") == []
    assert projects[0].score == 96 and projects[0].status == "review"


def test_with_several_projects_a_figure_read_in_the_text_stays_a_field_for_review():
    from service.core.candidates import Candidate
    from service.core.project_docs import file_under_project
    from service.models import Evidence, Project

    projects = [Project(name="甲项目", execution_rate=100), Project(name="乙项目", execution_rate=98)]
    cands = [Candidate("execution_rate", 100, Evidence("预算执行率100%", 0, 9), 1, "text")]
    left = file_under_project("项目支出绩效自评表\n", cands, projects)
    assert [(c.field, c.value) for c in left] == [("execution_rate", 100)] and left[0].issue


def test_project_report_record_has_the_project_and_no_department_score_to_review(runner, tmp_path, monkeypatch):
    """As an operator runs it (`jixiao extract --engine llm`): the record a reviewer sees has the project's
    score and money under 项目, and the rules re-check does not propose them again as department fields."""
    import json

    from service.cli import cli

    (tmp_path / "p.txt").write_text(PROJECT_REPORT, encoding="utf-8")

    def answer(request):
        tool = request["tools"][0]["function"]["name"]
        if tool == "ListsModel":
            return {"problems": [], "measures": []}
        content = request["messages"][-1]["content"]
        return {"facts": [f for f in FACTS if f["quote"] in content]}

    with FakeOpenAI(answer) as server:
        for name, value in {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "t", "JIXIAO_MODEL": "m"}.items():
            monkeypatch.setenv(name, value)
        result = runner.invoke(cli, ["extract", "p.txt", "--engine", "llm", "--no-store", "--out", "out"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "p.json").read_text(encoding="utf-8"))
    assert [(p["name"], p["score"], p["execution_rate"]) for p in record["projects"]] == \
        [("2023年乡镇综合文化站免费开放补助资金", 98, 100)]
    for key in ("self_score", "execution_rate", "spending_actual"):
        assert record["fields"][key]["value"] is None, (key, record["fields"][key])


def test_a_stated_total_that_differs_from_the_project_tables_sends_the_project_to_review():
    from service.core.candidates import Candidate
    from service.core.project_docs import file_under_project
    from service.models import Evidence, Project

    projects = [Project(name="森林防火专项", score=95, spending_actual=None)]
    cands = [Candidate("self_score", 98, Evidence("自评得分98分", 0, 8), 1, "text"),
             Candidate("spending_actual", 55, Evidence("实际支出55万元", 9, 18), 1, "text"),
             Candidate("unit_name", "某县林业局", Evidence("某县林业局", 20, 25), 1, "text")]
    left = file_under_project("项目名称 森林防火专项\n", cands, projects)
    assert [c.field for c in left] == ["unit_name"]
    assert projects[0].spending_actual == 55 and projects[0].score == 95
    assert projects[0].status == "review" and "98" in projects[0].issues[0]
