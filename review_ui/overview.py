"""总览: a fiscal year's confirmed reports at a glance, for reviewers and admins (`service.overview`).

`/overview?year=2023` shows the charts (ECharts, from the app's own static files) with the table behind each,
names the outliers, and, once a list of units expected to report is imported (单位名单), the units that have not
reported for the year and the reports that match no unit or more than one; the units with more than one
report of the year (可能重复); `/overview/<chart>.csv?year=2023` downloads a chart's table.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, abort, current_app, render_template, request

from service.export import csv_safe
from service.last_year import year_mismatches
from service.overview import UnitReporting, YearOverview, same_unit_reports, unit_reporting, year_overview
from service.units.same_unit import keys_of

from .auth import REVIEWERS, login_required
from .db import get_store

bp = Blueprint("overview", __name__, url_prefix="/overview")
SHOWN_ROWS = 200  # rows of a chart's table on the page; the CSV has them all


def _overview() -> tuple[YearOverview, list[int], dict, list[dict]]:
    store = get_store()
    current = store.confirmed_documents()
    years = sorted({r["fiscal_year"] for r in current if r["fiscal_year"] is not None}
                   | set(store.document_years()), reverse=True)
    year = request.args.get("year", type=int) or (years[0] if years else None)
    reports = [r for r in current if r["fiscal_year"] == year]
    earlier = [r for r in current if year is not None and r["fiscal_year"] is not None and r["fiscal_year"] < year]
    indicators = store.confirmed_indicators_of([r["document_sha256"] for r in reports])
    states = store.state_counts_of_year(year)
    spending_change = current_app.config["SETTINGS"].cross_year_spending_change
    last_year = [r for r in earlier if r["fiscal_year"] == year - 1] if year is not None else []
    keys = keys_of(store, reports + earlier)  # which reports are of one unit: the list's, once imported
    prior = year_mismatches(store, reports, last_year, keys)
    return (year_overview(year, reports, earlier, indicators, spending_change, prior, keys), years, states,
            reports)


def _units(year: int | None, reports: list[dict], docs: list[dict]) -> UnitReporting | None:
    """The year's reports against the registry (未报送单位, 待匹配); None when no list was imported."""
    store = get_store()
    units = store.registry()
    if not units or year is None:
        return None
    return unit_reporting(units, reports, docs, store.unit_choices())


@bp.route("")
@login_required(*REVIEWERS)
def index():
    overview, years, states, reports = _overview()
    data = {c.key: {"title": c.title, **c.data} for c in overview.charts}
    docs = get_store().documents_for_units(overview.year) if overview.year is not None else []
    units = _units(overview.year, reports, docs)
    repeats = same_unit_reports(overview.year, docs, units.matches if units else None)
    return render_template("overview.html", overview=overview, years=years, states=states, chart_data=data,
                           shown_rows=SHOWN_ROWS, units=units, repeats=repeats)


@bp.route("/<key>.csv")
@login_required(*REVIEWERS)
def chart_csv(key: str):
    overview, _, _, _ = _overview()
    chart = next((c for c in overview.charts if c.key == key), None)
    if chart is None:
        abort(404)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([zh for _, zh in chart.columns])
    for row in chart.rows:
        writer.writerow([csv_safe("" if row.get(k) is None else row.get(k)) for k, _ in chart.columns])
    name = f"jixiao-{key}-{overview.year or 'all'}-{date.today():%Y%m%d}.csv"
    return Response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
