"""Downloads of the confirmed records: XLSX, CSV and record JSON (reviewers).

`/export/<fmt>?year=2023&unit=某某` exports only that year and the units whose name contains the text;
`keys=1` gives a CSV under the field keys instead of the Chinese header. Times are in the setting time_zone.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, render_template, request

from service import export as exporter
from service.errors import JixiaoError

from . import refuse
from .auth import REVIEWERS, login_required
from .db import get_store

bp = Blueprint("export", __name__, url_prefix="/export")

FORMATS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "reports.csv": ("text/csv; charset=utf-8", "csv"),
    "indicators.csv": ("text/csv; charset=utf-8", "csv"),
    "json.zip": ("application/zip", "zip"),
}


@bp.route("/")
@login_required(*REVIEWERS)
def index():
    reports = get_store().confirmed_documents()
    years = sorted({r["fiscal_year"] for r in reports if r["fiscal_year"] is not None}, reverse=True)
    units = sorted({r["unit_name"] for r in reports if r["unit_name"]})
    return render_template("export.html", count=len(reports), years=years, units=units)


@bp.route("/<fmt>")
@login_required(*REVIEWERS)
def download(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    selection = _selection()
    try:
        body = _body(fmt, selection, keys=request.args.get("keys") == "1")
    except JixiaoError as e:  # a time_zone setting that names no zone
        refuse(500, str(e))
    mimetype, ext = FORMATS[fmt]
    stem = fmt.split(".")[0] if fmt != "xlsx" else "confirmed"
    year = f"-{selection.year}" if selection.year is not None else ""
    name = f"jixiao-{stem}{year}-{date.today():%Y%m%d}.{ext}"
    return Response(body, content_type=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _selection() -> exporter.Selection:
    """The year and unit of the query string (checked by check_query); an empty one (全部) selects all."""
    return exporter.Selection(year=request.args.get("year", type=int),
                              unit=request.args.get("unit", "").strip() or None)


def _body(fmt: str, selection: exporter.Selection, keys: bool) -> bytes | str:
    store = get_store()
    zone = current_app.config["SETTINGS"].time_zone
    if fmt == "xlsx":
        return exporter.xlsx_bytes(store, selection, time_zone=zone)
    if fmt == "reports.csv":
        return "\ufeff" + exporter.reports_csv(store, selection, keys=keys, time_zone=zone)
    if fmt == "indicators.csv":
        return "\ufeff" + exporter.indicators_csv(store, selection, keys=keys)
    return exporter.json_zip_bytes(store, selection)
