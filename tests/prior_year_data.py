"""Two fiscal years of confirmed reports in which the 2023 reports state 2022's figures, made as users make them
(upload, extract, confirm; `tests.overview_data.confirmed_years`), for the previous-year check.

- 某某县文化局: its 2023 report says 2022's 公用经费 was 117.90 万元 (confirmed 2022: 120.00) and that 人员经费
  rose by 20.00 to 300.00 (so 280.00; confirmed 2022: 290.00): two mismatches, one of them computed;
- 某某县卫健局: its 2023 report restates 2022's 公用经费 as the 2022 report gave it: no mismatch;
- 某某县交通局: states a 上年 figure, but has no confirmed 2022 report: nothing to compare with;
- 某某县体育局: 2022 confirmed; its 2023 report (`in_review`) is left in review, for 确认入库.
"""

from __future__ import annotations

from pathlib import Path

from service.review import apply_action
from service.settings import load_settings
from service.store import Store
from service.worker import process_next, store_upload
from tests.overview_data import confirmed_years, report_text

# what each report says beyond the shared template, in its 二、预算执行情况
SAID = {
    ("某某县文化局", 2022): "公用经费120.00万元，人员经费290.00万元。",
    ("某某县文化局", 2023): "公用经费2023年决算130.00万元，2022年117.90万元。人员经费300.00万元，比上年增加20.00万元。",
    ("某某县卫健局", 2022): "公用经费80.50万元。",
    ("某某县卫健局", 2023): "公用经费90.00万元，上年决算数为80.50万元。",
    ("某某县交通局", 2023): "上年公用经费50.00万元，本年公用经费55.00万元。",
    ("某某县体育局", 2022): "公用经费60.00万元。",
    ("某某县体育局", 2023): "公用经费2023年决算65.00万元，2022年58.00万元。",
}
# (unit, year, budget, spent, 三公, 项目完成率 score, 群众满意度 score), as tests.overview_data.REPORTS
REPORTS = [
    ("某某县文化局", 2022, 400.0, 390.0, 5.0, 40, 48),
    ("某某县文化局", 2023, 420.0, 410.0, 5.5, 40, 48),
    ("某某县卫健局", 2022, 800.0, 780.0, 9.0, 38, 47),
    ("某某县卫健局", 2023, 820.0, 800.0, 9.0, 38, 47),
    ("某某县交通局", 2023, 600.0, 590.0, 7.0, 40, 45),
    ("某某县体育局", 2022, 150.0, 140.0, 2.0, 40, 50),
]
IN_REVIEW = ("某某县体育局", 2023, 160.0, 150.0, 2.0, 40, 50)


def report_with_statements(unit: str, year: int, *figures) -> str:
    """The overview's report template with what this unit's report of this year says (`SAID`)."""
    text = report_text(unit, year, *figures)
    return text.replace("三、部门整体支出绩效自评表", f"{SAID.get((unit, year), '')}\n三、部门整体支出绩效自评表")


def seeded(folder: Path, db: str) -> dict[tuple[str, int], str]:
    """`REPORTS` confirmed into `db`; {(unit, year): sha256}."""
    return confirmed_years(folder, db, REPORTS, text_of=report_with_statements)


def in_review(folder: Path, db: str, report=IN_REVIEW) -> str:
    """`report` uploaded and extracted, every flagged item accepted, left in review (not confirmed); its sha256."""
    unit, year, *figures = report
    store = Store(db)
    try:
        text = report_with_statements(unit, year, *figures)
        job, _ = store_upload(store, folder / "uploads", f"{unit}{year}.txt", text.encode("utf-8"), "oper")
        while process_next(store, load_settings(env={}, db=db, engine="rules")) is not None:
            pass
        for item in store.review_items(job["sha256"]):
            if item["status"] == "review":
                value, status = apply_action(item, "accept")
                store.save_item(job["sha256"], item["item"], item["version"], value, status, "rev", "accept")
        return job["sha256"]
    finally:
        store.close()
