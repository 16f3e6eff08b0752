"""A fiscal year's reports at a glance, for the finance bureau (总览): pure functions over confirmed records.

From the current confirmed reports (one per unit and year, `confirmed_reports` rows: a column per field) and
their score rows, `year_overview` gives what the overview page charts, each chart with the table behind it:
the distribution of 自评得分, 自评得分 against 预算执行率 with the outliers named, 三公经费 against the same
unit's previous year, and the indicators most often scored below their weight. `unit_reporting` sets the year's
reports against the registry of units expected to report (未报送单位, 待匹配). No SQL here (the store reads the
rows); no Flask (the web app draws it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.core.genre import is_deduction
from service.core.names import unit_key
from service.core.numbers import squeeze
from service.review import STATE_NAMES
from service.units.matching import Match, match_documents
from service.units.registry import Unit

# A self-score this high with budget execution this low is out of line: named on the overview.
HIGH_SCORE, LOW_EXECUTION = 95.0, 80.0
SCORE_BINS = [(0, 60, "60 分以下"), (60, 70, "60–70"), (70, 80, "70–80"), (80, 90, "80–90"), (90, 95, "90–95"),
              (95, 100.0001, "95–100")]
TOP_INDICATORS = 15


@dataclass
class Chart:
    """One chart: its rows (the table behind it, downloadable), their columns, and the chart's own data."""

    key: str
    title: str
    columns: list[tuple[str, str]]  # (row key, Chinese header)
    rows: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class YearOverview:
    year: int | None
    reports: int
    charts: list[Chart]
    outliers: list[dict[str, Any]]
    across: list[dict[str, Any]] = field(default_factory=list)  # checks across reports: reason, report, others
    prior: list[dict[str, Any]] = field(default_factory=list)  # last year's figures stated against its record


def same_unit_as(r: dict, keys: dict[str, str] | None) -> str:
    """The key a report is of one unit under across years: `keys` (`service.units.matching.unit_keys`, the
    unit of the list) where given, else its name (`unit_key`); "" pairs with nothing."""
    if keys is not None and r.get("document_sha256") in keys:
        return keys[r["document_sha256"]]
    return unit_key(r.get("unit_name"))


def spending_jumps(reports: list[dict], earlier: list[dict], limit: float,
                   keys: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Reports whose 全年执行数 is further than `limit` (0.5: half) from the mean of the same unit's earlier
    years (`same_unit_as`), with the reason in Chinese and the earlier reports. A reason for review, never a
    correction."""
    history: dict[str, list[dict]] = {}
    for r in earlier:
        if _number(r.get("spending_actual")) is not None and same_unit_as(r, keys):
            history.setdefault(same_unit_as(r, keys), []).append(r)
    out = []
    for r in reports:
        now = _number(r.get("spending_actual"))
        mine = same_unit_as(r, keys)
        before = sorted(history.get(mine, []) if mine else [], key=lambda x: x.get("fiscal_year") or 0)
        if now is None or not before:
            continue
        mean = sum(_number(b["spending_actual"]) for b in before) / len(before)
        if mean <= 0 or abs(now - mean) / mean <= limit:
            continue
        years = "、".join(f"{b['fiscal_year']} 年 {_number(b['spending_actual']):g} 万元" for b in before)
        out.append({"unit_name": r.get("unit_name"), "sha256": r["document_sha256"],
                    "reason": f"全年执行数 {now:g} 万元，与本单位以往年度（{years}）的平均数相差 "
                              f"{abs(now - mean) / mean:.0%}（超过 {limit:.0%}），请核对",
                    "others": [{"fiscal_year": b["fiscal_year"], "sha256": b["document_sha256"]} for b in before]})
    return out


def prior_year_disagreements(reports: list[dict], found: dict[str, list]) -> list[dict[str, Any]]:
    """The year's reports whose statements of last year's figures the unit's confirmed report of last year
    contradicts (`found`: sha256 -> `service.check.prior_year.PriorMismatch`es), one row per statement, in
    the shape of `spending_jumps`' rows, with the statement's words (`quote`). A reason for review."""
    out = []
    for r in reports:
        for m in found.get(r["document_sha256"], []):
            out.append({"unit_name": r.get("unit_name"), "sha256": r["document_sha256"], "reason": m.reason,
                        "quote": m.statement.quote, "computed": m.statement.computed,
                        "others": [{"fiscal_year": m.other["fiscal_year"], "sha256": m.other["document_sha256"]}]})
    return out


def _number(v) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def score_distribution(reports: list[dict]) -> Chart:
    rows = [{"bin": label, "reports": sum(1 for r in reports if (s := _number(r.get("self_score"))) is not None
                                          and low <= s < high)} for low, high, label in SCORE_BINS]
    unscored = sum(1 for r in reports if _number(r.get("self_score")) is None)
    return Chart("scores", "自评得分分布", [("bin", "自评得分"), ("reports", "报告数")], rows,
                 {"bins": [r["bin"] for r in rows], "counts": [r["reports"] for r in rows], "unscored": unscored})


def score_against_execution(reports: list[dict]) -> tuple[Chart, list[dict]]:
    rows, outliers = [], []
    for r in reports:
        score, rate = _number(r.get("self_score")), _number(r.get("execution_rate"))
        if score is None or rate is None:
            continue
        row = {"unit_name": r.get("unit_name"), "self_score": score, "execution_rate": rate,
               "sha256": r["document_sha256"], "outlier": score >= HIGH_SCORE and rate < LOW_EXECUTION}
        rows.append(row)
        if row["outlier"]:
            outliers.append({**row, "reason": f"自评得分 {score:g} 分，但预算执行率只有 {rate:g}%"
                                              f"（得分 ≥ {HIGH_SCORE:g} 且执行率 < {LOW_EXECUTION:g}%）"})
    rows.sort(key=lambda x: (not x["outlier"], x["execution_rate"]))
    chart = Chart("score_execution", "自评得分与预算执行率",
                  [("unit_name", "单位"), ("execution_rate", "预算执行率（%）"), ("self_score", "自评得分"),
                   ("outlier", "异常")], rows,
                  {"points": [[x["execution_rate"], x["self_score"], x["unit_name"], x["sha256"], x["outlier"]]
                              for x in rows], "high_score": HIGH_SCORE, "low_execution": LOW_EXECUTION})
    return chart, outliers


def sangong_against_last_year(reports: list[dict], last_year: list[dict], keys: dict[str, str] | None = None
                              ) -> Chart:
    before = {same_unit_as(r, keys): r for r in last_year if same_unit_as(r, keys)}
    rows = []
    for r in reports:
        now = _number(r.get("sangong_actual"))
        prev = before.get(same_unit_as(r, keys)) if same_unit_as(r, keys) else None
        was = _number(prev.get("sangong_actual")) if prev else None
        if now is None and was is None:
            continue
        rows.append({"unit_name": r.get("unit_name"), "this_year": now, "last_year": was,
                     "change": None if now is None or was is None else round(now - was, 6),
                     "sha256": r["document_sha256"]})
    rows.sort(key=lambda x: -(abs(x["change"]) if x["change"] is not None else -1))
    return Chart("sangong", "三公经费：本年与上年", [("unit_name", "单位"), ("this_year", "本年（万元）"),
                                                   ("last_year", "上年（万元）"), ("change", "增减（万元）")], rows,
                 {"units": [x["unit_name"] for x in rows], "this_year": [x["this_year"] for x in rows],
                  "last_year": [x["last_year"] for x in rows], "sha256": [x["sha256"] for x in rows]})


def indicators_below_weight(indicators: list[dict], reports: list[dict]) -> Chart:
    """Indicators (by name) scored below their weight in the most reports: a count per report, not per row."""
    current = {r["document_sha256"] for r in reports}
    seen: dict[str, set[str]] = {}
    below: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for row in indicators:
        sha, key = row["document_sha256"], squeeze(row.get("name") or "")
        weight, score = _number(row.get("weight")), _number(row.get("score"))
        if sha not in current or not key or is_deduction(row.get("level1")) or weight is None or score is None:
            continue
        names.setdefault(key, row["name"])
        seen.setdefault(key, set()).add(sha)
        if score < weight:
            below.setdefault(key, set()).add(sha)
    rows = [{"name": names[k], "below": len(shas), "reports": len(seen[k]),
             "share": round(len(shas) / len(seen[k]), 4), "example_sha256": sorted(shas)[0]}
            for k, shas in below.items()]
    rows.sort(key=lambda x: (-x["below"], -x["share"], x["name"]))
    rows = rows[:TOP_INDICATORS]
    return Chart("indicators", "最常未得满分的指标", [("name", "三级指标"), ("below", "未得满分的报告数"),
                                                    ("reports", "有此指标的报告数"), ("share", "比例")], rows,
                 {"names": [x["name"] for x in rows], "below": [x["below"] for x in rows],
                  "sha256": [x["example_sha256"] for x in rows]})


def year_overview(year: int | None, reports: list[dict], earlier: list[dict], indicators: list[dict],
                  spending_change: float = 0.5, prior: dict[str, list] | None = None,
                  keys: dict[str, str] | None = None) -> YearOverview:
    """The overview of `year` from its current confirmed reports, those of the years before, and their score
    rows; `spending_change`: how far a unit's spending may move from its earlier years unremarked; `prior`:
    the reports' statements of last year's figures that last year's records contradict (by sha256); `keys`:
    which reports are of one unit (`same_unit_as`)."""
    last_year = [r for r in earlier if year is not None and r.get("fiscal_year") == year - 1]
    scatter, outliers = score_against_execution(reports)
    charts = [score_distribution(reports), scatter, sangong_against_last_year(reports, last_year, keys),
              indicators_below_weight(indicators, reports)]
    return YearOverview(year, len(reports), charts, outliers, spending_jumps(reports, earlier, spending_change, keys),
                        prior_year_disagreements(reports, prior or {}))


@dataclass
class UnitReporting:
    """A fiscal year's reports against the registry: the units with no confirmed report (each with what was
    uploaded for it, if anything), those of them with nothing uploaded at all, and the documents that match no
    unit or more than one (待匹配: they count for no unit until a person chooses)."""

    units: int
    reported: int
    not_confirmed: list[dict[str, Any]]  # {"unit": Unit, "uploads": [document rows]}
    not_uploaded: list[Unit]
    unsettled: list[dict[str, Any]]  # {"sha256", "unit_name", "state", "name", "match": Match}
    matches: dict[str, Match] = field(default_factory=dict)  # every document's match, by sha256


def unit_reporting(units: list[Unit], reports: list[dict], uploads: list[dict],
                   choices: dict[str, dict]) -> UnitReporting:
    """`units` (the registry, in the order to list them) against `reports` (the year's current confirmed records)
    and `uploads` (the year's other documents, not failed: {sha256, name, unit_name, state}); `choices`: the
    units people chose for documents (document -> {unit_id, chosen_by})."""
    docs = [{"sha256": r["document_sha256"], "unit_name": r.get("unit_name"), "state": "confirmed",
             "name": r.get("source_name")} for r in reports]
    confirmed = {d["sha256"] for d in docs}
    docs += [u for u in uploads if u["sha256"] not in confirmed and u.get("state") != "confirmed"]
    matches: dict[str, Match] = match_documents({d["sha256"]: d["unit_name"] for d in docs}, units, choices)
    reported: set[int] = set()
    uploaded: dict[int, list[dict]] = {}
    unsettled = []
    for d in docs:
        m = matches[d["sha256"]]
        if not m.settled:
            unsettled.append({**d, "match": m})
        elif d["sha256"] in confirmed:
            reported.add(m.unit.id)
        else:
            uploaded.setdefault(m.unit.id, []).append(d)
    missing = [u for u in units if u.id not in reported]
    return UnitReporting(len(units), len(reported & {u.id for u in units}),
                         [{"unit": u, "uploads": uploaded.get(u.id, [])} for u in missing],
                         [u for u in missing if u.id not in uploaded], unsettled, matches)


def same_unit_reports(year: int | None, docs: list[dict], matches: dict[str, Match] | None = None
                      ) -> list[dict[str, Any]]:
    """The units with more than one document of `year` (`docs`: not failed, not superseded; {sha256, name,
    unit_name, state}), each with its documents and the reason in Chinese: the same report in another format or a
    corrected resubmission, of which only one may stand. A document counts for the unit of the list it is
    settled to (`matches`, when a list is imported), else for its unit's name (`unit_key`); one with no unit
    name counts for none."""
    groups: dict[tuple, dict[str, Any]] = {}
    for d in docs:
        m = (matches or {}).get(d["sha256"])
        if m is not None and m.settled:
            key, name = ("unit", m.unit.id), m.unit.name
        elif unit_key(d.get("unit_name")):
            key, name = ("name", unit_key(d["unit_name"])), d["unit_name"]
        else:
            continue
        groups.setdefault(key, {"unit_name": name, "documents": []})["documents"].append(d)
    found = []
    for g in groups.values():
        documents = g["documents"]
        if len(documents) < 2:
            continue
        counts: dict[str, int] = {}
        for d in documents:
            word = STATE_NAMES.get(d.get("state"), d.get("state") or "")
            counts[word] = counts.get(word, 0) + 1
        states = "，".join(f"{w} {n} 份" for w, n in counts.items())
        found.append({**g, "reason": f"{year} 年度有 {len(documents)} 份报告（{states}）：可能是同一报告的不同格式"
                                     "或更正后重报，确认入库时只能以其中一份为准"})
    return sorted(found, key=lambda g: g["unit_name"])
