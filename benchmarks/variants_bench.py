"""The same reports as text, .docx, text PDF and scanned PDF: does each version give the text's record?

For the five samples and tests/data/new_layouts, every report is rebuilt by the
test builders as a .docx (`tests.builders.make_docx`), a text-layer PDF whose
table cells wrap inside narrow columns and run over page breaks
(`make_text_pdf`), and an image-only PDF of degraded 200 dpi scans
(`tests.scans.render_pages` + `degrade`); each version is extracted with the
rules engine and scored with ../shared/tools/score.py against the same gold.
Prints one markdown row per set and version (field accuracy, escape rate, row
F1, row escapes, seconds per report).

    .venv/bin/python benchmarks/variants_bench.py [--sets samples,new] [--kinds txt,docx,pdf,scan]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.builders import make_docx, make_image_pdf, make_text_pdf  # noqa: E402
from tests.scans import degrade, find_cjk_font, render_pages  # noqa: E402

SHARED = ROOT.parent / "shared"
SETS = {
    "samples": (ROOT.parent / "shared" / "reports", SHARED / "gold"),
    "new": (ROOT / "tests" / "data" / "new_layouts", ROOT / "tests" / "data" / "new_layouts" / "gold"),
}


def build(kind: str, src: Path, folder: Path, font: str | None) -> Path:
    text = src.read_text(encoding="utf-8")
    if kind == "txt":
        out = folder / src.name
        out.write_text(text, encoding="utf-8")
    elif kind == "docx":
        out = make_docx(text, folder / f"{src.stem}.docx")
    elif kind == "pdf":
        out = make_text_pdf(text, folder / f"{src.stem}.pdf")
    else:
        pages = [degrade(p, seed=i) for i, p in enumerate(render_pages(text, font))]
        out = make_image_pdf(pages, folder / f"{src.stem}.pdf")
    return out


def run(kind: str, name: str, font: str | None) -> dict:
    folder_in, gold = SETS[name]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        files = []
        for src in sorted(folder_in.glob("*.txt")):
            try:
                files.append(build(kind, src, tmp / "in", font))
            except Exception as e:  # the builder cannot lay out a cell taller than a page
                print(f"  {name}/{kind}: {src.stem} not built ({type(e).__name__})", file=sys.stderr)
        t0 = time.perf_counter()
        subprocess.run([str(ROOT / ".venv" / "bin" / "jixiao"), "extract", *map(str, files), "--engine", "rules",
                        "--no-store", "--out", str(tmp / "out")], check=False, capture_output=True)
        seconds = (time.perf_counter() - t0) / max(1, len(files))
        built = {f.stem for f in files}
        gold_dir = tmp / "gold"
        gold_dir.mkdir()
        for g in gold.glob("*.json"):
            if g.stem in built:
                (gold_dir / g.name).write_text(g.read_text(encoding="utf-8"), encoding="utf-8")
        res = subprocess.run([sys.executable, str(SHARED / "tools" / "score.py"), str(gold_dir), str(tmp / "out"),
                              "--json"], capture_output=True, text=True, check=False)
        s = json.loads(res.stdout)
        return {"reports": len(files), "accuracy": s["field_accuracy"], "escape": s["field_escape_rate"],
                "row_f1": s["indicator_row_f1"], "row_escapes": s["indicator_escapes"],
                "made_up": s["made_up_values"], "seconds": round(seconds, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="samples,new")
    parser.add_argument("--kinds", default="txt,docx,pdf,scan")
    args = parser.parse_args()
    font = find_cjk_font()
    if font is None:
        print("no CJK font found (install fonts-wqy-zenhei): cannot build PDFs or scans", file=sys.stderr)
        return 1
    print("| set | version | reports | field accuracy | escape | row F1 | row escapes | made-up | s/report |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        for kind in args.kinds.split(","):
            r = run(kind, name, font)
            print(f"| {name} | {kind} | {r['reports']} | {r['accuracy']} | {r['escape']} | {r['row_f1']} | "
                  f"{r['row_escapes']} | {r['made_up']} | {r['seconds']} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
