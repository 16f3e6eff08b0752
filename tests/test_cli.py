"""The CLI as an operator uses it: batches, summaries, bad input, the demo."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import sqlite_utils

from service.cli import cli
from tests.conftest import SAMPLES

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"


def _db_documents(tmp_path) -> list[str]:
    db = sqlite_utils.Database(tmp_path / "jixiao.db")
    return [r["name"] for r in db["documents"].rows] if "documents" in db.table_names() else []


def test_extract_writes_one_record_per_file_and_a_summary(runner, tmp_path, sample_paths):
    result = runner.invoke(cli, ["extract", *map(str, sample_paths), "--out", "out"])
    assert result.exit_code == 0, result.output
    for p in sample_paths:
        record = json.loads((tmp_path / "out" / f"{p.stem}.json").read_text(encoding="utf-8"))
        assert record["source"]["name"] == p.name
        assert record["fields"]["unit_name"]["value"]
    assert "处理结果" in result.output and "待复核" in result.output
    assert "成功 5 个，失败 0 个" in result.output
    assert len(_db_documents(tmp_path)) == 5


def test_record_values_carry_evidence_offsets(runner, tmp_path):
    runner.invoke(cli, ["extract", str(REPORT), "--out", "out"])
    record = json.loads((tmp_path / "out" / f"{REPORT.stem}.json").read_text(encoding="utf-8"))
    text = REPORT.read_text(encoding="utf-8")
    budget = record["fields"]["budget_initial"]
    assert budget["value"] == 1045.9
    ev = budget["evidence"]
    assert text[ev["start"]:ev["end"]] == ev["quote"] and "1045.9" in ev["quote"]


def test_same_file_twice_is_one_document(runner, tmp_path):
    copy = tmp_path / "copy.txt"
    shutil.copy(REPORT, copy)
    result = runner.invoke(cli, ["extract", str(REPORT), str(copy), "--out", "out"])
    assert result.exit_code == 0, result.output
    assert len(_db_documents(tmp_path)) == 1


def test_folder_input_processes_the_files_inside(runner, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(REPORT, folder / "a.txt")
    result = runner.invoke(cli, ["extract", str(folder), "--out", "out"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "a.json").exists()


def test_report_with_wrong_extension_is_read_by_content(runner, tmp_path):
    disguised = tmp_path / "report.pdf"
    disguised.write_bytes(REPORT.read_bytes())
    no_ext = tmp_path / "report2"
    no_ext.write_bytes(REPORT.read_bytes())
    result = runner.invoke(cli, ["extract", str(disguised), str(no_ext), "--out", "out"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.json").exists() and (tmp_path / "out" / "report2.json").exists()


def test_gbk_encoded_report_is_decoded(runner, tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(REPORT.read_text(encoding="utf-8").encode("gb18030"))
    result = runner.invoke(cli, ["extract", str(gbk), "--out", "out"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "gbk.json").read_text(encoding="utf-8"))
    assert record["fields"]["unit_name"]["value"] == "衡山县岭坡乡人民政府"


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


BAD_INPUTS = {
    "empty.txt": (b"", "文件为空"),
    "blank.txt": (b"  \n\n ", "文件为空"),
    "garbage.bin": (bytes(range(256)) * 40, "无法识别的文件类型"),
    "broken.pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", "PDF 文件损坏"),
    "sheet.docx": (_xlsx_bytes(), "Excel"),
    "broken.docx": (b"PK\x03\x04" + b"\x00" * 200, "损坏"),
    "archive.zip": (b"PK\x03\x04", "损坏"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_reported_and_the_rest_of_the_batch_goes_on(runner, tmp_path, name):
    data, reason = BAD_INPUTS[name]
    bad = tmp_path / name
    bad.write_bytes(data)
    result = runner.invoke(cli, ["extract", str(bad), str(REPORT), "--out", "out"])
    assert result.exit_code == 1
    assert name in result.output and reason in result.output
    assert not (tmp_path / "out" / f"{bad.stem}.json").exists()
    assert (tmp_path / "out" / f"{REPORT.stem}.json").exists()
    assert _db_documents(tmp_path) == [REPORT.name]


def test_file_over_the_size_limit_is_refused(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("JIXIAO_MAX_UPLOAD_MB", "0.01")
    result = runner.invoke(cli, ["extract", str(REPORT), "--out", "out"])
    assert result.exit_code == 1
    assert "文件过大" in result.output and REPORT.name in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_missing_file_is_reported_by_name(runner, tmp_path):
    result = runner.invoke(cli, ["extract", "nope.txt", str(REPORT), "--out", "out"])
    assert result.exit_code == 1
    assert "nope.txt" in result.output and "文件不存在" in result.output
    assert (tmp_path / "out" / f"{REPORT.stem}.json").exists()


def test_unexpected_error_in_one_file_does_not_stop_the_batch(runner, tmp_path, monkeypatch):
    import service.pipeline as pipeline

    real = pipeline.split_sections

    def flaky(doc):
        if doc.name == "boom.txt":
            raise RuntimeError("simulated bug")
        return real(doc)

    monkeypatch.setattr(pipeline, "split_sections", flaky)
    boom = tmp_path / "boom.txt"
    shutil.copy(SAMPLES / "002_6ebd5ff7b055c059.txt", boom)
    result = runner.invoke(cli, ["extract", str(boom), str(REPORT), "--out", "out"])
    assert result.exit_code == 1
    assert "boom.txt" in result.output and "内部错误" in result.output
    assert _db_documents(tmp_path) == [REPORT.name]


def test_demo_loads_the_eight_demo_reports_into_the_database(runner, tmp_path, monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JIXIAO_MODEL", "JIXIAO_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(cli, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "未配置大模型接口，回放录制好的大模型回答" in result.output  # the LLM path, without a key
    assert "已将 8 份报告载入数据库" in result.output
    assert "用户名 demo  密码" in result.output  # a log-in for the review app
    assert len(_db_documents(tmp_path)) == 8
    db = sqlite_utils.Database(tmp_path / "jixiao.db")
    assert {r["engine"] for r in db["extraction_runs"].rows} == {"llm"}
    assert "青岚县水利局" in result.output and "待审核" in result.output  # each read, each waiting for review


def test_demo_with_the_rules_engine_needs_no_recordings(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    result = runner.invoke(cli, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "离线规则引擎" in result.output
    db = sqlite_utils.Database(tmp_path / "jixiao.db")
    assert {r["engine"] for r in db["extraction_runs"].rows} == {"rules"}


def test_settings_command_lists_every_setting(runner):
    result = runner.invoke(cli, ["settings"])
    assert result.exit_code == 0
    assert "JIXIAO_DB" in result.output and "JIXIAO_MAX_UPLOAD_MB" in result.output


def test_form_feeds_in_a_text_report_are_page_breaks(runner, tmp_path):
    paged = tmp_path / "paged.txt"
    paged.write_text("第一页内容\n\f第二页内容\n\f第三页：2023年度政府采购支出12.5万元。\n", encoding="utf-8")
    result = runner.invoke(cli, ["extract", str(paged), "--out", "out"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "paged.json").read_text(encoding="utf-8"))
    assert record["source"]["pages"] == 3
    from service.ingest import load

    doc = load(paged)
    start = record["fields"]["procurement_actual"]["evidence"]["start"]
    assert doc.page_at(start) == 3


def test_auto_engine_says_it_uses_the_offline_rules_without_an_endpoint(runner, monkeypatch):
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JIXIAO_MODEL", "JIXIAO_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(cli, ["extract", str(REPORT), "--out", "out"])
    assert result.exit_code == 0
    assert "未配置大模型接口，使用离线规则" in result.output


def test_resumed_batch_skips_files_already_done_and_processes_the_rest(runner, tmp_path, sample_paths):
    first = runner.invoke(cli, ["extract", str(sample_paths[0]), "--out", "out"])
    assert first.exit_code == 0
    before = (tmp_path / "out" / f"{sample_paths[0].stem}.json").stat().st_mtime_ns
    result = runner.invoke(cli, ["extract", *map(str, sample_paths[:2]), "--out", "out", "--resume"])
    assert result.exit_code == 0, result.output
    assert "已完成，跳过" in result.output
    assert (tmp_path / "out" / f"{sample_paths[0].stem}.json").stat().st_mtime_ns == before
    assert (tmp_path / "out" / f"{sample_paths[1].stem}.json").exists()
    db = sqlite_utils.Database(tmp_path / "jixiao.db")
    assert db["extraction_runs"].count == 2  # one run each, the first not redone


def test_users_add_asks_for_the_password_twice_and_stores_it_hashed(runner, tmp_path):
    result = runner.invoke(cli, ["users", "add", "王芳", "--role", "reviewer"], input="a-long-password\na-long-password\n")
    assert result.exit_code == 0, result.output
    assert "已添加用户 王芳" in result.output
    (user,) = sqlite_utils.Database(tmp_path / "jixiao.db")["users"].rows
    assert user["role"] == "reviewer" and "a-long-password" not in user["password_hash"]


def test_users_add_refuses_a_short_password_and_a_duplicate_name(runner):
    result = runner.invoke(cli, ["users", "add", "王芳", "--role", "reviewer", "--password", "short"])
    assert result.exit_code == 1 and "密码至少 8 位" in result.output
    runner.invoke(cli, ["users", "add", "王芳", "--role", "reviewer", "--password", "a-long-password"])
    result = runner.invoke(cli, ["users", "add", "王芳", "--role", "admin", "--password", "a-long-password"])
    assert result.exit_code == 1 and "用户 王芳 已存在" in result.output


def test_worker_extracts_what_was_uploaded_and_stops_when_the_queue_is_empty(runner, tmp_path, monkeypatch):
    from service.store import Store
    from service.worker import store_upload

    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    store = Store(str(tmp_path / "jixiao.db"))
    job, _ = store_upload(store, tmp_path / "uploads", REPORT.name, REPORT.read_bytes(), "oper")
    result = runner.invoke(cli, ["worker", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "已处理 1 个任务" in result.output
    assert store.job(job["sha256"])["state"] == "review"


@pytest.mark.slow  # worker child processes are started
def test_worker_with_two_processes_extracts_every_queued_report_once(runner, tmp_path, monkeypatch):
    from service.store import Store
    from service.worker import store_upload

    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    store = Store(str(tmp_path / "jixiao.db"))
    jobs = [store_upload(store, tmp_path / "uploads", p.name, p.read_bytes(), "oper")[0]
            for p in sorted(SAMPLES.glob("*.txt"))]
    result = runner.invoke(cli, ["worker", "--lane", "text", "--processes", "2", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "2 个同时处理" in result.output and f"已处理 {len(jobs)} 个任务" in result.output
    for job in jobs:
        assert store.job(job["sha256"])["state"] == "review"
        assert [a["action"] for a in store.audit_entries(job["sha256"])].count("extracted") == 1
    store.close()


def test_export_writes_the_confirmed_records_in_each_format(runner, tmp_path, monkeypatch):
    import openpyxl

    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    assert runner.invoke(cli, ["demo", "--no-serve"]).exit_code == 0
    from service.review import record_from_items
    from service.store import Store

    store = Store(str(tmp_path / "jixiao.db"))
    sha = min(store.jobs(), key=lambda j: j["flagged"])["sha256"]
    for item in [i for i in store.review_items(sha) if i["status"] == "review"]:  # a reviewer accepts them
        store.save_item(sha, item["item"], item["version"], item["value"], "confirmed", "rev", "accept")
    store.confirm(sha, "rev", record_from_items({"name": store.job(sha)["name"]}, store.review_items(sha)))
    result = runner.invoke(cli, ["export", "--format", "xlsx", "--out", "out.xlsx"])
    assert result.exit_code == 0 and "已导出 1 份" in result.output
    assert openpyxl.load_workbook(tmp_path / "out.xlsx").sheetnames[:2] == ["报告", "评分表"]
    assert runner.invoke(cli, ["export", "--format", "json", "--out", "json"]).exit_code == 0
    assert len(list((tmp_path / "json").glob("*.json"))) == 1
    assert runner.invoke(cli, ["export", "--format", "csv", "--out", "r.csv"]).exit_code == 0
    assert (tmp_path / "r.csv").exists() and (tmp_path / "r_indicators.csv").exists()


def _submit_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(SAMPLES / "000_8d720d4fc0889d24.txt", folder / "a.txt")
    shutil.copy(SAMPLES / "001_dea89b1d5430c4b7.txt", folder / "b.txt")
    (folder / "bad.pdf").write_bytes(b"\x00\x01 not a pdf")
    (folder / "empty.txt").write_bytes(b"")
    return folder


def _jobs(tmp_path: Path) -> dict[str, str]:
    db = sqlite_utils.Database(tmp_path / "jixiao.db")
    return {r["name"]: r["state"] for r in db["jobs"].rows}


def test_submit_queues_a_folder_for_review_and_refuses_bad_files_by_name(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    result = runner.invoke(cli, ["submit", str(_submit_folder(tmp_path)), "--user", "李明"])
    assert result.exit_code == 1  # two files were refused
    assert "新排队 2 个，已上传过 0 个，拒绝 2 个" in result.output
    assert "文件为空" in result.output and "已拒绝" in result.output
    assert _jobs(tmp_path) == {"a.txt": "queued", "b.txt": "queued"}  # nothing kept for the refused files
    assert len(list((tmp_path / "instance" / "uploads").iterdir())) == 2
    db = sqlite_utils.Database(tmp_path / "jixiao.db")
    assert {r["uploaded_by"] for r in db["jobs"].rows} == {"李明"}


def test_submit_with_run_extracts_into_the_review_queue_and_a_resubmit_is_a_duplicate(runner, tmp_path,
                                                                                        monkeypatch):
    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    folder = _submit_folder(tmp_path)
    (folder / "bad.pdf").unlink()
    (folder / "empty.txt").unlink()
    result = runner.invoke(cli, ["submit", str(folder), "--run"])
    assert result.exit_code == 0, result.output
    assert _jobs(tmp_path) == {"a.txt": "review", "b.txt": "review"}
    assert "待审核" in result.output and "已处理完毕" in result.output
    again = runner.invoke(cli, ["submit", str(folder / "a.txt")])
    assert again.exit_code == 0
    assert "已上传过 1 个" in again.output
    assert len(_jobs(tmp_path)) == 2


def test_submit_of_a_missing_or_oversize_file_says_so_and_queues_the_rest(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("JIXIAO_MAX_UPLOAD_MB", "1")
    shutil.copy(SAMPLES / "002_6ebd5ff7b055c059.txt", tmp_path / "c.txt")
    (tmp_path / "big.pdf").write_bytes(b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024))
    result = runner.invoke(cli, ["submit", "nowhere.docx", "big.pdf", "c.txt"])
    assert result.exit_code == 1
    assert "文件不存在" in result.output and "文件过大" in result.output
    assert _jobs(tmp_path) == {"c.txt": "queued"}


def test_a_folders_files_that_are_no_report_are_skipped_and_named(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("JIXIAO_ENGINE", "rules")
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(SAMPLES / "000_8d720d4fc0889d24.txt", folder / "a.txt")
    (folder / "README.md").write_text("# 这些是今年的报告\n", encoding="utf-8")
    (folder / "名单.xlsx").write_bytes(b"PK\x03\x04 not read")
    result = runner.invoke(cli, ["submit", str(folder)])
    assert result.exit_code == 0, result.output
    assert "已跳过 2 个不是报告的文件（README.md、名单.xlsx）" in result.output
    assert _jobs(tmp_path) == {"a.txt": "queued"}
    named = runner.invoke(cli, ["submit", str(folder / "README.md")])  # named on its own, its content decides
    assert "已跳过" not in named.output and "README.md" in _jobs(tmp_path)
