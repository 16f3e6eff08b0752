"""Last year's figures a report states, against last year's confirmed report: where the check gets its inputs.

The statements are read from a document's text once per fiscal year and kept by the store
(`Store.keep_prior_statements`): the worker reads them right after extraction (`remember`), and a document
without them (extracted before this check, read by an older finder, or its fiscal year corrected since) is
read when first asked for. Reading is ~2–8 ms a report; the 总览 of a year of 2,000 reports would spend
seconds reading every text again on each visit, so the statements are kept, not recomputed.

`document_mismatches` serves the review page and 确认入库; `year_mismatches` the 总览. Both compare with the
current confirmed records of the year before (`service.check.prior_year.prior_mismatches`), and change
nothing: a mismatch is a reason for review.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from typing import Any

from service.check.prior_year import PriorMismatch, PriorStatement, find_prior_statements, prior_mismatches
from service.errors import JixiaoError
from service.overview import same_unit_as
from service.units.same_unit import keys_of

FINDER_VERSION = "prior-1"  # bump when the finder reads differently: every document is read again when asked
log = logging.getLogger(__name__)


class PriorNotSeen(JixiaoError):
    """确认入库 of a report whose statements about last year disagree with last year's confirmed report, without
    the reviewer having ticked that they saw them (or after new ones appeared)."""


def statements_of(store, wanted: dict[str, int | None]) -> dict[str, list[PriorStatement]]:
    """The statements of each document of `wanted` (sha256 -> its fiscal year): kept ones, else read from its
    text now and kept. A document with no fiscal year, or no text, has none."""
    years = {sha: year for sha, year in wanted.items() if year is not None}
    kept = store.kept_prior_statements(years, FINDER_VERSION)
    out = {sha: [] for sha in wanted}
    out.update({sha: [PriorStatement(**row) for row in found] for sha, found in kept.items()})
    for sha, year in years.items():
        if sha in kept:
            continue
        text = store.document_text(sha)
        if text is None:
            continue
        out[sha] = find_prior_statements(text, year)
        store.keep_prior_statements(sha, year, FINDER_VERSION, [asdict(s) for s in out[sha]])
    return out


def remember(store, sha256: str) -> None:
    """Read a just-extracted document's statements and keep them, so no page has to; a failure is logged and
    left to the first page that asks."""
    try:
        job = store.job(sha256)
        if job is not None:
            statements_of(store, {sha256: job["fiscal_year"]})
    except Exception:  # never fail an extraction over a check that can be made later
        log.exception("prior-year statements of %s not kept; they are read when first shown", sha256[:12])


def document_mismatches(store, sha256: str) -> list[PriorMismatch]:
    """The report's statements about last year that last year's confirmed report of its unit contradicts (its
    unit and fiscal year as now reviewed)."""
    job = store.job(sha256)
    if job is None or not job["unit_name"] or job["fiscal_year"] is None:
        return []
    mine = {"document_sha256": sha256, "unit_name": job["unit_name"]}
    last_year = store.confirmed_of_year(job["fiscal_year"] - 1)
    keys = keys_of(store, [mine, *last_year])
    key = same_unit_as(mine, keys)
    records = [r for r in last_year if key and same_unit_as(r, keys) == key]
    if not records:
        return []  # nothing to compare with: no need to read the statements at all
    statements = statements_of(store, {sha256: job["fiscal_year"]})[sha256]
    return prior_mismatches(statements, job["unit_name"], records, lambda r: same_unit_as(r, keys) == key)


def year_mismatches(store, reports: list[dict[str, Any]], last_year: list[dict[str, Any]],
                    keys: dict[str, str] | None = None) -> dict[str, list[PriorMismatch]]:
    """Per confirmed report of a year (sha256 -> its mismatches, only those with any), against the current
    confirmed reports of the year before of the same unit (`keys`: `service.units.same_unit.keys_of`, or
    names); only reports whose unit has one are read."""
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for r in last_year:
        if r.get("unit_name") and same_unit_as(r, keys):
            by_unit.setdefault(same_unit_as(r, keys), []).append(r)
    mine = [r for r in reports if r.get("unit_name") and same_unit_as(r, keys) in by_unit]
    found = statements_of(store, {r["document_sha256"]: r["fiscal_year"] for r in mine})
    out = {}
    for r in mine:
        statements = found[r["document_sha256"]]
        key = same_unit_as(r, keys)
        got = statements and prior_mismatches(statements, r["unit_name"], by_unit[key],
                                              lambda other, key=key: same_unit_as(other, keys) == key)
        if got:
            out[r["document_sha256"]] = got
    return out


def fingerprint(mismatches: list[PriorMismatch]) -> str:
    """What a reviewer saw, in a few characters: the 确认入库 form carries it back, and a confirm is refused when
    the mismatches are not the ones the page showed."""
    said = "\n".join(sorted(m.reason + m.other["document_sha256"] for m in mismatches))
    return hashlib.sha256(said.encode("utf-8")).hexdigest()[:16]


def require_seen(mismatches: list[PriorMismatch], seen: str | None) -> str | None:
    """The confirm's audit note when the reviewer ticked the mismatches the page showed («已核对上年数差异 …»),
    None when there are none; PriorNotSeen when there are and they were not ticked (or have changed)."""
    if not mismatches:
        return None
    if seen and seen != fingerprint(mismatches):  # ticked, but for what the page showed before a change
        raise PriorNotSeen(f"上年数差异在你打开本页后有变化（现有 {len(mismatches)} 处，例如上年报告已被更正或取代），"
                           "请重新查看后再勾选「已核对上年数差异」并确认入库")
    if seen != fingerprint(mismatches):
        raise PriorNotSeen(f"本报告所称上年数与上年已确认报告有 {len(mismatches)} 处不一致，"
                           "请在报告页查看并勾选「已核对上年数差异」后再确认入库")
    named = "；".join(f"{m.label} {m.statement.year} 年" for m in mismatches[:5])
    return f"已核对上年数差异 {len(mismatches)} 处：{named}"
