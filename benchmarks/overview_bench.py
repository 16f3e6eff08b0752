"""Time of the 总览 page over a year of many confirmed reports (target: 2,000 reports in < 500 ms).

    .venv/bin/python benchmarks/overview_bench.py [--reports 2000] [--n 20] [--registry]

Two reports of one unit, 2022 and 2023 (tests/overview_data.py), are uploaded, extracted and confirmed as users do; their confirmed rows
(confirmed_reports, confirmed_fields, confirmed_indicators) are then copied with sqlite-utils to make
`--reports` units for each of two years, with figures varied per unit, so that the tables the page reads have
a realistic size; each copy gets a document whose 2023 text states the unit's 2022 三公经费 (one in ten not as
the 2022 record has it). The first visit reads those statements from the texts and keeps them (timed apart). The page is requested with Flask's test client, logged in as a reviewer, N times after a
warm-up; median and p95 in ms are printed as a markdown table row. With `--registry` the list of units expected to
report is imported first (every unit of the year and one in twenty more that did not report, as a CSV through
`jixiao units import`'s reader), so the page also matches every report to a unit (未报送单位, 待匹配).
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

from service.store import Store  # noqa: E402
from tests.overview_data import REPORTS, confirmed_years  # noqa: E402
from tests.webapp import as_user, make_app  # noqa: E402


def seed(db: str, reports: int, rng: random.Random) -> None:
    with closing(Store(db)) as store:
        d = store.db
        base = {r["fiscal_year"]: r for r in d["confirmed_reports"].rows}
        fields = list(d["confirmed_fields"].rows)
        indicators = list(d["confirmed_indicators"].rows)
        documents = {r["sha256"]: r for r in d["documents"].rows}
        with d.atomic():
            for i in range(reports):
                unit = f"某某县第{i:04d}单位"
                last = None
                for year, template in sorted(base.items()):
                    sha = f"{year}{i:060d}"
                    spent = round(rng.uniform(100, 5000), 2)
                    row = {**template, "document_sha256": sha, "unit_name": unit, "source_name": f"{unit}{year}.txt",
                           "spending_actual": spent, "execution_rate": round(rng.uniform(60, 100), 2),
                           "self_score": round(rng.uniform(70, 100), 1), "sangong_actual": round(rng.uniform(1, 50), 2),
                           "superseded_by": None}
                    d["confirmed_reports"].insert(row)
                    # its text, stating last year's 三公经费 (one in ten not as last year's record has it)
                    said = "" if last is None else f"\n“三公”经费上年决算数为{last + (1 if i % 10 == 0 else 0):.2f}万元。"
                    doc = documents[template["document_sha256"]]
                    d["documents"].insert({**doc, "sha256": sha, "name": row["source_name"], "text": doc["text"] + said})
                    last = row["sangong_actual"]
                    src = template["document_sha256"]
                    d["confirmed_fields"].insert_all({**{k: v for k, v in f.items()}, "document_sha256": sha}
                                                     for f in fields if f["document_sha256"] == src)
                    d["confirmed_indicators"].insert_all(
                        {**r, "document_sha256": sha, "score": max(0, r["weight"] - rng.choice([0, 0, 1, 2]))}
                        for r in indicators if r["document_sha256"] == src)
        d.execute("ANALYZE")


def import_registry(db: str, reports: int) -> None:
    from service.units.importing import read_units_file

    names = ["某某县教育局"] + [f"某某县第{i:04d}单位" for i in range(reports + reports // 20)]
    csv = "名称,类别,代码\n" + "".join(f"{n},部门,{9000 + i}\n" for i, n in enumerate(names))
    with closing(Store(db)) as store:
        store.import_units(read_units_file("名单.csv", csv.encode("utf-8")), "bench", "名单.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--registry", action="store_true", help="import a list of units expected to report first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        app = make_app(folder)
        confirmed_years(folder, app.config["DATABASE"], [r for r in REPORTS if r[0] == "某某县教育局"])
        seed(app.config["DATABASE"], args.reports, random.Random(3))
        if args.registry:
            import_registry(app.config["DATABASE"], args.reports)
        client = as_user(app, "rev")
        url = "/overview?year=2023"
        t0 = time.perf_counter()
        assert client.get(url).status_code == 200
        first = (time.perf_counter() - t0) * 1000  # reads every report's statements of last year, and keeps them
        for _ in range(2):
            assert client.get(url).status_code == 200
        times = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200
        ranked = sorted(times)
        listed = f"{args.reports + 1 + args.reports // 20} units" if args.registry else "none"
        print("| reports in the year | list of units | median ms | p95 ms |")
        print("|---|---|---|---|")
        print(f"| {args.reports + 1} | {listed} | {statistics.median(times):.0f} | "
              f"{ranked[math.ceil(0.95 * args.n) - 1]:.0f} |")
        print(f"\nfirst visit (every report's statements of last year read from its text and kept): {first:.0f} ms")


if __name__ == "__main__":
    main()
