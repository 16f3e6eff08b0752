"""Open data: a read-only JSON API of the confirmed records (docs/api.md), behind the same log-in or an API
token an admin issued (`Authorization: Bearer jx_…`, review_ui.tokens).

    GET /api/v1/records?year=2023&unit=镇&limit=100&after=<sha256>   the current confirmed records, by year and unit
    GET /api/v1/records/<sha256>                                     one confirmed record
    GET /api/v1/units                                                each unit with the years it has a record for

A record is the record JSON the export writes (`service.export.record_of`: the same fields, statuses and
evidence), with `unit`: the unit of the bureau's list it is matched or chosen to (id, name, category, code, and
how), once a list is imported (null before; `unit.id` null while 待匹配 or 未匹配). Pages follow the order of confirmation; `next` in the answer is the `after` of the next page.
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from service import export as exporter
from service.units.matching import match_documents

from . import refuse
from .auth import API_READER, REVIEWERS, login_required
from .db import get_store

bp = Blueprint("open_data", __name__, url_prefix="/api/v1")

DEFAULT_LIMIT, MAX_LIMIT = 100, 500
_SHA = re.compile(r"[0-9a-f]{64}")


@bp.route("/records")
@login_required(*REVIEWERS, API_READER)
def records():
    selection = exporter.Selection(year=request.args.get("year", type=int),
                                   unit=request.args.get("unit", "").strip() or None)
    limit = _limit()
    after = request.args.get("after", "")
    if after and not _SHA.fullmatch(after):
        refuse(400, "参数 after 应为上一页返回的 next（64 位十六进制）")
    store = get_store()
    chosen = [r for r in store.confirmed_documents() if selection.matches(r)]
    if after:
        at = next((i for i, r in enumerate(chosen) if r["document_sha256"] == after), None)
        if at is None:
            refuse(400, "参数 after 不是本查询中的记录")
        chosen = chosen[at + 1:]
    page = chosen[:limit]
    listed = _listed_units(store, page)
    body = {"count": len(page),
            "records": [{**exporter.record_of(r, store.confirmed_parts(r["document_sha256"])).json(),
                         "unit": listed.get(r["document_sha256"])} for r in page],
            "next": page[-1]["document_sha256"] if len(chosen) > limit else None}
    return jsonify(body)


@bp.route("/records/<sha256>")
@login_required(*REVIEWERS, API_READER)
def record(sha256: str):
    if not _SHA.fullmatch(sha256):
        refuse(404, "没有这份已确认的记录")
    store = get_store()
    report = next((r for r in store.confirmed_documents(superseded=True) if r["document_sha256"] == sha256), None)
    if report is None:
        refuse(404, "没有这份已确认的记录")
    out = exporter.record_of(report, store.confirmed_parts(sha256)).json()
    out["unit"] = _listed_units(store, [report]).get(sha256)
    out["superseded_by"] = report.get("superseded_by")
    return jsonify(out)


@bp.route("/units")
@login_required(*REVIEWERS, API_READER)
def units():
    years: dict[str, set[int]] = {}
    for r in get_store().confirmed_documents():
        if r["unit_name"]:
            years.setdefault(r["unit_name"], set()).update([r["fiscal_year"]] if r["fiscal_year"] is not None else [])
    return jsonify({"units": [{"unit_name": name, "years": sorted(ys)} for name, ys in sorted(years.items())]})


def _listed_units(store, reports: list[dict]) -> dict[str, dict | None]:
    """Per report, the unit of the list it is (matched or chosen), as the API gives it; {} without a list."""
    units = store.registry()
    if not units:
        return {}
    matches = match_documents({r["document_sha256"]: r["unit_name"] for r in reports}, units, store.unit_choices())
    out = {}
    for sha256, m in matches.items():
        u = m.unit if m.settled else None
        out[sha256] = {"id": u.id if u else None, "name": u.name if u else None,
                       "category": u.category if u else None, "code": u.code if u else None,
                       "match": m.status, "how": m.how}
    return out


def _limit() -> int:
    raw = request.args.get("limit", "")
    if not raw:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
        refuse(400, f"参数 limit 应为 1 到 {MAX_LIMIT} 之间的整数")
    return int(raw)
