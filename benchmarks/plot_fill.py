"""How much of the paper `plot`'s automatic grid uses: the old about-square grid (ceil(sqrt(n)) columns) vs
the grid whose columns let the drawings be largest (`layout_on_paper` with cols=None), same drawings, same run.
Usage: python benchmarks/plot_fill.py [DATASET.npz:split] [--paper A4] [--landscape]

"Used" is the area of the bounding box of everything drawn, as a fraction of the area inside the margins.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from sketchtool.layout import layout_on_paper, parse_paper
from sketchtool.plot import read_plot_inputs

DEFAULT_REF = f"{Path(__file__).resolve().parent.parent.parent / 'shared' / 'data' / 'aaron_sheep.npz'}:test"


def used_fraction(drawings, paper, cols: int | None) -> tuple[float, float]:
    """(fraction of the content area used, mm per drawing unit)."""
    page, k = layout_on_paper(drawings, paper, cols=cols)
    pts = np.concatenate([s.points for s in page.strokes])
    return float(np.prod(np.ptp(pts, axis=0)) / np.prod(paper.content)), k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", nargs="?", default=DEFAULT_REF)
    parser.add_argument("--paper", default="A4")
    parser.add_argument("--landscape", action="store_true")
    args = parser.parse_args()
    drawings = read_plot_inputs([args.ref])
    paper = parse_paper(args.paper, landscape=args.landscape)
    square, k_square = used_fraction(drawings, paper, math.ceil(math.sqrt(len(drawings))))
    best, k_best = used_fraction(drawings, paper, None)
    print(f"{len(drawings)} drawings on {paper.name} ({paper.content[0]:g}x{paper.content[1]:g} mm inside the margins)")
    print(f"about-square grid ({math.ceil(math.sqrt(len(drawings)))} cols): used {square:.1%}, {k_square:.4g} mm/unit")
    print(f"best-fill grid:              used {best:.1%}, {k_best:.4g} mm/unit "
          f"(drawings {k_best / k_square:.2f}x as large)")


if __name__ == "__main__":
    main()
