"""The same report as .docx or text PDF gives the same record as its text."""

from __future__ import annotations

import pytest

from service.extract.rules.engine import extract
from service.ingest import load
from service.record import to_record
from service.sections import split_sections
from tests.builders import make_docx, make_text_pdf
from tests.conftest import SAMPLES

STEMS = sorted(p.stem for p in SAMPLES.glob("*.txt"))


def _record(path):
    doc = load(path)
    return to_record(doc, extract(doc, split_sections(doc))).json()


def _facts(record):
    fields = {k: (v["value"], v["status"]) for k, v in record["fields"].items()}
    rows = [(r["table"], r["level1"], r["level2"], r["name"], r["target"], r["actual"], r["weight"], r["score"])
            for r in record["indicators"]]
    return fields, rows, record["problems"]["value"] if record["problems"] else None


@pytest.mark.parametrize("stem", STEMS)
def test_docx_version_gives_the_same_record_as_the_text(stem, tmp_path):
    src = SAMPLES / f"{stem}.txt"
    docx = tmp_path / f"{stem}.docx"
    make_docx(src.read_text(encoding="utf-8"), docx)
    assert _facts(_record(docx)) == _facts(_record(src))


# Why a sample's text-PDF version does not yet give the same record as its text.
PDF_TABLES_NOT_YET = {
    "004_b638ef10e80c4f2a": (
        "every field and 13 of 14 score rows match; the 扣分项 row does not come back: in the text its first "
        "cell spans the three level columns, which only its cell count shows, and a PDF keeps no trace of a "
        "merge, so the padded row reads as a group row without an indicator"),
}


@pytest.mark.slow  # each sample typeset as a PDF with its CJK font (fpdf2), a second or more each
@pytest.mark.parametrize("stem", [
    pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=PDF_TABLES_NOT_YET[s]))
    if s in PDF_TABLES_NOT_YET else s
    for s in STEMS])
def test_text_pdf_version_gives_the_same_record_as_the_text(stem, tmp_path):
    src = SAMPLES / f"{stem}.txt"
    pdf = tmp_path / f"{stem}.pdf"
    make_text_pdf(src.read_text(encoding="utf-8"), pdf)
    assert _facts(_record(pdf)) == _facts(_record(src))
