"""The job queue and its worker: uploads are extracted once, whatever happens to a worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from service.errors import StoreError
from service.store import Store
from service.worker import process_next, run_worker, store_upload
from tests.conftest import ROOT, SAMPLES

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"


def upload(store, tmp_path, path=REPORT):
    return store_upload(store, tmp_path / "uploads", path.name, path.read_bytes(), "oper")[0]


def test_an_upload_is_extracted_into_review_items_and_waits_for_review(store, settings, tmp_path):
    job = upload(store, tmp_path)
    done = process_next(store, settings)
    assert done["state"] == "review" and done["attempts"] == 1
    assert done["unit_name"] == "衡山县岭坡乡人民政府" and done["fiscal_year"] == 2023 and done["flagged"] == 3
    items = store.review_items(job["sha256"])
    assert {i["kind"] for i in items} == {"field", "indicator", "project", "list"}
    assert process_next(store, settings) is None  # nothing else queued


def test_the_same_bytes_uploaded_twice_are_one_job(store, tmp_path):
    first = upload(store, tmp_path)
    again, created = store_upload(store, tmp_path / "uploads", "copy.txt", REPORT.read_bytes(), "someone")
    assert not created and again["sha256"] == first["sha256"] and len(store.jobs()) == 1


@pytest.mark.slow  # a worker process is started and killed
def test_a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(store, settings, tmp_path):
    job = upload(store, tmp_path)
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from service.settings import load_settings
        from service.store import Store
        from service.worker import process_next
        settings = load_settings(db={settings.db!r}, engine="rules")
        def dies(doc, sections):
            os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of extracting
        process_next(Store(settings.db), settings, dies)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9
    assert store.job(job["sha256"])["state"] == "extracting"  # claimed by a worker that is gone
    assert process_next(store, settings) is None  # its lease has not run out yet
    done = process_next(store, settings.replace(job_lease_s=0))  # the lease ran out: claimed again
    assert done["state"] == "review" and done["attempts"] == 2
    assert store.document_count() == 1 and store.run_count() == 1
    assert len(store.jobs()) == 1


def test_a_late_result_from_a_worker_that_lost_its_job_is_not_saved(store, settings, tmp_path):
    job = upload(store, tmp_path)
    assert store.claim_job("slow-worker", lease_s=900)["sha256"] == job["sha256"]
    process_next(store, settings.replace(job_lease_s=0), worker="fast-worker")  # the lease ran out
    with pytest.raises(StoreError, match="已不属于本进程"):
        store.complete_job(job["sha256"], "slow-worker", None, [], None, {}, [])
    assert store.run_count() == 1


def test_a_file_that_cannot_be_read_fails_with_its_reason_and_the_next_job_goes_on(store, settings, tmp_path):
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"%PDF-1.4\n" + b"broken" * 50)
    failed = upload(store, tmp_path, bad)
    good = upload(store, tmp_path)
    assert run_worker(store, settings, until_empty=True) == 2
    assert store.job(failed["sha256"])["state"] == "failed"
    assert "scan.pdf" in store.job(failed["sha256"])["error"]
    assert store.job(good["sha256"])["state"] == "review"
    assert store.review_items(failed["sha256"]) == []


def test_an_unexpected_error_fails_the_job_with_a_plain_message(store, settings, tmp_path):
    job = upload(store, tmp_path)

    def broken(doc, sections):
        raise KeyError("boom")

    done = process_next(store, settings, broken)
    assert done["state"] == "failed" and "内部错误" in done["error"]
    assert store.retry_job(job["sha256"], "oper") and store.job(job["sha256"])["state"] == "queued"
    assert not store.retry_job(job["sha256"], "oper")  # only a failed job is retried


def test_a_write_waits_for_another_connections_write_instead_of_failing(settings, tmp_path):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    web, worker = Store(settings.db), Store(settings.db)
    worker.db.execute("BEGIN IMMEDIATE")  # the worker is in the middle of saving a result
    worker.db.execute("UPDATE users SET active = 1")
    asked = threading.Event()  # the web's write transaction has begun, against the worker's lock
    web.db.conn.set_trace_callback(lambda sql: asked.set() if sql.startswith("BEGIN IMMEDIATE") else None)
    with ThreadPoolExecutor(1) as pool:
        upload = pool.submit(store_upload, web, tmp_path / "uploads", REPORT.name, REPORT.read_bytes(), "oper")
        assert asked.wait(timeout=30)
        worker.db.execute("COMMIT")  # only now can the web's write go ahead
        job, created = upload.result(timeout=30)
    assert created and web.job(job["sha256"])["state"] == "queued"
