"""The operator's batch from the issue: Word, PDF, a scanned image and text in one run."""

from __future__ import annotations

import json

import pytest

from service.cli import cli
from tests.builders import make_docx, make_text_pdf
from tests.conftest import SAMPLES
from tests.scans import crop_to_ink, degrade, find_cjk_font, render_pages

NARRATIVE = (
    "2023年度某某县某某局部门整体支出绩效自评报告\n"
    "一、部门收支情况\n"
    "2023年度部门收入合计1523.45万元，其中：一般公共预算财政拨款收入1420.30万元。\n"
    "2023年度部门支出合计1498.12万元，其中：基本支出856.34万元，项目支出641.78万元。\n"
)


@pytest.mark.ocr
def test_mixed_batch_of_docx_pdf_scan_and_text(runner, tmp_path):
    font = find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (make test installs fonts-wqy-zenhei)")
    report = SAMPLES / "002_6ebd5ff7b055c059.txt"
    make_docx(report.read_text(encoding="utf-8"), tmp_path / "report1.docx")
    make_text_pdf(NARRATIVE, tmp_path / "report2.pdf")
    page = render_pages(NARRATIVE, font, dpi=200)[0]
    degrade(crop_to_ink(page), angle_deg=1.0, seed=1).save(tmp_path / "scan.jpg", quality=85)
    (tmp_path / "report3.txt").write_text(NARRATIVE, encoding="utf-8")

    result = runner.invoke(cli, ["extract", "report1.docx", "report2.pdf", "scan.jpg", "report3.txt",
                                 "--out", "out"])

    assert result.exit_code == 0, result.output
    records = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "out").glob("*.json")}
    assert set(records) == {"report1", "report2", "scan", "report3"}
    assert records["report1"]["fields"]["self_score"]["value"] == 90
    assert records["scan"]["source"]["ocr"] is True and records["report3"]["source"]["ocr"] is False
    for stem in ("report2", "scan", "report3"):
        fields = records[stem]["fields"]
        assert fields["expense_total"]["value"] == 1498.12, stem
        assert fields["expense_basic"]["value"] == 856.34, stem
        assert fields["income_general_budget"]["value"] == 1420.30, stem
    assert "是" in result.output  # the OCR column says yes for the scan
