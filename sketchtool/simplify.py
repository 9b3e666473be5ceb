"""Ramer–Douglas–Peucker simplification of polylines, with ONE distance definition: a point's distance to the
SEGMENT between the kept neighbours (not to the infinite line through them), so hooks and U-turns survive.
Backed by the `simplification` package (Rust); docs/svg-parsing.md records why and the golden test pins it."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = ["rdp", "simplify_polylines"]


def rdp(points: np.ndarray, epsilon: float) -> np.ndarray:
    """(n, 2) -> (m, 2) float64, m <= n: the subsequence of `points` that RDP keeps. The first and last points
    are always kept; an inner point survives when its Euclidean distance to the segment joining the points kept
    around it exceeds `epsilon`; `epsilon == 0` returns every point (as the backing library does)."""
    if not (epsilon >= 0 and math.isfinite(epsilon)):
        raise SketchtoolError(f"RDP epsilon must be a finite number >= 0, got {epsilon}")
    xy = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 2)
    if len(xy) <= 2:
        return xy.copy()
    from simplification.cutil import simplify_coords_idx

    keep = np.asarray(simplify_coords_idx(xy, float(epsilon)), dtype=np.intp)
    return xy[keep]


def simplify_polylines(polylines: Sequence[np.ndarray], epsilon: float) -> list[np.ndarray]:
    """`rdp` on every polyline; a 1-point polyline (a dot) stays a dot, so the stroke count never changes."""
    return [rdp(p, epsilon) for p in polylines]
