"""A scanned value is boxed on the page image where its characters are printed: on the number itself, not
its whole line, wherever the line is on the page, at any window size and zoom; page images are rendered once
and cached, and hold their place before they load.

The page is drawn here (own layout, not a real report), so where each character was printed is known to
the pixel; the box the review page draws is measured in the browser and compared with that.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import CHROMIUM
from tests.scans import find_cjk_font
from tests.webapp import login, make_app, upload_and_extract

pytestmark = pytest.mark.ocr  # every test reads the drawn page by OCR
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="Debian chromium is not installed at /usr/bin/chromium")

SIZE = (1654, 2339)  # A4 at 200 dpi
FONT_PX = 36  # 13 pt at 200 dpi
LEFT = 160
# (x, y, text): the values checked lie near the top, three-quarters down and near the foot of the page
LINES = [
    (LEFT, 130, "衡山县岭坡乡人民政府"),
    (LEFT, 200, "2023年度部门整体支出绩效自评报告"),
    (LEFT, 330, "一、部门基本情况"),
    (LEFT, 400, "本单位为一级预算单位，内设机构五个，编制人数42人。"),
    (LEFT, 900, "二、预算执行情况"),
    (LEFT, 970, "年初预算数1045.90万元，调整后全年预算数见下文。"),
    (LEFT, 1750, "全年预算数2946.60万元，全年执行数2844.28万元。"),
    (LEFT, 1820, "预算执行率为96.53%。"),
    (1100, 2150, "2024年3月15日"),
]
# field -> the characters its box should cover, on the line that holds them
VALUES = {"budget_initial": "1045.90", "spending_actual": "2844.28", "report_date": "2024年3月15日",
          "staff_authorized": "42"}
TOLERANCE = 4  # screen pixels


def printed_at(text: str) -> tuple[float, float, float, float]:
    """Where `text` was printed (x0, y0, x1, y1 in page pixels): its line's ink from its first to last glyph."""
    font = ImageFont.truetype(find_cjk_font(), FONT_PX)
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    for x, y, line in LINES:
        if text in line:
            left = x + draw.textlength(line[:line.index(text)], font=font)
            x0, y0, x1, y1 = draw.textbbox((left, y), text, font=font)
            return x0, y0, x1, y1
    raise KeyError(text)


def draw_page(path: Path) -> Path:
    font = ImageFont.truetype(find_cjk_font(), FONT_PX)
    image = Image.new("L", SIZE, 255)
    draw = ImageDraw.Draw(image)
    for x, y, text in LINES:
        draw.text((x, y), text, font=font, fill=0)
    image.save(path)
    return path


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> Path:
    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (make test installs fonts-wqy-zenhei)")
    return draw_page(tmp_path_factory.mktemp("scan") / "岭坡乡扫描件.png")


# -- what the server keeps ---------------------------------------------------------------------------------

def test_each_ocr_line_keeps_where_its_characters_are(scan, tmp_path):
    from service.ingest import load
    from service.settings import load_settings

    doc = load(scan, load_settings(env={}))
    assert (doc.pages[0].width, doc.pages[0].height) == SIZE
    line = next(ln for ln in doc.ocr_lines if "2844.28" in doc.text[ln.start:ln.end])
    text = doc.text[line.start:line.end]
    start, end, *_box, xs = line.parts[0]
    assert text[start:end] == text and len(xs) == len(text)
    first, last = text.index("2844.28"), text.index("2844.28") + len("2844.28") - 1
    x0, _, x1, _ = printed_at("2844.28")
    # page pixels: the recogniser places a character by its cell, a little wider than its ink
    assert abs(xs[first][0] - x0) <= 10 and abs(xs[last][1] - x1) <= 10


def test_a_page_image_is_rendered_once_and_served_from_the_cache(scan, tmp_path):
    app = make_app(tmp_path)
    sha = upload_and_extract(app, scan)
    cached = list((tmp_path / "instance" / "page_cache" / sha).glob("1-*.jpg"))
    assert len(cached) == 1  # the worker rendered it when it read the scan
    client = app.test_client()
    assert login(client, "rev").status_code == 302
    first = client.get(f"/documents/{sha}/pages/1.jpg")
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert Image.open(cached[0]).size == SIZE
    stamp = cached[0].stat().st_mtime_ns
    again = client.get(f"/documents/{sha}/pages/1.jpg", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert cached[0].stat().st_mtime_ns == stamp  # not rendered again
    assert "immutable" in first.headers["Cache-Control"]
    page = client.get(f"/documents/{sha}").get_data(as_text=True)
    assert f'width="{SIZE[0]}" height="{SIZE[1]}"' in page  # its place held before it loads
    assert 'loading="lazy"' in page


# -- in a browser ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live(tmp_path_factory, scan):
    from tests.test_browser import LiveApp

    app = LiveApp(tmp_path_factory.mktemp("scanbox"), (scan,))
    yield app
    app.close()


@contextmanager
def open_pages(browser, live, scan, width: int, height: int):
    """The scan's review page at a window size, on its page images, the image loaded."""
    from tests.test_browser import logged_in

    with logged_in(browser, live, width, height, timeout_ms=20_000) as page:
        page.goto(f"/documents/{live.shas[scan.name]}")
        page.click(".tab[data-view=pages]")
        page.wait_for_function("() => { const i = document.querySelector('.page-frame img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        yield page


def box_and_expected(page, key: str) -> tuple[dict, tuple[float, float, float, float]]:
    """The strong box drawn for field `key` (screen pixels) and where its value was printed, on screen."""
    page.locator(f"#item-field-{key} .label").click()
    page.wait_for_selector(".page-frame .box:not(.context)")
    box = page.locator(".page-frame .box:not(.context)").first.bounding_box()
    img = page.locator(".page-frame img").first.bounding_box()
    scale = img["width"] / SIZE[0]
    x0, y0, x1, y1 = printed_at(VALUES[key])
    return box, (img["x"] + x0 * scale, img["y"] + y0 * scale, img["x"] + x1 * scale, img["y"] + y1 * scale)


def assert_on_value(box: dict, expected: tuple[float, float, float, float], scale: float) -> None:
    x0, y0, x1, y1 = expected
    slack = TOLERANCE + 8 * scale  # the recogniser's boxes reach a few page pixels past the ink
    assert abs(box["x"] - x0) <= slack, (box, expected)
    assert abs(box["x"] + box["width"] - x1) <= slack, (box, expected)
    # vertically: the line's box, which holds the glyphs and a little more
    assert box["y"] <= y0 + slack and box["y"] + box["height"] >= y1 - slack, (box, expected)
    assert box["height"] <= (y1 - y0) + 2 * slack, (box, expected)


@needs_chromium
@pytest.mark.parametrize("width,height", [(1440, 900), (1280, 720)])
def test_the_box_of_a_scanned_value_lies_on_its_characters(browser, live, scan, width, height):
    with open_pages(browser, live, scan, width, height) as page:
        for key in VALUES:
            box, expected = box_and_expected(page, key)
            scale = page.locator(".page-frame img").first.bounding_box()["width"] / SIZE[0]
            assert_on_value(box, expected, scale)
            # the page is scrolled to the value: its box is in the pane's view
            pane = page.locator(".pane.source").bounding_box()
            assert pane["y"] <= box["y"] and box["y"] + box["height"] <= pane["y"] + pane["height"], key


@needs_chromium
def test_zooming_in_keeps_the_box_on_the_value_and_the_page_can_be_panned(browser, live, scan):
    with open_pages(browser, live, scan, 1440, 900) as page:
        before = page.locator(".page-frame img").first.bounding_box()["width"]
        page.click("[data-zoom=in]")
        page.click("[data-zoom=in]")
        from playwright.sync_api import expect

        expect(page.locator("#zoom-level")).to_have_text("156%")
        after = page.locator(".page-frame img").first.bounding_box()["width"]
        assert after == pytest.approx(before * 1.5625, rel=0.02)
        box, expected = box_and_expected(page, "spending_actual")
        assert_on_value(box, expected, after / SIZE[0])
        pane = page.locator(".pane.source")
        left = pane.evaluate("p => p.scrollLeft")
        view = pane.bounding_box()
        x, y = view["x"] + view["width"] / 2, view["y"] + view["height"] / 2  # on the page image, in view
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - 100, y - 50, steps=5)
        page.mouse.up()
        assert pane.evaluate("p => p.scrollLeft") == pytest.approx(left + 100, abs=3)  # dragged to the left
        page.keyboard.press("0")
        expect(page.locator("#zoom-level")).to_have_text("100%")
