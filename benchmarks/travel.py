"""Pen-up travel on 50-drawing grids from a real dataset: document order vs our ordering vs vpype's linesort,
in the same run, on the same strokes. Usage: python benchmarks/travel.py [DATASET.npz] [--sets 5]

Pen-up travel is measured as vpype's `pen_up_length` does: the moves between consecutive strokes (no move from
or back to the machine's origin), in mm on an A3 landscape sheet with 10 mm margins.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from sketchtool.formats import read_drawings
from sketchtool.layout import layout_on_paper, parse_paper
from sketchtool.strokes import stroke3_to_polylines
from sketchtool.travel import merge_lines, order_lines, travel_lengths

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "aaron_sheep.npz"


def vpype_sorted(lines: list[np.ndarray], pipeline: str) -> tuple[list[np.ndarray], float]:
    import vpype as vp
    import vpype_cli

    document = vp.Document(vp.LineCollection([p[:, 0] + 1j * p[:, 1] for p in lines]))
    start = time.perf_counter()
    result = vpype_cli.execute(pipeline, document)
    seconds = time.perf_counter() - start
    return [np.column_stack([z.real, z.imag]) for z in result.layers[1]], seconds


def ours(lines: list[np.ndarray], *, two_opt: bool, merge: bool) -> tuple[list[np.ndarray], float]:
    start = time.perf_counter()
    plan = order_lines(lines, start=lines[0][0], two_opt=two_opt)
    ordered = [lines[i][::-1] if flip else lines[i] for i, flip in plan]
    if merge:
        ordered = merge_lines(ordered, tolerance=0.1)
    return ordered, time.perf_counter() - start


def grid(drawings: list[np.ndarray]) -> list[np.ndarray]:
    page, _ = layout_on_paper([stroke3_to_polylines(d) for d in drawings], parse_paper("A3", landscape=True))
    return [s.points for s in page.strokes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--sets", type=int, default=5, help="number of 50-drawing grids (test split, then train)")
    args = parser.parse_args()
    pool = read_drawings(f"{args.dataset}:test") + read_drawings(f"{args.dataset}:train")
    methods = {
        "document order": lambda lines: (lines, 0.0),
        "vpype linesort": lambda lines: vpype_sorted(lines, "linesort"),
        "vpype linesort --two-opt": lambda lines: vpype_sorted(lines, "linesort --two-opt"),
        "ours: greedy": lambda lines: ours(lines, two_opt=False, merge=False),
        "ours: greedy + 2-opt": lambda lines: ours(lines, two_opt=True, merge=False),
        "vpype linemerge -t 0.1mm linesort": lambda lines: vpype_sorted(lines, "linemerge -t 0.1mm linesort"),
        "ours: greedy + 2-opt + merge 0.1 mm": lambda lines: ours(lines, two_opt=True, merge=True),
    }
    totals = {name: [0.0, 0.0, 0] for name in methods}  # pen-up mm, seconds, strokes
    for k in range(args.sets):
        lines = grid(pool[50 * k:50 * (k + 1)])
        for name, method in methods.items():
            result, seconds = method(lines)
            totals[name][0] += travel_lengths(result)[1]
            totals[name][1] += seconds
            totals[name][2] += len(result)
    print(f"{args.sets} grids of 50 drawings from {Path(args.dataset).name}; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    reference = totals["vpype linesort"][0]
    print(f"{'method':38s} {'pen-up m':>9s} {'vs vpype':>9s} {'strokes':>8s} {'seconds':>8s}")
    for name, (up, seconds, strokes) in totals.items():
        print(f"{name:38s} {up / 1000:9.2f} {100 * (up / reference - 1):+8.1f}% {strokes:8d} {seconds:8.2f}")


if __name__ == "__main__":
    main()
