"""Downloads of the confirmed records: XLSX, CSV and record JSON (reviewers)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, render_template

from service import export as exporter

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
    return render_template("export.html", count=len(get_store().confirmed_documents()))


@bp.route("/<fmt>")
@login_required(*REVIEWERS)
def download(fmt: str):
    if fmt not in FORMATS:
        abort(404)
    store = get_store()
    if fmt == "xlsx":
        body: bytes | str = exporter.xlsx_bytes(store)
    elif fmt == "reports.csv":
        body = "\ufeff" + exporter.reports_csv(store)
    elif fmt == "indicators.csv":
        body = "\ufeff" + exporter.indicators_csv(store)
    else:
        body = exporter.json_zip_bytes(store)
    mimetype, ext = FORMATS[fmt]
    stem = fmt.split(".")[0] if fmt != "xlsx" else "confirmed"
    name = f"jixiao-{stem}-{date.today():%Y%m%d}.{ext}"
    return Response(body, content_type=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'})
