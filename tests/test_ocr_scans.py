"""OCR on real pixels: report text rendered to A4 pages, degraded like a scan, read back.

Nothing is mocked: the bundled PP-OCR models run through rapidocr. Pages are
rendered once per module (OCR costs a few seconds a page on a small CPU), and
the error rate is measured against the exact text that was drawn.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from service.errors import IngestError
from service.extract.rules.engine import extract
from service.ingest import load, load_bytes
from service.sections import split_sections
from service.settings import load_settings
from tests.conftest import SAMPLES
from tests.scans import cer, crop_to_ink, degrade, find_cjk_font, render_pages

pytestmark = pytest.mark.ocr

SAMPLE_000 = SAMPLES / "000_8d720d4fc0889d24.txt"
SAMPLE_002 = SAMPLES / "002_6ebd5ff7b055c059.txt"
KEY_NUMBERS = ("1045.9", "2769.17439", "2326.032882", "2844.28141", "914.554725", "807.744394")
MAX_CER = 0.02


def _section(first: str, last: str) -> str:
    """Lines of report 000 from the line `first` through the paragraph that follows the line `last`."""
    lines = SAMPLE_000.read_text(encoding="utf-8").splitlines()
    start, heading = lines.index(first), lines.index(last)
    end = next(i for i in range(heading + 1, len(lines)) if lines[i].strip()) + 1
    return "\n".join(lines[start:end])


def _page_text(doc, number: int) -> str:
    page = next(p for p in doc.pages if p.number == number)
    return doc.text[page.start:page.end]


@pytest.fixture(scope="module")
def font() -> str:
    path = find_cjk_font()
    if path is None:
        pytest.skip("no CJK font found (install fonts-wqy-zenhei: `make debian`); cannot render scans")
    return path


@pytest.fixture(scope="module")
def narrative() -> str:
    """Section one of report 000 through the asset paragraph: about two printed pages of prose."""
    return _section("一、部门、单位基本情况", "5.资产管理情况")


@pytest.fixture(scope="module")
def scanned_pages(narrative, font) -> list[Image.Image]:
    return [degrade(page, seed=i) for i, page in enumerate(render_pages(narrative, font))]


@pytest.fixture(scope="module")
def png_docs(scanned_pages, tmp_path_factory):
    folder = tmp_path_factory.mktemp("png")
    docs = []
    for i, page in enumerate(scanned_pages, start=1):
        path = folder / f"scan_{i}.png"
        page.save(path)
        docs.append(load(path, load_settings(env={})))
    return docs


def test_degraded_png_scan_of_report_text_has_low_character_error_rate(png_docs, narrative):
    assert len(png_docs) >= 2
    for doc in png_docs:
        assert doc.kind == "image"
        assert doc.ocr is True
        assert [p.number for p in doc.pages] == [1]
        assert doc.ocr_lines
        assert all(0 < line.confidence <= 1 for line in doc.ocr_lines)
        assert all(line.page == 1 for line in doc.ocr_lines)
    error_rate = cer(narrative, "\n".join(doc.text for doc in png_docs))
    assert error_rate <= MAX_CER, f"CER {error_rate:.4f}"


def test_ocr_lines_cover_the_text_in_reading_order(png_docs, narrative):
    doc = png_docs[0]
    starts = [line.start for line in doc.ocr_lines]
    assert starts == sorted(starts)
    tops = [line.box[1] for line in doc.ocr_lines]
    assert tops == sorted(tops), "lines must run top to bottom"
    assert doc.text.lstrip().startswith("一、部门、单位基本情况")


def test_image_only_pdf_scan_is_ocred(scanned_pages, narrative, settings, tmp_path):
    path = tmp_path / "scan.pdf"
    first, *rest = scanned_pages
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=200)
    doc = load(path, settings.replace(ocr_dpi=200))
    assert doc.kind == "pdf"
    assert [p.number for p in doc.pages] == list(range(1, len(scanned_pages) + 1))
    assert all(p.ocr for p in doc.pages)
    assert {line.page for line in doc.ocr_lines} == {p.number for p in doc.pages}
    error_rate = cer(narrative, doc.text)
    assert error_rate <= MAX_CER, f"CER {error_rate:.4f}"


def test_key_numbers_survive_the_scan(font, settings, tmp_path):
    budget = "\n".join([
        _section("1、部门预算情况", "1、部门预算情况"),
        _section("2.部门决算情况(含年中预算追加情况)", "2.部门决算情况(含年中预算追加情况)"),
        _section("5.资产管理情况", "5.资产管理情况"),
    ])
    (page,) = render_pages(budget, font)
    path = tmp_path / "budget.jpg"
    degrade(page, angle_deg=-1.0, seed=7).save(path, quality=70)
    doc = load(path, settings)
    for number in KEY_NUMBERS:
        assert number in budget
        assert number in doc.text, f"{number} not read exactly"


def test_multi_page_tiff_pages_are_numbered(font, settings, tmp_path):
    texts = ["第一页：部门整体支出绩效自评报告", "第二页：年初预算安排收入1045.9万元"]
    frames = [crop_to_ink(render_pages(t, font)[0]) for t in texts]
    path = tmp_path / "scan.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    doc = load(path, settings)
    assert [p.number for p in doc.pages] == [1, 2]
    assert all(p.ocr for p in doc.pages)
    assert "第一页" in _page_text(doc, 1) and "第二页" not in _page_text(doc, 1)
    assert "第二页" in _page_text(doc, 2) and "1045.9" in _page_text(doc, 2)
    assert [line.page for line in doc.ocr_lines] == [1, 2]


def test_phone_photo_is_turned_upright_by_its_exif_orientation(font, settings, tmp_path):
    lines = ["一、部门预算情况", "年初预算安排收入1045.9万元", "基本支出644.42万元"]
    upright = crop_to_ink(render_pages("\n".join(lines), font)[0])
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the camera was held sideways
    path = tmp_path / "photo.jpg"
    upright.rotate(90, expand=True).save(path, quality=90, exif=exif)
    doc = load(path, settings)
    # Read sideways, the three printed lines would stand side by side and merge into one.
    assert [doc.text[line.start:line.end] for line in doc.ocr_lines] == lines


def test_table_like_lines_become_a_table_with_cell_confidences(font, settings, tmp_path):
    rows = [["年初预算数", "全年预算数", "全年执行数"], ["1045.9", "2769.17439", "2844.28141"]]
    # Columns three em apart, as in a printed table (ASCII spaces are only 0.2-0.3 em wide in CJK fonts).
    text = "\n".join(("\u3000" * 3).join(row) for row in rows)
    path = tmp_path / "table.png"
    crop_to_ink(render_pages(text, font)[0]).save(path)
    doc = load(path, settings)
    assert [(t.origin, t.grid()) for t in doc.tables] == [("ocr", rows)]
    # Every cell has an OCR line of its own, so a doubtful cell goes to review on its own.
    cells = [c for row in doc.tables[0].rows for c in row]
    for cell in cells:
        assert doc.ocr_confidence(cell.start, cell.end) is not None
    assert [doc.text[ln.start:ln.end] for ln in doc.ocr_lines] == [c.text for c in cells]
    assert all(0 < line.confidence <= 1 for line in doc.ocr_lines)


KEY_FIELDS = ("budget_initial", "budget_full_year", "spending_actual", "self_score", "income_general_budget")


def _key_facts(doc):
    """The key money and score fields, and (name, weight, score) of every score-table row."""
    ex = extract(doc, split_sections(doc))
    fields = {k: ex.fields[k].value if k in ex.fields else None for k in KEY_FIELDS}
    return fields, [(r.name, r.weight, r.score) for r in ex.indicators]


def test_scan_of_report_002_gives_the_same_key_facts_as_its_text(font, settings, tmp_path):
    """The whole report printed (its tables as ruled grids), lightly degraded, scanned to a multi-page TIFF.

    The money table and the score table run over a page break; the facts in
    them must come back equal (a value may be sent to review for its OCR
    confidence, but not changed).
    """
    text = SAMPLE_002.read_text(encoding="utf-8")
    pages = [degrade(page, angle_deg=0.5, blur_radius=0.5, noise_sigma=4, jpeg_quality=80, seed=i)
             for i, page in enumerate(render_pages(text, font))]
    assert len(pages) >= 3
    path = tmp_path / "002.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:], compression="tiff_deflate")

    doc = load(path, settings)
    want = _key_facts(load(SAMPLE_002, settings))
    got = _key_facts(doc)

    assert all(v is not None for v in want[0].values()) and len(want[1]) == 9
    assert got == want
    score_table = next(t for t in doc.tables if any(c.text == "一级指标" for row in t.rows for c in row))
    assert doc.page_at(score_table.start) < doc.page_at(score_table.end - 1), "one table across the page break"
    assert len({len(row) for row in score_table.rows}) == 1, "every row has one cell per column"


def test_blank_scan_is_rejected_as_unreadable(settings):
    buf = io.BytesIO()
    Image.new("RGB", (1200, 1600), "white").save(buf, "PNG")
    with pytest.raises(IngestError, match="没有可读取的文字"):
        load_bytes(buf.getvalue(), "blank.png", settings)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_image_is_rejected(damage, settings):
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(buf, "PNG")
    data = buf.getvalue()
    data = data[:8] + b"\x00not an image\x00" * 20 if damage == "garbage" else data[: len(data) // 2]
    with pytest.raises(IngestError, match="图片文件损坏，无法打开"):
        load_bytes(data, "scan.png", settings)


def test_image_with_ocr_off_is_rejected(settings):
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(buf, "PNG")
    with pytest.raises(IngestError, match="OCR 已关闭") as err:
        load_bytes(buf.getvalue(), "scan.png", settings.replace(ocr=False))
    assert err.value.name == "scan.png"
