"""PDF ingestion: text layer per page, encrypted and corrupt files refused, image-only pages sent to OCR.

OCR itself is replaced by a fake (`fake_ocr`) so these tests check only the
routing: which pages go to OCR, at what resolution, and what comes back.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from service.errors import IngestError
from service.ingest import load, load_bytes
from tests.builders import cjk_pdf, make_image_pdf, make_text_pdf
from tests.conftest import SAMPLES

SAMPLE_000 = SAMPLES / "000_8d720d4fc0889d24.txt"


@pytest.fixture
def at_72_dpi(settings):
    """Scanned pages rendered at 72 dpi: the fake OCR needs no more, and rendering is quick."""
    return settings.replace(ocr_dpi=72)


@pytest.fixture(scope="module")
def sample_pdf(tmp_path_factory) -> Path:
    """Report 000 as a multi-page text PDF (made once: fpdf2 takes about a second)."""
    return make_text_pdf(SAMPLE_000.read_text(encoding="utf-8"), tmp_path_factory.mktemp("pdf") / "000.pdf")


@pytest.fixture
def fake_ocr(monkeypatch):
    """Stand in for `service.ingest.ocr` (written elsewhere); record each call, write one line."""
    calls = []

    def ocr_image(image, page_number, builder, settings):
        calls.append((page_number, image.size))
        builder.start_page(page_number, ocr=True)
        builder.add_ocr_line(page_number, f"识别文字第{page_number}页", 0.97)

    monkeypatch.setitem(sys.modules, "service.ingest.ocr", types.SimpleNamespace(ocr_image=ocr_image))
    return calls


def _scan_image() -> Image.Image:
    image = Image.new("RGB", (595, 842), "white")
    ImageDraw.Draw(image).rectangle((100, 100, 400, 140), fill="black")
    return image


def _text_then_image_pdf(path: Path) -> Path:
    pdf = cjk_pdf()
    pdf.add_page()
    pdf.multi_cell(0, 6, "第一页是文字：年度资金总额 2946.602828")
    pdf.add_page()
    pdf.image(_scan_image(), x=0, y=0, w=210)
    pdf.output(str(path))
    return path


@pytest.mark.slow  # report 000 typeset as a PDF with its CJK font (fpdf2): seconds
def test_text_pdf_pages_and_text(sample_pdf, at_72_dpi, fake_ocr):
    doc = load(sample_pdf, at_72_dpi)

    assert doc.kind == "pdf"
    assert len(doc.pages) > 1
    assert [p.number for p in doc.pages] == list(range(1, len(doc.pages) + 1))
    assert doc.ocr is False
    assert fake_ocr == []
    assert "2946.602828" in doc.text
    assert "衡山县岭坡乡人民政府" in doc.text
    assert "\r" not in doc.text


@pytest.mark.slow  # report 000 typeset as a PDF with its CJK font (fpdf2): seconds
def test_text_pdf_offsets_map_to_the_page_they_came_from(sample_pdf, settings):
    doc = load(sample_pdf, settings)

    assert doc.page_at(doc.text.index("部门（单位）名称")) == 1
    assert doc.page_at(doc.text.index("2946.602828")) > 1
    for before, after in zip(doc.pages, doc.pages[1:], strict=False):
        assert before.end == after.start


def test_password_protected_pdf_is_rejected(tmp_path, settings):
    path = make_text_pdf("年度资金总额 2946.602828", tmp_path / "locked.pdf", encrypt_user="secret")

    with pytest.raises(IngestError) as err:
        load(path, settings)

    assert err.value.name == "locked.pdf"
    assert err.value.reason == "PDF 已加密（需要密码），请上传未加密的文件"


def test_pdf_with_only_owner_password_is_read(tmp_path, settings):
    pdf = cjk_pdf()
    pdf.set_encryption(owner_password="owner")  # restricts editing, opens without a password
    pdf.add_page()
    pdf.multi_cell(0, 6, "衡山县岭坡乡人民政府")
    pdf.output(str(tmp_path / "restricted.pdf"))

    doc = load(tmp_path / "restricted.pdf", settings)

    assert "衡山县岭坡乡人民政府" in doc.text


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n" + bytes(range(256)) * 40, b"%PDF-1.4\n%%EOF\n"],
    ids=["garbage-after-header", "header-only"],
)
def test_corrupt_pdf_is_rejected(data, settings):
    with pytest.raises(IngestError) as err:
        load_bytes(data, "broken.pdf", settings)

    assert err.value.name == "broken.pdf"
    assert err.value.reason == "PDF 文件损坏，无法打开"


def test_pdf_page_without_text_goes_to_ocr(tmp_path, settings, fake_ocr):
    path = _text_then_image_pdf(tmp_path / "mixed.pdf")

    doc = load(path, settings.replace(ocr_dpi=144))

    assert [page for page, _ in fake_ocr] == [2]
    width, height = fake_ocr[0][1]
    assert abs(width - 595 * 2) <= 2 and abs(height - 842 * 2) <= 2  # A4 rendered at 144 dpi
    assert [(p.number, p.ocr) for p in doc.pages] == [(1, False), (2, True)]
    assert doc.ocr is True
    assert "2946.602828" in doc.text and "识别文字第2页" in doc.text
    assert doc.page_at(doc.text.index("识别文字第2页")) == 2
    assert doc.ocr_confidence(0, len(doc.text)) == pytest.approx(0.97)


def test_image_only_pdf_sends_every_page_to_ocr(tmp_path, at_72_dpi, fake_ocr):
    path = make_image_pdf([_scan_image(), _scan_image()], tmp_path / "scan.pdf")

    doc = load(path, at_72_dpi)

    assert [page for page, _ in fake_ocr] == [1, 2]
    assert all(p.ocr for p in doc.pages)


def test_scanned_pdf_with_ocr_off_is_rejected(tmp_path, at_72_dpi, fake_ocr):
    path = make_image_pdf([_scan_image()], tmp_path / "scan.pdf")

    with pytest.raises(IngestError) as err:
        load(path, at_72_dpi.replace(ocr=False))

    assert err.value.name == "scan.pdf"
    assert err.value.reason == "该 PDF 为扫描件，需要 OCR，但 OCR 已关闭（JIXIAO_OCR=0）"
    assert fake_ocr == []


def test_blank_pdf_page_is_kept_but_not_sent_to_ocr(tmp_path, at_72_dpi, fake_ocr):
    pdf = cjk_pdf()
    pdf.add_page()
    pdf.multi_cell(0, 6, "正文在第一页")
    pdf.add_page()  # nothing on it
    pdf.output(str(tmp_path / "blank.pdf"))

    doc = load(tmp_path / "blank.pdf", at_72_dpi)

    assert fake_ocr == []
    assert [(p.number, p.ocr) for p in doc.pages] == [(1, False), (2, False)]
    assert doc.text == "正文在第一页\n"
