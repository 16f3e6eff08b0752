"""A database of two fiscal years of confirmed reports, made as users make it (upload, extract, confirm), for
the overview and the checks across reports. Each unit's report is written from a template with its figures."""

from __future__ import annotations

from pathlib import Path

from service.settings import load_settings
from service.store import Store
from service.worker import process_next, store_upload

TEMPLATE = """{unit}{year}年度部门整体支出绩效自评报告
一、部门基本情况
单位名称：{unit}
二、预算执行情况
全年预算数{budget:.2f}万元，全年执行数{spent:.2f}万元，预算执行率{rate:.2f}%。
三公经费支出{sangong:.2f}万元。
三、部门整体支出绩效自评表
一级指标|二级指标|三级指标|分值|得分
产出指标|数量指标|项目完成率|40|{done}
效益指标|社会效益|群众满意度|50|{liked}
预算执行|预算执行|预算执行率|10|10
总分|||100|{score}
四、自评结论
部门整体自评得分{score}分。
五、存在的问题
1.预算编制不够细化。
六、改进措施
1.加强预算编制。
"""

# (unit, year, budget, spent, 三公, 项目完成率 score, 群众满意度 score)
REPORTS = [
    ("某某县农业农村局", 2022, 480.0, 470.0, 10.0, 40, 48),
    ("某某县农业农村局", 2023, 500.0, 350.0, 12.5, 40, 46),  # 96 分 with 70 % execution: out of line
    ("某某县教育局", 2022, 900.0, 880.0, 20.0, 38, 50),
    ("某某县教育局", 2023, 950.0, 940.0, 18.0, 36, 44),
    ("某某县水利局", 2022, 300.0, 290.0, 6.0, 40, 45),  # has not reported for 2023
    ("某某县林业局", 2022, 210.0, 200.0, 3.0, 40, 50),
    ("某某县林业局", 2023, 430.0, 420.0, 3.0, 40, 50),  # spent 2.1 times its 2022: named across years
]


def report_text(unit: str, year: int, budget: float, spent: float, sangong: float, done: int, liked: int) -> str:
    return TEMPLATE.format(unit=unit, year=year, budget=budget, spent=spent, rate=round(100 * spent / budget, 2),
                           sangong=sangong, done=done, liked=liked, score=done + liked + 10)


def confirmed_years(folder: Path, db: str, reports=REPORTS, text_of=report_text) -> dict[tuple[str, int], str]:
    """`reports` uploaded, extracted and confirmed into `db` (every item accepted as extracted); {(unit, year):
    sha256}. Each report's text is `text_of(unit, year, *figures)` (by default the template above)."""
    from service.review import apply_action, record_from_items

    store = Store(db)
    settings = load_settings(env={}, db=db, engine="rules")
    shas = {}
    for unit, year, *figures in reports:
        text = text_of(unit, year, *figures)
        job, _ = store_upload(store, folder / "uploads", f"{unit}{year}.txt", text.encode("utf-8"), "oper")
        shas[(unit, year)] = job["sha256"]
    while process_next(store, settings) is not None:
        pass
    for (unit, year), sha in shas.items():
        job = store.job(sha)
        assert job["state"] == "review", (unit, year, job["error"])
        for item in store.review_items(sha):
            if item["status"] == "review":
                value, status = apply_action(item, "accept")
                store.save_item(sha, item["item"], item["version"], value, status, "rev", "accept")
        store.confirm(sha, "rev", record_from_items({"name": job["name"], "sha256": sha}, store.review_items(sha)))
    store.close()
    return shas
