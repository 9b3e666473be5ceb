"""vectorize on large pictures drawn with thin pens: each picture fitted to the canvas as it was before 2026-12-04
(a plain box downscale, `fit_picture`) and as `vectorize` fits it now (`fit_line_art`: lines that scaling would
fade are kept at full ink), same run, same tracers.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/vectorize_thin_lines.py [--side 1200] [--pens 2.5,5,15,50]

The pictures are the feather and tabler icons of tests/fixtures/svg, drawn `side` pixels wide by the rasteriser,
as they are ("clean") and as a poor scan ("scan": Gaussian noise of 0.06, 0.2% of the pixels dust specks of
0.5-1 ink, saved as JPEG at quality 75 and read back, seeded). Figures per pen, picture kind and method: ink F1 of
the strokes redrawn with the same pen against the clean picture, within 1% of the side, and strokes per picture
(the icons' own: 1-7).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def pictures(side: int, pen: float) -> list[np.ndarray]:
    from sketchtool.prepare import read_normalized_svg
    from sketchtool.raster import RasterOptions, rasterize_batch

    svgs = sorted((ROOT / "tests" / "fixtures" / "svg" / "feather").glob("*.svg")) + \
        sorted((ROOT / "tests" / "fixtures" / "svg" / "tabler").glob("*.svg"))
    drawings = [read_normalized_svg(p).stroke3 for p in svgs]
    return list(rasterize_batch(drawings, RasterOptions(size=(side, side), line_width=pen, padding=side / 30)))


def as_scan(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import io

    from PIL import Image

    from sketchtool.vectorize import decode_picture

    noisy = ink + rng.normal(0, 0.06, ink.shape) + (rng.random(ink.shape) < 0.002) * rng.uniform(0.5, 1, ink.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.round(255 - np.clip(noisy, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=75)
    return decode_picture(buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=1200)
    parser.add_argument("--pens", default="2.5,5,15,50")
    args = parser.parse_args(argv)
    from sketchtool.checkpoint import load_model
    from sketchtool.image_build import fit_picture
    from sketchtool.pretrained import DEFAULT_VECTORIZER, resolve_model
    from sketchtool.vectorize import (fit_line_art, fitted_canvas_size, render_polylines, score_reconstruction,
                                      vectorize)

    agent, _ = load_model(resolve_model(DEFAULT_VECTORIZER))
    rng = np.random.default_rng(0)
    print("| pen (px) | picture | method | fitting | ink F1 | strokes per picture |")
    print("|---|---|---|---|---|---|")
    for pen in (float(p) for p in args.pens.split(",")):
        clean = pictures(args.side, pen)
        for kind, drawn in (("clean", clean), ("scan", [as_scan(p, rng) for p in clean])):
            for method in ("skeleton", "agent"):
                model = agent if method == "agent" else None
                canvas = fitted_canvas_size(method, model=model)
                for name, fit in (("plain (before)", lambda p: fit_picture(p, canvas)),
                                  ("fit_line_art", lambda p: fit_line_art(p, canvas))):
                    results = vectorize([fit(p) for p in drawn], method=method, model=model, size=canvas)
                    f1 = np.mean([score_reconstruction(p, render_polylines(r.polylines, r.size, pen),
                                                       tolerance=args.side / 100)["f1"] for p, r in zip(clean, results)])
                    counts = [len(r.polylines) for r in results]
                    print(f"| {pen:g} | {kind} | {method} | {name} | {f1:.3f} | {np.mean(counts):.1f} "
                          f"(max {max(counts)}) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
