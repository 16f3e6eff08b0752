"""One record per unit and year: the same report uploaded twice in other formats is shown as 可能重复, and
confirming the second asks which stands; the export carries one current record."""

from __future__ import annotations

import csv
import io

import pytest

from service.record import Record
from service.store.workflow import DuplicateRecord
from tests.builders import make_docx
from tests.conftest import SAMPLES
from tests.webapp import api_save, confirm_form, login, make_app, store_of, upload_and_extract

REPORT = SAMPLES / "000_8d720d4fc0889d24.txt"


def _resolve(app, client, sha):
    store = store_of(app)
    try:
        for item in [i for i in store.review_items(sha) if i["status"] == "review"]:
            assert api_save(client, sha, item, "accept").status_code == 200
    finally:
        store.close()


@pytest.fixture
def two(tmp_path):
    app = make_app(tmp_path)
    docx = make_docx(REPORT.read_text(encoding="utf-8"), tmp_path / "000.docx")
    return app, upload_and_extract(app, REPORT), upload_and_extract(app, docx)


def test_the_same_report_as_txt_and_docx_is_shown_as_a_possible_duplicate(two):
    app, txt, docx = two
    client = app.test_client()
    login(client, "rev")
    page = client.get(f"/documents/{docx}").get_data(as_text=True)
    assert "可能重复" in page and "000_8d720d4fc0889d24.txt" in page
    job_page = client.get(f"/jobs/{txt}").get_data(as_text=True)
    assert "可能重复" in job_page and "000.docx" in job_page


def test_confirming_the_second_asks_which_stands_and_the_export_has_one_current_record(two):
    app, txt, docx = two
    client = app.test_client()
    login(client, "rev")
    _resolve(app, client, txt)
    assert client.post(f"/documents/{txt}/confirm", data=confirm_form(client, txt)).status_code == 303
    _resolve(app, client, docx)
    page = client.get(f"/documents/{docx}").get_data(as_text=True)
    assert "以哪一份为准" in page
    store = store_of(app)
    try:
        with pytest.raises(DuplicateRecord):  # a confirm that did not choose is refused
            store.confirm(docx, "rev", Record.model_validate(
                {"fields": {"unit_name": store.job(docx)["unit_name"], "fiscal_year": store.job(docx)["fiscal_year"]}}))
        resp = client.post(f"/documents/{docx}/confirm", data={**confirm_form(client, docx), "stands": "this"})
        assert resp.status_code == 303 and store.job(docx)["state"] == "confirmed"
        current = store.confirmed_documents()
        assert [r["document_sha256"] for r in current] == [docx]
        kept = {r["document_sha256"]: r for r in store.confirmed_documents(superseded=True)}
        assert kept[txt]["superseded_by"] == docx
        assert "superseded" in [a["action"] for a in store.audit_entries(txt)]
    finally:
        store.close()
    rows = list(csv.reader(io.StringIO(client.get("/export/reports.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2  # the header and one report


def test_reopening_the_record_that_stands_makes_the_other_current_again(two):
    app, txt, docx = two
    client = app.test_client()
    login(client, "boss")
    for sha, stands in ((txt, None), (docx, "this")):
        _resolve(app, client, sha)
        data = confirm_form(client, sha) | ({"stands": stands} if stands else {})
        assert client.post(f"/documents/{sha}/confirm", data=data).status_code == 303
    store = store_of(app)
    try:
        store.reopen(docx, "boss", "数值有误")
        assert [r["document_sha256"] for r in store.confirmed_documents()] == [txt]
    finally:
        store.close()
