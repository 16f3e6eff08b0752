"""Review app page times over a large queue: 10,000 documents waiting for review.

    .venv/bin/python benchmarks/web_bench.py              # N=30 requests per page
    .venv/bin/python benchmarks/web_bench.py --n 100 --explain
    .venv/bin/python benchmarks/web_bench.py --documents 100000 --no-items

The database is seeded directly, not through the worker: one real report
(../shared/reports/000_…, 35 KB of text, 60 review items) is uploaded and
extracted as the app would, then 10,000 more jobs in state 待审核 are inserted
with sqlite-utils `insert_all`, each with a copy of that report's 60 review
items and its two audit entries (600,000 review items in all), so that the
tables the pages read have a realistic size. Only the real report has a
document row (text, sections, tables); it is the one whose review page is timed.

Pages are requested with Flask's test client, logged in as a reviewer, N times
each after a warm-up; median and p95 (nearest rank) in ms, printed as a
markdown table. `--explain` prints the query plans of the queue's queries.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from werkzeug.security import generate_password_hash  # noqa: E402

from review_ui import create_app  # noqa: E402
from service.settings import load_settings  # noqa: E402
from service.store import Store  # noqa: E402
from service.store.workflow import IN_REVIEW  # noqa: E402
from service.worker import process_next, store_upload  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "reports" / "000_8d720d4fc0889d24.txt"
COUNTIES = ["衡山县", "常宁市", "渌口区", "沅陵县", "平江县", "攸县", "茶陵县", "炎陵县", "醴陵市", "湘潭县",
            "韶山市", "湘乡市", "祁东县", "衡南县", "衡东县", "耒阳市", "宁乡市", "浏阳市", "望城区", "长沙县"]
TOWNS = ["岭坡乡", "荫田镇", "古岳峰镇", "太常乡", "平等乡", "白果镇", "新塘镇", "石湾镇", "洪山镇", "金兰镇",
         "大浦镇", "马迹塘镇", "沙田乡", "黄沙镇", "龙潭镇", "高桥镇", "双江镇", "杉木镇", "桥头乡", "柏坊镇"]
BODIES = ["人民政府", "财政所", "便民服务中心", "农业综合服务中心", "社会事务综合服务中心"]
YEARS = [2019, 2020, 2021, 2022, 2023, 2024]


def seed(folder: Path, documents: int, rng: random.Random, with_items: bool = True) -> tuple[str, str]:
    """A database with one real extracted report and `documents` more in review; (db path, real sha256)."""
    settings = load_settings(env={}, db=str(folder / "bench.db"), instance=str(folder / "instance"),
                             engine="rules")
    with closing(Store(settings.db)) as store:
        store.add_user("审核员", "reviewer", generate_password_hash("bench-password"))
        job, _ = store_upload(store, Path(settings.instance) / "uploads", SAMPLE.name, SAMPLE.read_bytes(),
                              "上传员")
        process_next(store, settings)
        real = job["sha256"]
        template = [{**row, "document_sha256": None} for row in store.db["review_items"].rows_where(
            "document_sha256 = ?", [real])] if with_items else []
        audit = list(store.db["audit_log"].rows_where("document_sha256 = ?", [real]))
        with store.db.atomic():
            for start in range(0, documents, 1000):
                batch = [_job(i, rng) for i in range(start, min(start + 1000, documents))]
                store.db["jobs"].insert_all(batch)
                store.db["review_items"].insert_all(
                    {**row, "document_sha256": j["sha256"]} for j in batch for row in template)
                store.db["audit_log"].insert_all(
                    {**{k: v for k, v in a.items() if k != "id"}, "document_sha256": j["sha256"]}
                    for j in batch for a in audit if with_items)
        store.db.execute("ANALYZE")
    return settings.db, real


def _job(i: int, rng: random.Random) -> dict:
    flagged = rng.choice([0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 7, 9, 12])
    stamp = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00"
    return {"sha256": f"{i:064x}", "name": f"{i:05d}_部门整体支出绩效自评报告.docx", "path": f"/uploads/{i:064x}/r.docx",
            "size": 40_000 + i, "state": IN_REVIEW, "error": None, "attempts": 1, "uploaded_by": "上传员",
            "uploaded_at": stamp, "updated_at": stamp, "claimed_by": "bench", "claimed_at": stamp, "run_id": None,
            "unit_name": f"{rng.choice(COUNTIES)}{rng.choice(TOWNS)}{rng.choice(BODIES)}",
            "fiscal_year": rng.choice(YEARS), "flagged": flagged,
            "min_confidence": round(rng.uniform(0.3, 0.79), 2) if flagged else round(rng.uniform(0.8, 1.0), 2),
            "confirmed_by": None, "confirmed_at": None}


def time_pages(db: str, instance: str, pages: list[tuple[str, str]], n: int) -> list[tuple[str, str, float, float]]:
    settings = load_settings(env={}, db=db, instance=instance, engine="rules")
    app = create_app(settings=settings)
    client = app.test_client()
    with closing(Store(db)) as store:
        user_id = store.get_user("审核员")["id"]
    with client.session_transaction() as session:
        session["user_id"] = user_id
    out = []
    for label, url in pages:
        for _ in range(3):  # warm up: templates compiled, pages cached
            assert client.get(url).status_code == 200, url
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, url
        ranked = sorted(times)
        out.append((label, url, statistics.median(times), ranked[math.ceil(0.95 * n) - 1]))
    return out


def explain(db: str) -> None:
    """The plans of the queue page's queries, as the store runs them."""
    clause_args = [("state = ?", [IN_REVIEW]), ("state = ? AND fiscal_year = ?", [IN_REVIEW, 2022]),
                   ("state = ? AND unit_name LIKE ?", [IN_REVIEW, "%岭坡乡%"])]
    with closing(Store(db, migrate=False)) as store:
        for clause, args in clause_args:
            for sql in (f"SELECT count(*) FROM jobs WHERE {clause}",
                        f"SELECT sha256 FROM jobs WHERE {clause} ORDER BY flagged DESC, "
                        f"coalesce(min_confidence, 1) ASC, uploaded_at ASC LIMIT 50 OFFSET 7450"):
                plan = [r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()]
                print(f"{sql}\n    " + "\n    ".join(plan))
        for sql in ("SELECT DISTINCT fiscal_year FROM jobs WHERE fiscal_year IS NOT NULL ORDER BY 1 DESC",
                    "SELECT state, count(*) FROM jobs GROUP BY state"):
            plan = [r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()]
            print(f"{sql}\n    " + "\n    ".join(plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=30, help="requests per page")
    parser.add_argument("--explain", action="store_true", help="print the queue queries' plans")
    parser.add_argument("--no-items", action="store_true",
                        help="seed jobs only (no review items or audit for them): quick runs at 100,000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        db, real = seed(folder, args.documents, random.Random(7), with_items=not args.no_items)
        print(f"seeded {args.documents} documents in review in {time.perf_counter() - t0:.1f} s; "
              f"database {Path(db).stat().st_size / 1e6:.0f} MB\n")
        last = (args.documents + 49) // 50
        pages = [("queue, first page", "/queue"), ("queue, year 2022", "/queue?year=2022"),
                 ("queue, unit search 岭坡乡", "/queue?unit=岭坡乡"), ("queue, page 150", "/queue?page=150"),
                 (f"queue, last page ({last})", f"/queue?page={last}"),
                 ("review page (35 KB text, 60 items)", f"/documents/{real}")]
        rows = time_pages(db, str(folder / "instance"), pages, args.n)
        print(f"N={args.n} requests per page, Flask test client, logged in as a reviewer\n")
        print("| page | median ms | p95 ms |\n|---|---:|---:|")
        for label, _url, median, p95 in rows:
            print(f"| {label} | {median:.1f} | {p95:.1f} |")
        if args.explain:
            print()
            explain(db)


if __name__ == "__main__":
    main()
