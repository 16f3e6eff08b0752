"""The queue cannot be stalled: leases renewed while a job runs, a cap on attempts, a child process with time
and memory limits, cancel, lanes for scans and text, and re-extraction that keeps what reviewers settled."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest

from service.isolate import ChildRunner
from service.pipeline import RulesEngine
from service.store import Store
from service.worker import SCAN_LANE, TEXT_LANE, lanes_of, process_next, run_worker, store_upload
from tests.conftest import SAMPLES, wait_until
from tests.scans import find_cjk_font, render_pages

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"
OTHER = SAMPLES / "002_6ebd5ff7b055c059.txt"


def upload(store, tmp_path, path=REPORT, name=None, data=None):
    data = data if data is not None else path.read_bytes()
    return store_upload(store, tmp_path / "uploads", name or path.name, data, "oper")[0]


class HeldEngine(RulesEngine):
    """The rules engine, held until the test lets it go, as a long scan or a slow model would hold a job."""

    def __init__(self, settings):
        super().__init__(settings)
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, doc, sections):
        self.started.set()
        assert self.release.wait(timeout=60)  # a hang guard: the test lets it go at once
        return super().__call__(doc, sections)


@pytest.fixture
def lease_clock(monkeypatch):
    """The store's clock for leases (when a job was claimed or renewed, and whether that is longer ago than the
    lease): it stands still but when the test moves it on with `advance(seconds)`."""
    from service.store import workflow

    class LeaseClock(datetime):
        at = datetime(2024, 3, 1, tzinfo=UTC)

        @classmethod
        def now(cls, tz=None):
            return cls.at

        @classmethod
        def advance(cls, seconds: float) -> None:
            cls.at += timedelta(seconds=seconds)

    monkeypatch.setattr(workflow, "datetime", LeaseClock)
    return LeaseClock


@pytest.fixture(scope="module")
def scan_png(tmp_path_factory) -> bytes:
    font = find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (make test installs fonts-wqy-zenhei)")
    path = tmp_path_factory.mktemp("scan") / "scan.png"
    render_pages(REPORT.read_text(encoding="utf-8")[:1500], font)[0].save(path)
    return path.read_bytes()


def test_a_job_longer_than_its_lease_finishes_once_while_two_workers_run(store, settings, tmp_path, lease_clock,
                                                                         monkeypatch):
    """The job runs three quarters of a lease three times over on the store's clock, the heartbeat renewing
    the lease in between; the other worker asks for a job after each stretch and gets none."""
    settings = settings.replace(job_lease_s=1.5)  # the heartbeat renews every 0.5 s (of the wall clock)
    job = upload(store, tmp_path)
    renewed, renew = threading.Event(), Store.renew_lease

    def renew_and_tell(self, sha256, worker):
        try:
            return renew(self, sha256, worker)
        finally:
            renewed.set()

    monkeypatch.setattr(Store, "renew_lease", renew_and_tell)
    other, given_to_the_other, runs = Store(settings.db), [], []

    class LongerThanItsLease(RulesEngine):
        def __call__(self, doc, sections):
            runs.append(doc.name)
            for _ in range(3):
                renewed.clear()
                assert renewed.wait(timeout=30)
                lease_clock.advance(0.75 * settings.job_lease_s)
                given_to_the_other.append(process_next(other, settings))
            return super().__call__(doc, sections)

    done = process_next(store, settings, LongerThanItsLease(settings))
    other.close()
    assert given_to_the_other == [None, None, None]  # 2.25 leases in all, but never one since the last renewal
    assert done["state"] == "review" and done["attempts"] == 1 and len(runs) == 1
    actions = [a["action"] for a in store.audit_entries(job["sha256"])]
    assert "failed" not in actions and actions.count("extracted") == 1


def test_a_job_whose_worker_keeps_dying_is_parked_as_failed_and_the_queue_goes_on(store, settings, tmp_path):
    poison = upload(store, tmp_path)
    for n in range(settings.job_max_attempts):  # each claim's worker dies: nobody renews its lease
        assert store.claim_job(f"dead-{n}", lease_s=0, max_attempts=settings.job_max_attempts)["sha256"] == \
            poison["sha256"]
    after = upload(store, tmp_path, OTHER)
    done = process_next(store, settings.replace(job_lease_s=0))
    assert done["sha256"] == after["sha256"] and done["state"] == "review"
    parked = store.job(poison["sha256"])
    assert parked["state"] == "failed" and f"已处理 {settings.job_max_attempts} 次均未完成" in parked["error"]
    assert process_next(store, settings) is None  # it does not come back by itself


@pytest.mark.slow  # two worker child processes are started
def test_a_job_past_the_time_limit_is_stopped_in_its_child_and_the_next_job_runs(store, settings, tmp_path,
                                                                                 monkeypatch):
    """The first job waits on a model that never answers (an address that takes the request and says
    nothing), so only the time limit ends it; the next job, in a fresh child, gets the default limit."""
    stuck, then = upload(store, tmp_path), upload(store, tmp_path, OTHER)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        runner = ChildRunner(settings.replace(engine="llm", model="test-model", job_timeout_s=1))
        try:
            assert process_next(store, settings, runner=runner)["sha256"] == stuck["sha256"]
            runner.settings = settings  # the rules, and a limit long enough to be only a hang guard
            assert process_next(store, settings, runner=runner)["sha256"] == then["sha256"]
        finally:
            runner.close()
    failed = store.job(stuck["sha256"])
    assert failed["state"] == "failed" and "处理超过时限（1 秒" in failed["error"]
    assert store.job(then["sha256"])["state"] == "review"  # the same worker, a fresh child


@pytest.mark.slow  # the child fills 600 MB before it is stopped
def test_a_document_needing_more_memory_than_the_limit_fails_alone(store, settings, tmp_path):
    big = upload(store, tmp_path, name="big.txt", data=("部门整体支出绩效自评报告 " * 2_000_000).encode("utf-8"))
    text = upload(store, tmp_path)
    settings = settings.replace(job_memory_mb=600, max_upload_mb=200)
    assert run_worker(store, settings, until_empty=True, isolate=True, poll_s=0.1) == 2
    failed = store.job(big["sha256"])
    assert failed["state"] == "failed" and "内存" in failed["error"] and "job_memory_mb" in failed["error"]
    assert store.job(text["sha256"])["state"] == "review"


def test_an_operator_cancels_a_running_job_and_nothing_of_it_is_written(store, settings, tmp_path):
    job = upload(store, tmp_path)
    engine = HeldEngine(settings)
    worker = threading.Thread(target=process_next, args=(Store(settings.db), settings, engine))
    worker.start()
    assert engine.started.wait(timeout=60)
    assert store.job(job["sha256"])["state"] == "extracting"
    assert store.cancel_job(job["sha256"], "oper")
    engine.release.set()
    worker.join(timeout=60)
    done = store.job(job["sha256"])
    assert done["state"] == "failed" and "取消" in done["error"] and done["run_id"] is None
    assert store.review_items(job["sha256"]) == []
    assert "cancel" in [a["action"] for a in store.audit_entries(job["sha256"])]


def test_a_queued_job_cancelled_never_runs(store, settings, tmp_path):
    job = upload(store, tmp_path)
    assert store.cancel_job(job["sha256"], "oper")
    assert process_next(store, settings) is None
    assert store.job(job["sha256"])["error"] == "已由 oper 取消"


def test_a_text_report_is_not_held_up_by_a_scan_queued_before_it(store, settings, tmp_path, scan_png):
    scan = upload(store, tmp_path, name="scan.png", data=scan_png)
    text = upload(store, tmp_path)
    assert (store.job(scan["sha256"])["lane"], store.job(text["sha256"])["lane"]) == (SCAN_LANE, TEXT_LANE)
    done = process_next(store, settings, lanes=(TEXT_LANE,))
    assert done["sha256"] == text["sha256"] and done["state"] == "review"
    assert store.job(scan["sha256"])["state"] == "queued"
    assert process_next(store, settings, lanes=(TEXT_LANE,)) is None
    assert lanes_of(settings) == [(TEXT_LANE,), (SCAN_LANE,)]  # jixiao serve runs one worker for each


def test_re_extraction_keeps_what_a_reviewer_confirmed_or_corrected(store, settings, tmp_path):
    job = upload(store, tmp_path)
    sha = job["sha256"]
    process_next(store, settings)
    items = {i["item"]: i for i in store.review_items(sha)}
    unit, year = items["field:unit_name"], items["field:fiscal_year"]
    store.save_item(sha, "field:unit_name", unit["version"], "衡山县岭坡乡人民政府（更正）", "corrected", "rev",
                    "correct")
    store.save_item(sha, "field:fiscal_year", year["version"], year["value"], "confirmed", "rev", "accept")
    assert store.reextract_job(sha, "admin")
    done = process_next(store, settings)
    assert done["state"] == "review"
    after = {i["item"]: i for i in store.review_items(sha)}
    assert after["field:unit_name"]["value"] == "衡山县岭坡乡人民政府（更正）"
    assert after["field:unit_name"]["status"] == "corrected"
    assert after["field:fiscal_year"]["status"] == "confirmed"
    assert len(after) == len(items)  # no item lost or doubled
    actions = [a["action"] for a in store.audit_entries(sha)]
    assert actions.count("extracted") == 2 and "reextract" in actions


def test_a_text_report_uploaded_with_a_long_scan_is_in_review_before_the_scan_ends_and_the_scan_shows_pages(
        store, settings, tmp_path, monkeypatch):
    """The two lanes of `jixiao serve`, each with its worker; OCR made simple, and held on the scan's second
    page until the text report, uploaded after it, is in review."""
    import io

    from PIL import Image

    import service.ingest.ocr as ocr

    watcher, progress = Store(settings.db), []
    on_page_two, text_in_review = threading.Event(), threading.Event()

    def held_ocr(image, number, builder, settings):
        progress.append(watcher.job(scan["sha256"])["progress"])  # what the operator sees while the page is read
        if number == 2:
            on_page_two.set()
            assert text_in_review.wait(timeout=60)  # a hang guard: the test lets it go
        builder.start_page(number, ocr=True)
        builder.add_ocr_line(number, f"某某县某某局2023年度部门整体支出绩效自评报告 第{number}页", 0.99)

    monkeypatch.setattr(ocr, "ocr_image", held_ocr)
    pages = [Image.new("RGB", (850, 1100), "white") for _ in range(4)]
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=100)
    scan = upload(store, tmp_path, name="scan.pdf", data=buf.getvalue())
    text = upload(store, tmp_path)
    assert store.job(scan["sha256"])["lane"] == SCAN_LANE
    stop = threading.Event()
    workers = [threading.Thread(target=run_worker, args=(Store(settings.db), settings),
                                kwargs={"stop": stop, "poll_s": 0.05, "lanes": lane}) for lane in lanes_of(settings)]
    for w in workers:
        w.start()
    try:
        assert on_page_two.wait(timeout=60)
        wait_until(lambda: store.job(text["sha256"])["state"] == "review", "the text report in review")
        assert store.job(scan["sha256"])["state"] == "extracting"  # still on its second page
        text_in_review.set()
        wait_until(lambda: store.job(scan["sha256"])["state"] == "review", "the scan in review")
    finally:
        text_in_review.set()
        stop.set()
        for w in workers:
            w.join(timeout=60)
        watcher.close()
    assert progress == [f"OCR 识别扫描页 {n}/4（第 {n} 页，共 4 页）" for n in range(1, 5)]


@pytest.mark.slow  # a worker child process is started for it
def test_a_file_the_child_cannot_read_fails_with_its_own_reason_not_as_a_crash(store, settings, tmp_path):
    from pathlib import Path

    job = upload(store, tmp_path)
    Path(store.job(job["sha256"])["path"]).unlink()
    assert run_worker(store, settings, until_empty=True, isolate=True, poll_s=0.1) == 1
    failed = store.job(job["sha256"])
    assert failed["state"] == "failed" and "意外退出" not in failed["error"] and REPORT.name in failed["error"]


def _extracted(store, settings, tmp_path):
    job = upload(store, tmp_path)
    process_next(store, settings)
    return job["sha256"], {i["item"]: i for i in store.review_items(job["sha256"])}


def test_a_page_loaded_before_a_re_extraction_cannot_confirm_the_new_value_unseen(store, settings, tmp_path):
    from service.store.workflow import StaleEdit

    sha, items = _extracted(store, settings, tmp_path)
    seen = items["field:unit_name"]  # the reviewer's page holds this version
    assert store.reextract_job(sha, "admin")
    process_next(store, settings)
    with pytest.raises(StaleEdit):
        store.save_item(sha, "field:unit_name", seen["version"], seen["value"], "confirmed", "rev", "accept")


def test_a_re_extraction_of_bytes_now_read_differently_replaces_the_text_and_moves_the_evidence(
        store, settings, tmp_path, monkeypatch):
    import service.ingest.text as text_reader

    sha, items = _extracted(store, settings, tmp_path)
    unit = items["field:unit_name"]
    store.save_item(sha, "field:unit_name", unit["version"], unit["value"], "confirmed", "rev", "accept")
    read = text_reader.decode  # the same bytes, read by a fixed reader that no longer drops a first line
    monkeypatch.setattr(text_reader, "decode", lambda data: "（此件公开发布）\n" + read(data))
    assert store.reextract_job(sha, "admin")
    process_next(store, settings)
    text = store.get_document(sha)["text"]
    assert text.startswith("（此件公开发布）")
    for item in store.review_items(sha):
        ev = item["evidence"]
        if ev and ev.get("start") is not None:
            assert text[ev["start"]:ev["end"]] == ev["quote"], item["item"]
    kept = next(i for i in store.review_items(sha) if i["item"] == "field:unit_name")
    assert kept["status"] == "confirmed" and kept["evidence"]["start"] > unit["evidence"]["start"]


def test_a_cancel_whose_worker_died_is_not_lost_and_a_cancelled_re_extraction_leaves_the_document_in_review(
        store, settings, tmp_path):
    job = upload(store, tmp_path)
    store.claim_job("dead", lease_s=900)
    assert store.cancel_job(job["sha256"], "oper")
    assert store.claim_job("next", lease_s=0) is None  # the dead worker's job ends cancelled, not queued again
    assert store.job(job["sha256"])["state"] == "failed" and "取消" in store.job(job["sha256"])["error"]

    other = upload(store, tmp_path, OTHER)
    process_next(store, settings)
    assert store.reextract_job(other["sha256"], "admin")
    assert store.cancel_job(other["sha256"], "admin")
    back = store.job(other["sha256"])
    assert back["state"] == "review" and back["run_id"] is not None and store.review_items(other["sha256"])


def test_a_score_row_a_reviewer_renamed_is_not_doubled_by_a_re_extraction(store, settings, tmp_path):
    sha, items = _extracted(store, settings, tmp_path)
    row = next(i for k, i in items.items() if k.startswith("indicator:"))
    renamed = {**row["value"], "name": row["value"]["name"] + "（更正）"}
    store.save_item(sha, row["item"], row["version"], renamed, "corrected", "rev", "correct")
    assert store.reextract_job(sha, "admin")
    process_next(store, settings)
    names = [i["value"]["name"] for i in store.review_items(sha) if i["kind"] == "indicator"]
    assert renamed["name"] in names and row["value"]["name"] not in names
    assert len(names) == sum(1 for k in items if k.startswith("indicator:"))


def test_a_parked_job_an_admin_retries_gets_its_attempts_again(store, settings, tmp_path):
    job = upload(store, tmp_path)
    for n in range(settings.job_max_attempts):
        store.claim_job(f"dead-{n}", lease_s=0, max_attempts=settings.job_max_attempts)
    store.claim_job("next", lease_s=0, max_attempts=settings.job_max_attempts)
    assert store.job(job["sha256"])["state"] == "failed"
    assert store.retry_job(job["sha256"], "admin")
    assert store.job(job["sha256"])["attempts"] == 0
    assert process_next(store, settings)["state"] == "review"
