"""Placing drawings on a page: the page model every drawing writer (SVG, PNG, G-code, ...) consumes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sketchtool.strokes import stroke3_to_polylines

__all__ = ["PageStroke", "Page", "grid_page"]


@dataclass
class PageStroke:
    """One pen-down polyline in page units (y grows downwards). `drawing` indexes the drawing it belongs
    to, `index` its order within that drawing, `layer` a style name ("ink", "given", "generated")."""

    points: np.ndarray
    drawing: int = 0
    index: int = 0
    layer: str = "ink"


@dataclass
class Page:
    """A laid-out sheet: `width` x `height` in `unit` ("px" or "mm"), strokes in drawing order."""

    width: float
    height: float
    unit: str = "px"
    strokes: list[PageStroke] = field(default_factory=list)

    @property
    def num_drawings(self) -> int:
        return 1 + max((s.drawing for s in self.strokes), default=-1)


def grid_page(
    drawings: Sequence[np.ndarray],
    *,
    cols: int | None = None,
    cell: float = 128.0,
    padding: float = 0.08,
    given_points: Sequence[int] | None = None,
) -> Page:
    """Lay stroke-3 drawings out in a grid of square `cell`-sized cells, all at one common scale
    (so relative sizes stay comparable), each centred in its cell. `given_points[i]` marks the first
    points of drawing i as "given" (e.g. the start a model completed); the rest is "generated"."""
    n = len(drawings)
    if cols is None:
        cols = max(1, math.ceil(math.sqrt(n)))
    cols = max(1, min(cols, max(n, 1)))
    rows = max(1, math.ceil(n / cols))
    page = Page(width=cols * cell, height=rows * cell)
    polys = [stroke3_to_polylines(d) for d in drawings]
    extents = []
    for p in polys:
        if p:
            allp = np.concatenate(p)
            extents.append(float(np.max(allp.max(axis=0) - allp.min(axis=0))))
    largest = max(extents, default=0.0)
    scale = cell * (1 - 2 * padding) / largest if largest > 0 else 1.0
    for i, p in enumerate(polys):
        if not p:
            continue
        allp = np.concatenate(p)
        centre = (allp.min(axis=0) + allp.max(axis=0)) / 2
        offset = np.array([(i % cols + 0.5) * cell, (i // cols + 0.5) * cell])
        given = given_points[i] if given_points is not None else None
        seen = 0
        for k, line in enumerate(p):
            points = (line - centre) * scale + offset
            if given is None:
                page.strokes.append(PageStroke(points, i, k, "ink"))
            else:
                # split a stroke that crosses the given/generated boundary so both parts are drawn
                cut = min(max(given - seen, 0), len(points))
                if cut > 0:
                    page.strokes.append(PageStroke(points[:cut], i, k, "given"))
                if cut < len(points):
                    start = max(cut - 1, 0)
                    page.strokes.append(PageStroke(points[start:], i, k, "generated"))
            seen += len(line)
    return page
