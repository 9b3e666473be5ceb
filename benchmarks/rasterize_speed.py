"""Rasteriser speed: every aaron_sheep drawing at 64 x 64 through `sketchtool.raster` (drawings/s, one process,
one core) against the same drawings as SVG text through cairosvg, one at a time, in the same run (target >= 20x
per drawing); and the whole `sketchtool rasterize aaron_sheep.npz -o x.npz --size 64` command (target < 3 s).

    python benchmarks/rasterize_speed.py [--data ../shared/data/aaron_sheep.npz] [--baseline 1000] [--repeats 3]

The baseline gets the same fit (`sketchtool.raster.fit_transform`), line width, round caps and joins, and its
PNG is decoded back to an array (its alpha channel is the ink), so both sides produce the same (64, 64) image;
their mean absolute difference is reported. The baseline is timed on the first `--baseline` drawings (it is
linear in the count). CPU seconds (process time) are reported beside wall time: on a shared host other
processes' work shows up as wall time only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"


def time_ours(drawings, options, repeats: int) -> dict:
    from sketchtool.raster import rasterize_batch

    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        images = rasterize_batch(drawings, options, dtype=np.uint8)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"images": images, "wall_s": min(walls), "cpu_s": min(cpus),
            "drawings_per_s": len(drawings) / min(cpus)}


def svg_text(drawing, options) -> bytes:
    """One drawing as the SVG a naive pipeline would write, fitted exactly as the rasteriser fits it."""
    from sketchtool.raster import fit_transform
    from sketchtool.strokes import stroke3_to_polylines

    polylines = stroke3_to_polylines(drawing)
    scale, offset = fit_transform(np.concatenate(polylines), options)
    paths = []
    for p in polylines:
        q = p * scale + offset
        if len(q) == 1:
            q = np.vstack([q, q])
        paths.append('<path d="M' + " L".join(f"{x:.3f},{y:.3f}" for x, y in q) + '"/>')
    h, w = options.size
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
            f'<g fill="none" stroke="black" stroke-width="{options.line_width}" stroke-linecap="round" '
            f'stroke-linejoin="round">{"".join(paths)}</g></svg>').encode()


def time_cairosvg(drawings, options) -> dict:
    import cairosvg
    from PIL import Image

    images = []
    wall, cpu = time.perf_counter(), time.process_time()
    for d in drawings:
        png = cairosvg.svg2png(bytestring=svg_text(d, options), unsafe=False)
        images.append(np.asarray(Image.open(io.BytesIO(png)).getchannel("A")))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"images": np.stack(images), "wall_s": wall, "cpu_s": cpu, "drawings_per_s": len(drawings) / cpu}


def time_command(data: Path, repeats: int) -> dict:
    exe = shutil.which("sketchtool") or sys.exit("sketchtool is not on PATH; pip install -e . first")
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([exe, "rasterize", str(data), "-o", str(Path(tmp, f"x{i}.npz")), "--size", "64"],
                           check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {"wall_s": walls, "median_wall_s": statistics.median(walls), "cpu_s": cpus}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--baseline", type=int, default=1000, help="drawings given to the cairosvg baseline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data}: not found (the aaron_sheep dataset; see examples/sheep/README.md)")

    from sketchtool.formats.npz import load_dataset
    from sketchtool.raster import RasterOptions

    drawings = [d for split in load_dataset(args.data).splits.values() for d in split]
    load_before = os.getloadavg()[0]
    results = {"drawings": len(drawings), "size": args.size}
    for antialias in ("fast", "best"):
        options = RasterOptions(size=args.size, line_width=1.5, padding=2.0, antialias=antialias)
        ours = time_ours(drawings, options, args.repeats)
        results[f"ours_{antialias}"] = {k: v for k, v in ours.items() if k != "images"}
        results[f"images_{antialias}"] = ours.pop("images")
    options = RasterOptions(size=args.size, line_width=1.5, padding=2.0)
    base = time_cairosvg(drawings[:args.baseline], options)
    results["cairosvg"] = {k: v for k, v in base.items() if k != "images"} | {"drawings": args.baseline}
    for antialias in ("fast", "best"):
        images = results.pop(f"images_{antialias}")[:args.baseline].astype(np.float64)
        results[f"ours_{antialias}"]["speedup_per_drawing"] = (results[f"ours_{antialias}"]["drawings_per_s"]
                                                             / results["cairosvg"]["drawings_per_s"])
        results[f"ours_{antialias}"]["mean_abs_diff_vs_cairosvg"] = float(np.abs(images - base["images"]).mean() / 255)
    results["command"] = time_command(args.data, args.repeats)
    results["load_average"] = [load_before, os.getloadavg()[0]]
    results["machine"] = {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count()}
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
