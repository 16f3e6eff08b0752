"""`jixiao extract --engine llm` against a local OpenAI-compatible server (no network, no key)."""

from __future__ import annotations

import json
import logging

import pytest

from service.cli import cli
from tests.llm_server import FakeOpenAI

logging.getLogger("instructor").setLevel(logging.CRITICAL)

REPORT = ("2023年度某某县某某局部门整体支出绩效自评报告\n\n一、部门支出情况\n"
          "2023年度部门支出合计1498.12万元，其中：基本支出856.34万元，项目支出641.78万元。\n")


def answer(request: dict) -> dict:
    """What a competent model answers for this report's one facts prompt."""
    prompt = request["messages"][-1]["content"]
    assert "1498.12" in prompt
    return {"facts": [
        {"key": "unit_name", "value": "某某县某某局", "unit": None, "quote": "2023年度某某县某某局部门整体支出绩效自评报告"},
        {"key": "fiscal_year", "value": "2023", "unit": None, "quote": "2023年度某某县某某局部门整体支出绩效自评报告"},
        {"key": "expense_total", "value": 1498.12, "unit": "万元", "quote": "部门支出合计1498.12万元"},
        {"key": "expense_basic", "value": 856.34, "unit": "万元", "quote": "基本支出856.34万元"},
        {"key": "expense_project", "value": 641.78, "unit": "万元", "quote": "项目支出641.78万元"},
    ]}


def point_at(server, monkeypatch, **extra) -> None:
    """Configure the LLM endpoint as an operator would, by environment."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("JIXIAO_MODEL", "test-model")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def test_llm_engine_extracts_with_evidence_and_reports_usage(runner, tmp_path, monkeypatch):
    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    with FakeOpenAI(answer) as server:
        point_at(server, monkeypatch)
        result = runner.invoke(cli, ["extract", "r.txt", "--out", "out"])
        again = runner.invoke(cli, ["extract", "r.txt", "--out", "out2"])
        requests = len(server.requests)
    assert result.exit_code == 0, result.output
    assert "提取引擎：大模型（test-model）" in result.output and "tokens" in result.output
    record = json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))
    basic = record["fields"]["expense_basic"]
    assert basic["value"] == 856.34 and basic["status"] == "accepted"
    assert REPORT[basic["evidence"]["start"]:basic["evidence"]["end"]] == "基本支出856.34万元"
    assert record["engine"]["name"] == "llm"
    assert again.exit_code == 0 and requests == 1  # the second run is answered from the cache


def test_llm_engine_without_an_endpoint_is_a_clear_error(runner, tmp_path, monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JIXIAO_MODEL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    result = runner.invoke(cli, ["extract", "r.txt", "--out", "out", "--engine", "llm"])
    assert result.exit_code != 0
    assert "未配置大模型接口" in result.output
    assert not (tmp_path / "out").exists()


def test_usage_is_stored_per_call_and_per_document(runner, tmp_path, monkeypatch):
    import sqlite_utils

    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    with FakeOpenAI(answer) as server:
        point_at(server, monkeypatch, JIXIAO_LLM_PRICE_IN_PER_1K="0.001")
        result = runner.invoke(cli, ["extract", "r.txt", "--out", "out"])
    assert result.exit_code == 0, result.output
    run = next(sqlite_utils.Database(tmp_path / "jixiao.db")["extraction_runs"].rows)
    stats = json.loads(run["stats"])
    assert stats["llm_requests"] == 1 and stats["prompt_tokens"] > 0 and stats["cost"] > 0
    assert stats["llm_call_log"][0]["prompt"] == "facts" and stats["llm_call_log"][0]["requests"] == 1


def test_value_the_model_read_from_the_wrong_label_goes_to_review(runner, tmp_path, monkeypatch):
    def wrong_label(request: dict) -> dict:  # passes the quote checks, but 641.78 is the 项目支出
        return {"facts": [{"key": "expense_basic", "value": 641.78, "unit": "万元", "quote": "项目支出641.78万元"}]}

    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    with FakeOpenAI(wrong_label) as server:
        point_at(server, monkeypatch)
        result = runner.invoke(cli, ["extract", "r.txt", "--out", "out"])
    assert result.exit_code == 0, result.output
    basic = json.loads((tmp_path / "out" / "r.json").read_text(encoding="utf-8"))["fields"]["expense_basic"]
    assert basic["value"] == 641.78 and basic["status"] == "review"
    assert any("856.34" in issue for issue in basic["issues"])


@pytest.mark.slow  # `--run` starts a worker child process, twice
def test_documents_extracted_during_an_llm_outage_are_extracted_again_once_it_is_back(runner, tmp_path, monkeypatch):
    """The model down: the document lands in review with its fields 请求失败; `jixiao reextract --llm-failures`
    queues it again and, with the model back, its values come back; a reviewer's confirmation stays."""
    from service.store import Store
    from tests.llm_server import HTTPFailure

    (tmp_path / "r.txt").write_text(REPORT, encoding="utf-8")
    state = {"down": True}

    def maybe(request):
        return HTTPFailure(500, "overloaded") if state["down"] else answer(request)

    with FakeOpenAI(maybe) as server:
        point_at(server, monkeypatch, JIXIAO_LLM_HTTP_RETRIES="0")
        first = runner.invoke(cli, ["submit", "r.txt", "--run"])
        assert first.exit_code == 0, first.output
        store = Store(str(tmp_path / "jixiao.db"))
        sha = store.jobs()[0]["sha256"]
        items = {i["item"]: i for i in store.review_items(sha)}
        assert items["field:expense_basic"]["status"] == "review"  # only the rules extractor's proposal
        assert store.jobs_to_reextract(llm_failures=True) == [sha]
        year = items["field:fiscal_year"]
        store.save_item(sha, "field:fiscal_year", year["version"], 2023, "corrected", "rev", "correct")
        state["down"] = False
        again = runner.invoke(cli, ["reextract", "--llm-failures", "--run"])
    assert again.exit_code == 0, again.output
    assert "已重新排队 1 份" in again.output
    items = {i["item"]: i for i in store.review_items(sha)}
    assert items["field:expense_basic"]["value"] == 856.34 and items["field:expense_basic"]["status"] == "accepted"
    assert items["field:fiscal_year"]["status"] == "corrected" and items["field:fiscal_year"]["updated_by"] == "rev"
    assert "reextract" in [a["action"] for a in store.audit_entries(sha)]
    assert store.jobs_to_reextract(llm_failures=True) == []
    store.close()


def test_reextracting_an_unknown_document_is_a_clear_error(runner):
    result = runner.invoke(cli, ["reextract", "0123456789abcdef"])
    assert result.exit_code == 1 and "找不到文档 0123456789abcdef" in result.output
    result = runner.invoke(cli, ["reextract"])
    assert result.exit_code == 1 and "没有要重新提取的文档" in result.output
