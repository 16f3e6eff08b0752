"""A full disk is a clear error: nothing half-written, the rest of the batch goes on, the worker survives."""

from __future__ import annotations

import errno
from pathlib import Path

from service.cli import cli
from service.settings import load_settings
from service.store import Store
from service.worker import process_next, run_worker, store_upload
from tests.conftest import SAMPLES

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"
OTHER = SAMPLES / "002_6ebd5ff7b055c059.txt"


def test_a_file_that_does_not_fit_on_the_disk_is_not_stored_and_the_rest_of_the_batch_goes_on(
        runner, tmp_path, monkeypatch):
    real_write = Path.write_bytes

    def write_bytes(self, data):
        if "000_" in self.name:
            real_write(self, data[:10])  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    result = runner.invoke(cli, ["submit", str(REPORT), str(OTHER)], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert "磁盘已满" in result.output and "未保存" in result.output and "Traceback" not in result.output
    assert "新排队 1 个" in result.output
    uploads = tmp_path / "instance" / "uploads"
    leftovers = [p for p in uploads.rglob("*") if p.is_file()]
    assert [p.name for p in leftovers] == [OTHER.name]  # no .part file, no folder of the file not stored
    store = Store(str(tmp_path / "jixiao.db"))
    assert [j["name"] for j in store.jobs()] == [OTHER.name]
    store.close()


def test_a_database_on_a_full_disk_fails_the_write_with_a_chinese_reason_and_changes_nothing(tmp_path):
    store = Store(str(tmp_path / "jixiao.db"))
    job = store_upload(store, tmp_path / "uploads", REPORT.name, REPORT.read_bytes(), "oper")[0]
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL, as on a full disk
    settings = load_settings(env={}, db=str(tmp_path / "jixiao.db"), engine="rules")
    failed = process_next(store, settings)
    assert failed["state"] == "failed" and "磁盘已满" in failed["error"]
    assert store.review_items(job["sha256"]) == [] and failed["run_id"] is None  # nothing half-written
    store.db.execute("PRAGMA max_page_count = 1073741823")  # space freed: retried, the job goes through
    assert store.retry_job(job["sha256"], "oper")
    assert run_worker(store, settings, until_empty=True) == 1
    assert store.job(job["sha256"])["state"] == "review"
    store.close()
