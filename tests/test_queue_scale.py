"""The queue's reads that do not grow with the table (issue 16): counts kept by triggers, keyset pages, the
trigram unit search, and an old database migrated to them. (Times are in benchmarks/queue_bench.py; no test
here asserts one.)"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path

import pytest

from service.store import MIGRATIONS, Store, migrate, open_db
from service.store import queue as queue_module
from service.store.queue import QueueKey
from service.store.workflow import CONFIRMED_STATE, EXTRACTING, FAILED, IN_REVIEW, QUEUED
from service.worker import process_next, store_upload
from tests.conftest import SAMPLES
from tests.webapp import as_user, make_app

NAMES = ["常宁市荫田镇财政所", "衡山县岭坡乡人民政府", "平等乡人民政府", "衡山县教育局", "荫田", "镇",
         "ABC（集团）有限公司", "50%_测试单位"]
STATES = [IN_REVIEW, IN_REVIEW, CONFIRMED_STATE, FAILED, QUEUED, EXTRACTING]


def job_row(i: int, rng: random.Random, **given) -> dict:
    """A job as the queue sees it; many tie on flagged, confidence and upload time, so sha256 decides."""
    flagged = rng.choice([0, 0, 1, 2])
    return {"sha256": f"{rng.getrandbits(256):064x}", "name": f"{i}.docx", "path": f"/u/{i}", "size": 1,
            "state": rng.choice(STATES), "attempts": 0, "uploaded_by": "oper",
            "uploaded_at": f"2024-01-0{1 + i % 3}T00:00:00+00:00", "updated_at": "2024-01-01T00:00:00+00:00",
            "flagged": flagged, "min_confidence": rng.choice([0.4, 0.6]) if flagged else None,
            "unit_name": rng.choice([*NAMES, None]), "fiscal_year": rng.choice([2022, 2023, None]), **given}


def queue_order(jobs: list[dict]) -> list[str]:
    """The queue's order as the README states it, computed here: most flagged, least confidence, oldest, sha256."""
    def key(j):
        conf = 1 if j["min_confidence"] is None else j["min_confidence"]
        return -j["flagged"], conf, j["uploaded_at"], j["sha256"]
    return [j["sha256"] for j in sorted(jobs, key=key)]


def matching(jobs: list[dict], state=None, year=None, unit=None) -> list[dict]:
    return [j for j in jobs if (state is None or j["state"] == state) and (year is None or j["fiscal_year"] == year)
            and (unit is None or (j["unit_name"] is not None and unit.lower() in j["unit_name"].lower()))]


def assert_counts_and_index_are_right(store: Store) -> None:
    """The kept counts equal a fresh COUNT(*) GROUP BY, and the unit index equals the jobs' names."""
    fresh = dict(store.db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    assert store.state_counts() == fresh
    per_year = {(s, y or 0): (n, named) for s, y, n, named in store.db.execute(
        "SELECT state, fiscal_year, count(*), count(unit_name) FROM jobs GROUP BY 1, 2").fetchall()}
    kept = {(s, y): (n, named) for s, y, n, named in store.db.execute(
        "SELECT state, fiscal_year, n, named FROM job_counts WHERE n != 0 OR named != 0")}
    assert kept == per_year
    assert store.queue_years() == [r[0] for r in store.db.execute(
        "SELECT DISTINCT fiscal_year FROM jobs WHERE fiscal_year IS NOT NULL ORDER BY 1 DESC")]
    # FTS5 compares the index with its content (the view of the jobs' names); a difference is an error
    store.db.execute("INSERT INTO job_units (job_units, rank) VALUES ('integrity-check', 1)")
    trigrams: dict[str, int] = {}  # each trigram of the names (ASCII in lower case, two U+001F after), in how many
    for (name,) in store.db.execute("SELECT unit_name FROM jobs WHERE unit_name IS NOT NULL").fetchall():
        padded = name.translate(str.maketrans(string.ascii_uppercase, string.ascii_lowercase)) + "\x1f\x1f"
        for term in {padded[i:i + 3] for i in range(max(len(name), 1))}:
            trigrams[term] = trigrams.get(term, 0) + 1
    assert dict(store.db.execute("SELECT term, n FROM job_unit_trigrams WHERE n != 0").fetchall()) == trigrams
    for (name,) in store.db.execute("SELECT DISTINCT unit_name FROM jobs WHERE unit_name IS NOT NULL").fetchall():
        found = {d["sha256"] for d in store.queue(state=None, unit=name, per_page=10_000).docs}
        assert found == {r[0] for r in store.db.execute("SELECT sha256 FROM jobs WHERE instr(unit_name, ?)",
                                                         [name])}, name


def all_pages(store: Store, between=None, **filters) -> list[str]:
    """Every page of the queue by its 下一页 cursors; `between(n)` runs after the n-th page."""
    seen, page, n = [], store.queue(per_page=7, **filters), 0
    while True:
        seen += [d["sha256"] for d in page.docs]
        n += 1
        if between:
            between(n)
        if page.next is None:
            return seen
        page = store.queue(per_page=7, after=page.next, **filters)


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "q.db"))
    yield store
    store.close()


@pytest.fixture
def jobs(store):
    rng = random.Random(16)
    rows = [job_row(i, rng) for i in range(200)]
    store.db["jobs"].insert_all(rows)
    return rows


# -- counts --------------------------------------------------------------------------------------------------

def test_the_state_counts_stay_right_through_upload_claim_complete_fail_retry_remove_replace_and_cancel(tmp_path):
    app = make_app(tmp_path)
    settings = app.config["SETTINGS"]
    uploads = Path(app.config["UPLOADS"])
    store = Store(settings.db)
    try:
        assert_counts_and_index_are_right(store)
        report = SAMPLES / "000_8d720d4fc0889d24.txt"
        done, _ = store_upload(store, uploads, report.name, report.read_bytes(), "oper")  # upload
        assert_counts_and_index_are_right(store)
        process_next(store, settings)  # claim and complete: 待审核, with its unit and year
        assert store.job(done["sha256"])["state"] == IN_REVIEW and store.job(done["sha256"])["unit_name"]
        assert_counts_and_index_are_right(store)

        bad, _ = store_upload(store, uploads, "坏.txt", "不是一份报告".encode(), "oper")
        assert store.claim_job("w", 60)["sha256"] == bad["sha256"]  # claim
        assert_counts_and_index_are_right(store)
        store.fail_job(bad["sha256"], "w", "读不出")  # fail
        assert_counts_and_index_are_right(store)
        assert store.retry_job(bad["sha256"], "boss")  # retry
        assert_counts_and_index_are_right(store)
        assert store.cancel_job(bad["sha256"], "oper")  # cancel (a queued job fails at once)
        assert store.job(bad["sha256"])["state"] == FAILED
        assert_counts_and_index_are_right(store)
        new, _ = store_upload(store, uploads, "坏2.txt", "仍然不是".encode(), "oper")
        assert store.cancel_job(new["sha256"], "oper") and store.remove_job(new["sha256"], "oper")  # remove
        assert_counts_and_index_are_right(store)
        assert store.replace_job(bad["sha256"], "cd" * 32, "改正.txt", "/u/cd", 5, "oper")  # replace
        assert_counts_and_index_are_right(store)

        assert store.claim_job("w", 60)["sha256"] == "cd" * 32
        assert store.cancel_job("cd" * 32, "oper")  # cancel a running job: it ends when the worker gives up
        store.end_cancelled("cd" * 32, "w", "已取消")
        assert_counts_and_index_are_right(store)
        assert store.reextract_job(done["sha256"], "boss")  # 待审核 -> 排队中, its unit and year kept
        assert_counts_and_index_are_right(store)
        process_next(store, settings)
        assert_counts_and_index_are_right(store)

        item = store.review_item(done["sha256"], "field:unit_name")  # a reviewer corrects the unit's name
        store.save_item(done["sha256"], item["item"], item["version"], "湘潭县白石镇人民政府", "corrected", "rev",
                        "correct")
        assert_counts_and_index_are_right(store)
        assert [d["sha256"] for d in store.queue(unit="白石").docs] == [done["sha256"]]
        assert store.queue(unit=item["value"]).docs == []
        item = store.review_item(done["sha256"], "field:unit_name")  # 未提及: the job has no unit name, then again
        store.save_item(done["sha256"], item["item"], item["version"], None, "confirmed", "rev", "not_stated")
        assert store.job(done["sha256"])["unit_name"] is None
        assert_counts_and_index_are_right(store)
        store.save_item(done["sha256"], item["item"], item["version"] + 1, "湘潭县白石镇人民政府", "corrected", "rev",
                        "correct")
        assert_counts_and_index_are_right(store)
        item = store.review_item(done["sha256"], "field:fiscal_year")  # and its year: only the year changes
        store.save_item(done["sha256"], item["item"], item["version"], 2011, "corrected", "rev", "correct")
        assert store.job(done["sha256"])["fiscal_year"] == 2011 and 2011 in store.queue_years()
        assert_counts_and_index_are_right(store)
        assert store.db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 2
    finally:
        store.close()


def test_a_replace_of_a_job_row_keeps_the_counts(store, jobs):
    """A REPLACE deletes the old row first; the delete triggers fire for it (recursive_triggers), so even an
    INSERT OR REPLACE from outside the store keeps counts and index right."""
    store.db["jobs"].insert({**jobs[0], "state": FAILED, "unit_name": "湘潭县白石镇人民政府"}, replace=True)
    store.db.execute("DELETE FROM jobs WHERE sha256 = ?", [jobs[1]["sha256"]])
    assert_counts_and_index_are_right(store)


# -- keyset pages ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("filters", [{"state": IN_REVIEW}, {"state": None}, {"state": IN_REVIEW, "year": 2023},
                                     {"state": None, "year": 2022}, {"state": None, "unit": "荫田"},
                                     {"state": IN_REVIEW, "unit": "人民政府"}, {"state": None, "unit": "镇"}])
def test_keyset_pages_visit_every_document_once_in_queue_order_while_one_is_added(store, jobs, filters):
    rng = random.Random(7)
    expected = queue_order(matching(jobs, **filters))
    assert len(expected) > 14  # three pages at least
    late = {**job_row(999, rng), "state": filters["state"] or IN_REVIEW, "fiscal_year": filters.get("year"),
            "unit_name": "荫田人民政府镇", "flagged": 0, "min_confidence": None,
            "uploaded_at": "2099-01-01T00:00:00+00:00"}  # after every other in the queue's order
    early = {**late, "sha256": "0" * 64, "flagged": 99}  # before every other: behind the reader once added

    def add(n):
        if n == 2:
            store.db["jobs"].insert_all([late, early])
    seen = all_pages(store, add, **filters)
    assert seen == [*expected, late["sha256"]]  # each once, in order; the one added behind the pages not shown

    # and back again by 上一页 from the last page
    page, back = store.queue(per_page=7, after=QueueKey.of(store.job(expected[-1])), **filters), []
    assert [d["sha256"] for d in page.docs] == [late["sha256"]]
    while page.prev is not None:
        page = store.queue(per_page=7, before=page.prev, **filters)
        docs = [d["sha256"] for d in page.docs]
        assert len(docs) == 7  # the first page full too, overlapping the one after it if need be
        back = docs + [s for s in back if s not in docs]
    assert back == [early["sha256"], *expected]
    assert docs == back[:7]


def test_a_page_after_the_end_is_the_last_page_and_one_before_the_start_the_first(store, jobs):
    order = queue_order(matching(jobs, state=IN_REVIEW))
    past = store.queue(per_page=7, after=QueueKey.of(store.job(order[-1])))
    assert [d["sha256"] for d in past.docs] == order[-7:] and past.next is None and past.prev is not None
    first = store.queue(per_page=7, before=QueueKey.of(store.job(order[3])))
    assert [d["sha256"] for d in first.docs] == order[:7] and first.prev is None


def test_the_queue_cursor_survives_its_text_and_refuses_anything_else():
    key = QueueKey(3, 0.45, "2024-05-01T08:00:00+00:00", "ab" * 32)
    assert QueueKey.decode(key.encode()) == key
    for bad in ["", "x", "3~0.45~t", "3~nan~t~" + "ab" * 32, "3~2~t~" + "ab" * 32, "-1~0.4~t~" + "ab" * 32,
                "3~0.4~t~" + "AB" * 32, "3~0.4~~" + "ab" * 32, "3~0.4~t\n~" + "ab" * 32, "9" * 20 + "~0.4~t~" + "ab" * 32]:
        with pytest.raises(ValueError):
            QueueKey.decode(bad)


# -- unit search ------------------------------------------------------------------------------------------------

def test_the_unit_search_finds_a_name_by_any_part_of_it_one_character_too(store, jobs):
    for name in {j["unit_name"] for j in jobs if j["unit_name"]}:
        for length in range(1, len(name) + 1):
            for start in range(len(name) - length + 1):
                part = name[start:start + length]
                found = store.queue(state=None, unit=part, per_page=1000)
                want = queue_order(matching(jobs, unit=part))
                assert [d["sha256"] for d in found.docs] == want, part
                assert found.total == len(want), part
    assert store.queue(state=None, unit="abc").total == len(matching(jobs, unit="ABC"))  # ASCII in any case
    assert store.queue(state=None, unit="%").total == len(matching(jobs, unit="%"))  # no wildcard: the character
    assert store.queue(state=None, unit="_测").total == len(matching(jobs, unit="_测"))
    assert store.queue(state=None, unit="不存在").docs == [] and store.queue(state=None, unit="无").total == 0
    assert store.queue(state=None, unit='"荫田"').total == 0  # FTS5 syntax is text to look for, not a query


def test_a_unit_search_matching_more_than_the_limit_is_not_counted_but_pages_the_same(store, jobs, monkeypatch):
    monkeypatch.setattr(queue_module, "UNIT_COUNT_LIMIT", 5)
    for unit in ("人民政府", "荫田", "镇"):
        assert store.queue(state=None, unit=unit).total is None
        assert all_pages(store, state=None, unit=unit) == queue_order(matching(jobs, unit=unit))
    monkeypatch.setattr(queue_module, "TERMS_LIMIT", 1)  # a short search beginning many trigrams: walked too
    assert store.queue(state=None, unit="镇").total is None
    assert all_pages(store, state=None, unit="镇") == queue_order(matching(jobs, unit="镇"))


def plans_of(store: Store, run) -> list[tuple[str, list[str]]]:
    """Every statement `run` makes the store execute, with the steps of its query plan."""
    statements = []
    execute = store.db.execute

    def recording(sql, parameters=None):
        statements.append((sql, parameters))
        return execute(sql, parameters) if parameters is not None else execute(sql)
    store.db.execute = recording
    try:
        run()
    finally:
        store.db.execute = execute
    return [(sql, [r[3] for r in execute(f"EXPLAIN QUERY PLAN {sql}", args or []).fetchall()])
            for sql, args in statements]


@pytest.mark.parametrize("filters", [{}, {"state": None}, {"year": 2023}, {"state": None, "year": 2022},
                                     {"unit": "常宁市荫田镇财政所"}, {"unit": "荫田"}, {"unit": "镇"},
                                     {"state": None, "unit": "岭坡"}])
def test_a_queue_page_and_its_counts_scan_no_table_of_jobs(store, jobs, filters):
    first = store.queue(per_page=3, **filters)
    plans = plans_of(store, lambda: (store.queue(per_page=3, after=first.next, **filters), store.state_counts(),
                                     store.queue_years()))
    assert plans and not [s for _, steps in plans for s in steps if re.match(r"SCAN (jobs|job_unit_text)\b", s)], \
        plans
    if "unit" not in filters:  # read in the index's order: no sort (a unit search sorts its few hits)
        assert not [s for sql, steps in plans if "FROM jobs" in sql for s in steps if "TEMP B-TREE" in s], plans


# -- an old database -------------------------------------------------------------------------------------------

def test_a_database_migrated_from_before_gets_right_counts_and_unit_index(tmp_path):
    path = str(tmp_path / "old.db")
    before = [m for m in MIGRATIONS if m.__name__ < "m013"]
    db = open_db(path, migrate_now=False)
    migrate(db, before)
    rng = random.Random(3)
    rows = [job_row(i, rng) for i in range(80)]
    db["jobs"].insert_all(rows)
    db.close()

    store = Store(path)  # the migrations since then run
    try:
        assert_counts_and_index_are_right(store)
        assert store.state_counts() == {s: len(matching(rows, state=s)) for s in {r["state"] for r in rows}}
        assert [d["sha256"] for d in store.queue(state=None, unit="荫田", per_page=1000).docs] == \
            queue_order(matching(rows, unit="荫田"))
        assert all_pages(store, state=IN_REVIEW) == queue_order(matching(rows, state=IN_REVIEW))
        store.db.execute("UPDATE jobs SET state = ?, unit_name = ? WHERE sha256 = ?",  # and kept from then on
                         [CONFIRMED_STATE, "湘潭县白石镇人民政府", rows[0]["sha256"]])
        store.db.execute("UPDATE jobs SET fiscal_year = 2011 WHERE sha256 = ?", [rows[1]["sha256"]])
        assert_counts_and_index_are_right(store)
    finally:
        store.close()


# -- the page ----------------------------------------------------------------------------------------------------

def test_the_queue_page_pages_by_cursor_keeping_its_filters(tmp_path):
    app = make_app(tmp_path)
    app.config["PER_PAGE"] = 4
    rng = random.Random(5)
    rows = [job_row(i, rng, state=IN_REVIEW, unit_name=rng.choice(["常宁市荫田镇财政所", "衡山县教育局"]),
                    fiscal_year=2023) for i in range(30)]
    store = Store(app.config["DATABASE"])
    store.db["jobs"].insert_all(rows)
    store.close()
    client = as_user(app, "rev")
    url, seen, numbers = "/queue?state=review&year=2023&unit=荫田", [], []
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r'href="/jobs/([0-9a-f]{64})"', page)
        numbers.append(re.search(r"第 (\d+) / (\d+) 页", page).groups())
        found = re.search(r'<a href="([^"]+)" rel="next">', page)
        url = found and found.group(1).replace("&amp;", "&")
        if url:
            assert "unit=%E8%8D%AB%E7%94%B0" in url and "year=2023" in url and "state=review" in url
            assert "offset" not in url
    want = queue_order(matching(rows, unit="荫田"))
    assert seen == want
    pages = str(-(-len(want) // 4))
    assert numbers == [(str(n), pages) for n in range(1, int(pages) + 1)]
    assert client.get("/queue?after=nonsense").status_code == 400
    assert client.get(f"/queue?after={QueueKey.of(rows[0]).encode()}&before={QueueKey.of(rows[1]).encode()}") \
        .status_code == 400


def test_the_queue_page_says_when_a_unit_search_is_not_counted_and_still_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(queue_module, "UNIT_COUNT_LIMIT", 3)
    app = make_app(tmp_path)
    app.config["PER_PAGE"] = 4
    rng = random.Random(6)
    rows = [job_row(i, rng, state=IN_REVIEW, unit_name="常宁市荫田镇财政所") for i in range(9)]
    store = Store(app.config["DATABASE"])
    store.db["jobs"].insert_all(rows)
    store.close()
    client = as_user(app, "rev")
    page = client.get("/queue?unit=荫田").get_data(as_text=True)
    assert "单位名称含“荫田”的报告很多，未逐一计数" in page and "第 1 页" in page and "共 " not in page
    second = client.get(re.search(r'<a href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and "上一页" in second.get_data(as_text=True)
