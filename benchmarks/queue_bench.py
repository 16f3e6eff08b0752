"""The review queue and a review page at 100,000 and 1,000,000 documents (issue 16).

    .venv/bin/python benchmarks/queue_bench.py                      # 100,000 and 1,000,000, N=30
    .venv/bin/python benchmarks/queue_bench.py --documents 100000 --n 50
    .venv/bin/python benchmarks/queue_bench.py --documents 1000000 --keep /tmp/q1m   # keep the database

The database is seeded directly, not through the worker: one real report (../shared/reports/000_…, 35 KB of
text, 60 review items) is uploaded and extracted as the app does, so that its review page is a real one; then
the other documents' jobs are bulk-inserted with sqlite-utils `insert_all` (the store's triggers, where the
schema has them, run as for any insert), each with one review item and two audit entries, so the tables the
pages read have their size. The state mix is one of a bureau some years in: 70 % 已确认, 25 % 待审核, 2 %
失败, 2.5 % 排队中, 0.5 % 提取中; unit names are a county's towns' bodies (常宁市荫田镇财政所) and its
departments (衡山县教育局), years 2019–2024 (recent ones more often), flagged counts and confidences random
(seeded), so many documents tie on their sort key.

Pages are fetched with Flask's test client, logged in as a reviewer, N times each after 3 warm-up requests;
median and p95 (nearest rank) in ms, printed as a markdown table. "Last page" is the queue's last page of 待审核:
`?page=N` where the queue pages by OFFSET, else the link 下一页 gives on the page before it (a cursor).
"""

from __future__ import annotations

import argparse
import math
import random
import re
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
from service.worker import process_next, store_upload  # noqa: E402

try:  # the keyset queue (issue 16); absent in the code before it
    from service.store.queue import QueueKey
except ImportError:  # pragma: no cover - the "before" measurement
    QueueKey = None

SAMPLE = ROOT.parent / "shared" / "reports" / "000_8d720d4fc0889d24.txt"
PASSWORD = "bench-password"
PER_PAGE = 50
COUNTIES = ["衡山县", "常宁市", "渌口区", "沅陵县", "平江县", "攸县", "茶陵县", "炎陵县", "醴陵市", "湘潭县",
            "韶山市", "湘乡市", "祁东县", "衡南县", "衡东县", "耒阳市", "宁乡市", "浏阳市", "望城区", "长沙县"]
TOWNS = ["岭坡乡", "荫田镇", "古岳峰镇", "太常乡", "平等乡", "白果镇", "新塘镇", "石湾镇", "洪山镇", "金兰镇",
         "大浦镇", "马迹塘镇", "沙田乡", "黄沙镇", "龙潭镇", "高桥镇", "双江镇", "杉木镇", "桥头乡", "柏坊镇"]
BODIES = ["人民政府", "财政所", "便民服务中心", "农业综合服务中心", "社会事务综合服务中心"]
DEPARTMENTS = ["财政局", "教育局", "卫生健康局", "农业农村局", "自然资源局", "住房和城乡建设局", "交通运输局", "水利局",
               "民政局", "人力资源和社会保障局", "市场监督管理局", "文化旅游广电体育局", "公安局", "司法局", "审计局"]
YEARS, YEAR_WEIGHTS = [2019, 2020, 2021, 2022, 2023, 2024], [4, 8, 12, 18, 26, 32]
STATES = {"confirmed": 700, "review": 250, "failed": 20, "queued": 25, "extracting": 5}  # per mille


def seed(folder: Path, documents: int, rng: random.Random) -> tuple[str, str]:
    """A database with one real extracted report and `documents` more jobs; (db path, the real one's sha256)."""
    settings = load_settings(env={}, db=str(folder / "bench.db"), instance=str(folder / "instance"),
                             engine="rules")
    with closing(Store(settings.db)) as store:
        store.add_user("审核员", "reviewer", generate_password_hash(PASSWORD, method="scrypt:1024:8:1"))
        job, _ = store_upload(store, Path(settings.instance) / "uploads", SAMPLE.name, SAMPLE.read_bytes(),
                              "上传员")
        process_next(store, settings)
        real = job["sha256"]
        item = next(store.db["review_items"].rows_where("document_sha256 = ?", [real], limit=1))
        audit = [{k: v for k, v in a.items() if k != "id"}
                 for a in store.db["audit_log"].rows_where("document_sha256 = ?", [real], limit=2)]
        states = [s for s, weight in STATES.items() for _ in range(weight)]
        with store.db.atomic():
            for start in range(0, documents, 10_000):
                batch = [_job(i, rng, states) for i in range(start, min(start + 10_000, documents))]
                store.db["jobs"].insert_all(batch, batch_size=2_000)
                store.db["review_items"].insert_all(({**item, "document_sha256": j["sha256"]} for j in batch),
                                                    batch_size=2_000)
                store.db["audit_log"].insert_all(({**a, "document_sha256": j["sha256"]} for j in batch for a in audit),
                                                 batch_size=2_000)
        store.db.execute("ANALYZE")
    return settings.db, real


def _job(i: int, rng: random.Random, states: list[str]) -> dict:
    state = rng.choice(states)
    extracted = state in ("review", "confirmed")
    flagged = rng.choice([0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 7, 9, 12]) if state == "review" else 0
    minute = 3 * i  # one upload every three minutes: 1,000,000 documents over some six years
    stamp = (f"{2019 + minute // 525_600}-{1 + minute // 43_800 % 12:02d}-{1 + minute // 1_440 % 28:02d}"
             f"T{minute // 60 % 24:02d}:{minute % 60:02d}:00+00:00")
    if rng.random() < 0.6:
        unit = f"{rng.choice(COUNTIES)}{rng.choice(TOWNS)}{rng.choice(BODIES)}"
    else:
        unit = f"{rng.choice(COUNTIES)}{rng.choice(DEPARTMENTS)}"
    return {"sha256": f"{i:064x}", "name": f"{i:07d}_部门整体支出绩效自评报告.docx", "path": f"/uploads/{i:064x}/r.docx",
            "size": 40_000 + i % 50_000, "state": state, "error": "无法读取文件" if state == "failed" else None,
            "attempts": 1, "uploaded_by": "上传员", "uploaded_at": stamp, "updated_at": stamp,
            "claimed_by": "bench" if state != "queued" else None, "claimed_at": stamp if state != "queued" else None,
            "run_id": None, "unit_name": unit if extracted else None,
            "fiscal_year": rng.choices(YEARS, YEAR_WEIGHTS)[0] if extracted else None, "flagged": flagged,
            "min_confidence": round(rng.uniform(0.3, 0.79), 2) if flagged else None,
            "confirmed_by": "审核员" if state == "confirmed" else None,
            "confirmed_at": stamp if state == "confirmed" else None, "lane": "text"}


def last_page_url(db: str) -> tuple[str, int]:
    """The URL of the last page of 待审核, as a reviewer paging through reaches it; and its number."""
    with closing(Store(db, migrate=False)) as store:
        count = store.db.execute("SELECT count(*) FROM jobs WHERE state = 'review'").fetchone()[0]
        last = (count + PER_PAGE - 1) // PER_PAGE
        if QueueKey is None:
            return f"/queue?page={last}", last
        before = store.db.execute(  # the row just before the last page, in the queue's order
            "SELECT flagged, coalesce(min_confidence, 1), uploaded_at, sha256 FROM jobs WHERE state = 'review' "
            "ORDER BY -flagged, coalesce(min_confidence, 1), uploaded_at, sha256 LIMIT 1 OFFSET ?",
            [(last - 1) * PER_PAGE - 1]).fetchone()
    return f"/queue?after={QueueKey(*before).encode()}&page={last}", last


def time_pages(db: str, instance: str, pages: list[tuple[str, str]], n: int) -> list[tuple[str, float, float]]:
    settings = load_settings(env={}, db=db, instance=instance, engine="rules")
    app = create_app(settings=settings)
    app.config["PER_PAGE"] = PER_PAGE
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/auth/login").get_data(as_text=True))
    resp = client.post("/auth/login", data={"name": "审核员", "password": PASSWORD, "csrf_token": token.group(1)})
    assert resp.status_code == 302, resp.status_code
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
        out.append((label, statistics.median(times), ranked[math.ceil(0.95 * n) - 1]))
    return out


def bench(documents: int, n: int, keep: str | None) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "bench.db").exists():
            db = str(folder / "bench.db")
            with closing(Store(db)) as store:
                real = store.db.execute("SELECT sha256 FROM jobs WHERE run_id IS NOT NULL").fetchone()[0]
            print(f"reusing {db}")
        else:
            t0 = time.perf_counter()
            db, real = seed(folder, documents, random.Random(16))
            print(f"seeded {documents:,} documents in {time.perf_counter() - t0:.0f} s; "
                  f"database {Path(db).stat().st_size / 1e6:.0f} MB")
        last_url, last = last_page_url(db)
        pages = [("queue (待审核), first page", "/queue"),
                 (f"queue (待审核), last page ({last:,})", last_url),
                 ("queue, all states", "/queue?state="),
                 ("queue, year 2021", "/queue?year=2021"),
                 ("queue, unit 常宁市荫田镇财政所 (0.03 %)", "/queue?unit=常宁市荫田镇财政所"),
                 ("queue, unit 常宁市荫田镇 (0.15 %)", "/queue?unit=常宁市荫田镇"),
                 ("queue, unit 荫田镇 (3 %)", "/queue?unit=荫田镇"),
                 ("queue, all states, unit 荫田镇", "/queue?state=&unit=荫田镇"),
                 ("queue, unit 荫田 (2 characters)", "/queue?unit=荫田"),
                 ("queue, unit 镇 (1 character)", "/queue?unit=镇"),
                 ("queue, unit 不存在的单位 (none)", "/queue?unit=不存在的单位"),
                 ("review page (35 KB text, 60 items)", f"/documents/{real}")]
        return time_pages(db, str(folder / "instance"), pages, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--n", type=int, default=30, help="requests per page")
    parser.add_argument("--keep", help="folder for the database (reused when it holds one); else a temporary one")
    args = parser.parse_args()
    for documents in args.documents:
        rows = bench(documents, args.n, args.keep if len(args.documents) == 1 else None)
        print(f"\n{documents:,} documents; N={args.n} requests per page, Flask test client, logged in as a reviewer, "
              f"{PER_PAGE} per page\n")
        print("| page | median ms | p95 ms |\n|---|---:|---:|")
        for label, median, p95 in rows:
            print(f"| {label} | {median:.1f} | {p95:.1f} |")
        print()


if __name__ == "__main__":
    main()
