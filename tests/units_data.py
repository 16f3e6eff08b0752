"""A database with a list of units expected to report and two fiscal years of reports, made as users make it
(the list imported from a CSV; reports uploaded, extracted and confirmed), for the units' tests.

For 2023: 某某县教育局 reported under its own name, 岭坡乡 as 「某某县岭坡乡人民政府」 and 白果镇 as
「白果镇人民政府」 (白果乡, of the same name, did not); 湘江街道 uploaded a report still in review; 某某县水利局
reported for 2022 only; a report of 「林业局」 fits both 林业局 of the list equally (ambiguous, never guessed); and
one of 「某某县气象局」 fits no unit of the list.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from service.settings import load_settings
from service.store import Store
from service.units.importing import read_units_file
from service.worker import process_next, store_upload
from tests.overview_data import confirmed_years, report_text
from tests.webapp import make_app

REGISTRY_CSV = """名称,类别,代码
某某县教育局,部门,001
某某县水利局,部门,002
某某县林业局,部门,003
某某市林业局,部门,004
岭坡乡,乡镇,101
白果镇,乡镇,102
白果乡,乡镇,103
湘江街道,街道,201
"""

CONFIRMED = [
    ("某某县教育局", 2022, 900.0, 880.0, 20.0, 38, 50),
    ("某某县水利局", 2022, 300.0, 290.0, 6.0, 40, 45),
    ("某某县教育局", 2023, 950.0, 940.0, 18.0, 36, 44),
    ("某某县岭坡乡人民政府", 2023, 120.0, 118.0, 1.0, 40, 48),
    ("白果镇人民政府", 2023, 110.0, 100.0, 1.5, 38, 47),
    ("林业局", 2023, 430.0, 420.0, 3.0, 40, 50),
    ("某某县气象局", 2023, 80.0, 79.0, 0.5, 40, 49),
]
IN_REVIEW = ("湘江街道办事处", 2023, 90.0, 85.0, 0.8, 36, 45)


def seed_units(folder: Path) -> tuple[Path, dict[tuple[str, int], str]]:
    """The database (a file in `folder`) and {(unit name as reported, year): sha256}."""
    db = str(folder / "units.db")
    shutil.copyfile(_blank(folder), db)
    shas = confirmed_years(folder, db, CONFIRMED)
    store = Store(db)
    try:
        store.import_units(read_units_file("名单.csv", REGISTRY_CSV.encode("utf-8-sig")), "boss", "名单.csv")
        unit, year, *figures = IN_REVIEW
        text = report_text(unit, year, *figures)
        job, _ = store_upload(store, folder / "uploads", f"{unit}{year}.txt", text.encode("utf-8"), "oper")
        process_next(store, load_settings(env={}, db=db, engine="rules"))
        assert store.job(job["sha256"])["state"] == "review"
        shas[(unit, year)] = job["sha256"]
    finally:
        store.close()
    return Path(db), shas


def _blank(folder: Path) -> Path:
    """The tests' blank database with their users (tests.webapp), made by making an app."""
    make_app(folder / "blank-app")
    return folder / "blank-app" / "jixiao.db"


def app_over(seeded: Path, tmp_path: Path):
    """A fresh app over a copy of the seeded database (a test may change it)."""
    app = make_app(tmp_path)
    shutil.copyfile(seeded, app.config["DATABASE"])
    for suffix in ("-wal", "-shm"):
        Path(app.config["DATABASE"] + suffix).unlink(missing_ok=True)
    return app
