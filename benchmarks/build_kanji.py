"""Benchmark: build the whole KanjiVG collection with sketchtool's pipeline against the naive recipe
(svgpathtools `svg2paths` + point sampling + the pure-Python `rdp` package, one process), in the same run:
files/s, peak memory (whole process tree), and whether both produce the same drawings.

    pip install -e '.[bench]'          # kanjivg, svgpathtools, rdp
    python benchmarks/build_kanji.py --workers 2 --naive-limit 1000 --json bench-build.json

The issue's reference: the naive recipe took 544 s for all 11,662 files (21 files/s) on the 2-core machine.
Each side runs in its own child process; the parent polls the RSS of that child and all its descendants.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["find_kanjivg", "naive_stroke3", "main"]

SAMPLE_SPACING = 0.5  # naive recipe: one sample per 0.5 user units of arc length (KanjiVG's box is 109 units)


def find_kanjivg() -> Path:
    """The folder of SVG files that `pip install kanjivg` installs (a top-level `kanji/` in site-packages)."""
    try:
        files = metadata.files("kanjivg") or []
    except metadata.PackageNotFoundError:
        sys.exit("KanjiVG is not installed: pip install kanjivg (or pass --kanji-dir)")
    for f in files:
        if f.suffix == ".svg":
            return Path(f.locate()).parent
    sys.exit("the kanjivg distribution lists no .svg files; pass --kanji-dir")


def naive_stroke3(path: Path, epsilon: float, size: float) -> np.ndarray:
    """The recipe the design first named: svg2paths, sample each path evenly by arc length, normalise to the
    `size` box, RDP with the `rdp` package, round to int16 stroke-3."""
    from rdp import rdp
    from svgpathtools import svg2paths

    from sketchtool.strokes import normalize_polylines, polylines_to_stroke3

    paths, _ = svg2paths(str(path))
    polylines = []
    for p in paths:
        if len(p) == 0:
            continue
        n = max(2, math.ceil(p.length() / SAMPLE_SPACING) + 1)
        z = np.array([p.point(t) for t in np.linspace(0.0, 1.0, n)])
        polylines.append(np.column_stack([z.real, z.imag]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdp warns on every call under NumPy 2
        simplified = [np.asarray(rdp(p, epsilon=epsilon)) for p in normalize_polylines(polylines, size)]
    rounded = [np.round(p) for p in simplified]
    return polylines_to_stroke3(rounded).astype(np.int16)


def _run_ours(files: list[Path], args) -> dict:
    from sketchtool.build import BuildOptions, build_dataset
    from sketchtool.formats.npz import save_dataset

    with tempfile.TemporaryDirectory() as tmp:
        dataset, report = build_dataset([str(f) for f in files], BuildOptions(epsilon=args.epsilon, workers=args.workers))
        save_dataset(Path(tmp) / "kanji.npz", dataset)
    return {"kept": len(report.kept), "skipped": report.skipped_by_reason()}


def _run_naive(files: list[Path], args) -> dict:
    drawings, failed = {}, 0
    cpu = time.process_time()
    for f in files:
        try:
            drawings[f.name] = naive_stroke3(f, args.epsilon, 256.0).tolist()
        except Exception:  # the naive recipe has no error handling of its own; count what it cannot read
            failed += 1
    cpu_ms = (time.process_time() - cpu) / len(files) * 1000
    Path(args.drawings_out).write_text(json.dumps(drawings))
    return {"kept": len(drawings), "failed": failed, "cpu_ms_per_file": round(cpu_ms, 2)}


def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants (pool workers, a forkserver), from /proc."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        parents[int(entry)] = int(fields["PPid"])
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree, frontier = {root}, [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in tree]
        tree.update(frontier)
    return sum(rss.get(pid, 0) for pid in tree)


def _measure(side: str, args, extra: list[str]) -> dict:
    """Run one side in a child process; wall time and peak tree RSS measured from outside."""
    cmd = [sys.executable, __file__, "--side", side, "--kanji-dir", str(args.kanji_dir), "--epsilon", str(args.epsilon),
           "--workers", str(args.workers), "--naive-limit", str(args.naive_limit), *extra]
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss_kb(child.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    out = child.stdout.read()
    if child.returncode != 0:
        sys.exit(f"{side} side failed (exit {child.returncode})")
    return {**json.loads(out), "seconds": round(seconds, 2), "peak_rss_mb": round(peak / 1024, 1)}


def _compare(names: list[str], naive: dict, kanji_dir: Path, epsilon: float) -> dict:
    """Ours (svg_to_stroke3, the function build_dataset uses) against the naive drawings, file by file."""
    from sketchtool.prepare import svg_to_stroke3
    from sketchtool.strokes import num_strokes, stroke3_to_polylines

    cpu = time.process_time()
    ours_by_name = {name: svg_to_stroke3(kanji_dir / name, epsilon=epsilon) for name in names}
    cpu_ms = (time.process_time() - cpu) / len(names) * 1000
    same_strokes, point_ratio, endpoint_error = 0, [], []
    for name in names:
        ours, theirs = ours_by_name[name], np.array(naive[name]).reshape(-1, 3)
        if num_strokes(ours) != num_strokes(theirs):
            continue
        same_strokes += 1
        point_ratio.append(len(ours) / len(theirs))
        for a, b in zip(stroke3_to_polylines(ours), stroke3_to_polylines(theirs)):
            endpoint_error.append(max(np.abs(a[0] - b[0]).max(), np.abs(a[-1] - b[-1]).max()))
    return {
        "files": len(names),
        "ours_cpu_ms_per_file": round(cpu_ms, 2),  # one process, same files as the naive side: load-independent
        "same_stroke_count": same_strokes,
        "points_ours_over_naive": {"mean": round(float(np.mean(point_ratio)), 3),
                                   "p5": round(float(np.percentile(point_ratio, 5)), 3),
                                   "p95": round(float(np.percentile(point_ratio, 95)), 3)},
        "stroke_endpoint_difference": {"median": float(np.median(endpoint_error)),
                                       "p99": float(np.percentile(endpoint_error, 99)),
                                       "max": float(np.max(endpoint_error))},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kanji-dir", type=Path, default=None, help="KanjiVG SVG folder [default: the kanjivg package]")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epsilon", type=float, default=2.0)
    parser.add_argument("--naive-limit", type=int, default=1000, help="files for the naive side (0: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--side", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--drawings-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.kanji_dir = args.kanji_dir or find_kanjivg()
    files = sorted(args.kanji_dir.glob("*.svg"))
    naive_files = files[: args.naive_limit] if args.naive_limit else files
    if args.side == "ours":
        print(json.dumps(_run_ours(files, args)))
        return
    if args.side == "naive":
        print(json.dumps(_run_naive(naive_files, args)))
        return
    load_before = os.getloadavg()
    ours = _measure("ours", args, [])
    with tempfile.TemporaryDirectory() as tmp:
        drawings_path = Path(tmp) / "naive.json"
        naive = _measure("naive", args, ["--drawings-out", str(drawings_path)])
        naive_drawings = json.loads(drawings_path.read_text())
    ours["files_per_s"] = round(len(files) / ours["seconds"], 1)
    naive["files_per_s"] = round(len(naive_files) / naive["seconds"], 1)
    result = {
        "kanji_dir": str(args.kanji_dir), "files": len(files), "naive_files": len(naive_files),
        "workers": args.workers, "epsilon": args.epsilon, "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "ours": ours, "naive": naive,
        "speedup": round(ours["files_per_s"] / naive["files_per_s"], 1),
        "agreement": _compare(sorted(naive_drawings), naive_drawings, args.kanji_dir, args.epsilon),
    }
    result["cpu_speedup_one_process"] = round(naive["cpu_ms_per_file"] / result["agreement"]["ours_cpu_ms_per_file"], 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
