"""Pen travel: ordering strokes to shorten pen-up moves (greedy nearest neighbour with reversal, then
2-opt), merging strokes whose ends touch, dropping moves shorter than a tolerance, and measuring it all."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from sketchtool.layout import Page, PageStroke

__all__ = ["TravelReport", "travel_lengths", "order_lines", "merge_lines", "optimize_page"]

TWO_OPT_WINDOW = 1000  # longest run 2-opt reverses: O(n * window) per pass; shorter for many lines
TWO_OPT_PASSES = 8
TWO_OPT_MIN_GAIN = 0.002  # stop once a pass shortens pen-up travel by less than this fraction
TWO_OPT_BUDGET = 2e7  # positions examined in all passes together (about 5 s at most)


@dataclass(frozen=True)
class TravelReport:
    """Distances in page units; pen-up travel counts the move from the start point to the first stroke
    and between strokes, not the final return to park."""

    strokes_before: int
    strokes_after: int
    pen_down_before: float
    pen_down_after: float
    pen_up_before: float
    pen_up_after: float


def travel_lengths(lines: Sequence[np.ndarray], start: Sequence[float] | None = None) -> tuple[float, float]:
    """(pen_down, pen_up) distance for drawing `lines` ((n, 2) arrays) in the given order and direction,
    starting from `start` (None: from the first line's start)."""
    lines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in lines if len(p)]
    down = sum(float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) for p in lines)
    if not lines:
        return down, 0.0
    starts = np.array([p[0] for p in lines])
    ends = np.array([p[-1] for p in lines])
    up = float(np.linalg.norm(starts[1:] - ends[:-1], axis=1).sum())
    if start is not None:
        up += float(np.linalg.norm(starts[0] - np.asarray(start, dtype=np.float64)))
    return down, up


def order_lines(lines: Sequence[np.ndarray], start: Sequence[float] = (0.0, 0.0), *,
                two_opt: bool = True) -> list[tuple[int, bool]]:
    """An order for drawing `lines` from `start`: (index, reversed) pairs. Greedy nearest neighbour over
    both ends of every remaining line, then 2-opt segment reversals while they shorten pen-up travel."""
    if not len(lines):
        return []
    starts = np.array([np.asarray(p, dtype=np.float64).reshape(-1, 2)[0] for p in lines])  # (n, 2)
    ends = np.array([np.asarray(p, dtype=np.float64).reshape(-1, 2)[-1] for p in lines])  # (n, 2)
    order, flipped = _greedy(starts, ends, np.asarray(start, dtype=np.float64))
    if two_opt and len(order) > 2:
        order, flipped = _two_opt(starts, ends, np.asarray(start, dtype=np.float64), order, flipped)
    return [(int(i), bool(f)) for i, f in zip(order, flipped)]


def merge_lines(lines: Sequence[np.ndarray], tolerance: float) -> list[np.ndarray]:
    """Join consecutive lines whose gap (end to next start) is at most `tolerance`, so the pen stays down
    across it, and drop points closer than `tolerance` to the previous kept point (a line's last point is
    always kept, so its end stays exact)."""
    lines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in lines]
    return [_drop_short_moves(np.concatenate([lines[i] for i in group]), tolerance)
            for group in _touching_groups(lines, tolerance)]


def optimize_page(page: Page, *, start: Sequence[float] = (0.0, 0.0),
                  tolerance: float = 0.1) -> tuple[Page, TravelReport]:
    """The page with each layer's strokes reordered from `start`, touching ones merged and tiny moves
    dropped; layers are drawn one after another in order of first appearance (one pen each), each
    starting where the previous one ended. Also returns before/after distances."""
    layers = list(dict.fromkeys(s.layer for s in page.strokes))
    strokes: list[PageStroke] = []
    position = np.asarray(start, dtype=np.float64)
    for layer in layers:
        members = [s for s in page.strokes if s.layer == layer and len(s.points)]
        lines = [np.asarray(s.points, dtype=np.float64).reshape(-1, 2) for s in members]
        plan = order_lines(lines, position)
        oriented = [lines[i][::-1] if flip else lines[i] for i, flip in plan]
        owners = [members[plan[group[0]][0]] for group in _touching_groups(oriented, tolerance)]
        for k, (line, owner) in enumerate(zip(merge_lines(oriented, tolerance), owners)):
            strokes.append(PageStroke(line, owner.drawing, k, layer))
        if strokes:
            position = strokes[-1].points[-1]
    down0, up0 = _layered_lengths(page.strokes, start)
    down1, up1 = _layered_lengths(strokes, start)
    report = TravelReport(len(page.strokes), len(strokes), down0, down1, up0, up1)
    return Page(page.width, page.height, page.unit, strokes), report


def _layered_lengths(strokes: Sequence[PageStroke], start: Sequence[float]) -> tuple[float, float]:
    layers = list(dict.fromkeys(s.layer for s in strokes))
    ordered = [s.points for layer in layers for s in strokes if s.layer == layer]
    return travel_lengths(ordered, start)


def _touching_groups(lines: Sequence[np.ndarray], tolerance: float) -> list[list[int]]:
    """Runs of consecutive line indices where each line starts within `tolerance` of the previous end."""
    if not len(lines):
        return []
    starts = np.array([p[0] for p in lines])  # (n, 2)
    ends = np.array([p[-1] for p in lines])  # (n, 2)
    groups = [[0]]
    for k, touching in enumerate((_dist(starts[1:], ends[:-1]) <= tolerance).tolist(), start=1):
        if touching:
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def _drop_short_moves(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Points farther than `tolerance` from the previous kept one; the last point replaces the last kept one
    when they are that close, and a line that never leaves its start becomes a dot."""
    if len(points) < 2 or (_dist(points[1:], points[:-1]) > tolerance).all():
        return points  # the usual case: nothing to drop
    xy = points.tolist()
    keep = [0]
    for i in range(1, len(xy)):
        if math.hypot(xy[i][0] - xy[keep[-1]][0], xy[i][1] - xy[keep[-1]][1]) > tolerance:
            keep.append(i)
    if keep[-1] != len(points) - 1 and len(keep) > 1:
        keep[-1] = len(points) - 1
    return points[keep]


def _greedy(starts: np.ndarray, ends: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the pen's position, repeatedly draw the line with the nearest free end (reversed if that is its end)."""
    n = len(starts)
    index = _EndpointIndex(starts, ends)
    order = np.empty(n, dtype=np.int64)
    flipped = np.zeros(n, dtype=bool)
    x, y = float(position[0]), float(position[1])
    for step in range(n):
        k = index.nearest(x, y)
        line, flip = k % n, k >= n
        order[step], flipped[step] = line, flip
        x, y = (starts if flip else ends)[line].tolist()
        index.remove(line)
    return order, flipped


class _EndpointIndex:
    """Both ends of every line in square buckets (about two per bucket), so a nearest-end query looks at a
    few buckets around the pen rather than at every line; rebuilt as lines are used up."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray):
        self.n = len(starts)
        self.xy = np.concatenate([starts, ends])  # (2n, 2): endpoint k is line k % n, its end when k >= n
        self.x, self.y = self.xy[:, 0].tolist(), self.xy[:, 1].tolist()
        self.alive = np.ones(self.n, dtype=bool)
        self.remaining = self.n
        self._build()

    def _build(self) -> None:
        ids = np.flatnonzero(np.tile(self.alive, 2))
        points = self.xy[ids]
        self.origin = points.min(axis=0)
        extent = points.max(axis=0) - self.origin
        area = float(np.prod(np.maximum(extent, extent.max() / len(ids))))
        self.cell = math.sqrt(2 * area / len(ids)) or 1.0
        cells = np.floor((points - self.origin) / self.cell).astype(np.int64)
        self.buckets: dict[tuple[int, int], list[int]] = {}
        for k, key in zip(ids.tolist(), map(tuple, cells.tolist())):
            self.buckets.setdefault(key, []).append(k)
        self.span = cells.max(axis=0).tolist()
        self.built_with = self.remaining

    def remove(self, line: int) -> None:
        self.alive[line] = False
        self.remaining -= 1
        if self.remaining and self.remaining * 4 <= self.built_with:
            self._build()

    def nearest(self, px: float, py: float) -> int:
        """The free endpoint nearest to (px, py): rings of buckets outwards until no unseen bucket can hold
        a nearer one (a bucket r rings out is at least (r - 1) * cell away)."""
        cx = math.floor((px - self.origin[0]) / self.cell)
        cy = math.floor((py - self.origin[1]) / self.cell)
        last_ring = max(abs(cx), abs(self.span[0] - cx), abs(cy), abs(self.span[1] - cy))
        best, best_k, scanned = math.inf, -1, 0
        for r in range(last_ring + 1):
            for key in _ring(cx, cy, r):
                for k in self.buckets.get(key, ()):
                    if self.alive[k % self.n]:
                        d = (self.x[k] - px) ** 2 + (self.y[k] - py) ** 2
                        if d < best:
                            best, best_k = d, k
            scanned += 8 * r + 1
            if best <= (r * self.cell) ** 2:
                break
            if scanned > 4 * self.remaining:  # far from everything left: one vectorised pass is cheaper
                return self._brute_force(px, py)
        return best_k

    def _brute_force(self, px: float, py: float) -> int:
        d = np.einsum("ij,ij->i", self.xy - (px, py), self.xy - (px, py))
        d[~np.tile(self.alive, 2)] = np.inf
        return int(d.argmin())


def _ring(cx: int, cy: int, r: int) -> Iterator[tuple[int, int]]:
    """Bucket keys at Chebyshev distance exactly r from (cx, cy)."""
    if r == 0:
        yield cx, cy
        return
    for dx in range(-r, r + 1):
        yield cx + dx, cy - r
        yield cx + dx, cy + r
    for dy in range(-r + 1, r):
        yield cx - r, cy + dy
        yield cx + r, cy + dy


def _two_opt(starts: np.ndarray, ends: np.ndarray, position: np.ndarray,
             order: np.ndarray, flipped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reverse runs k..m of the route (each line drawn backwards) while that shortens the two pen-up
    moves around the run; the route is open, so a run may end at the last line."""
    order, flipped = order.copy(), flipped.copy()
    n = len(order)
    s = np.where(flipped[:, None], ends[order], starts[order])  # (n, 2) start of each line as drawn
    e = np.where(flipped[:, None], starts[order], ends[order])  # (n, 2) end of each line as drawn
    gap = np.append(_dist(s[1:], e[:-1]), 0.0)  # (n,) pen-up move after line m; none after the last
    window = int(min(TWO_OPT_WINDOW, max(50, TWO_OPT_BUDGET / TWO_OPT_PASSES / n)))
    passes = int(min(TWO_OPT_PASSES, max(1, TWO_OPT_BUDGET / window / n)))
    for _ in range(passes):
        travel_before = gap.sum()
        for k in range(n):
            before = e[k - 1] if k else position
            hi = min(n, k + window)
            nxt = s[np.minimum(np.arange(k + 1, hi + 1), n - 1)]  # (w, 2) start of the line after m
            has_next = np.arange(k + 1, hi + 1) < n
            old = np.hypot(*(s[k] - before)) + gap[k:hi]
            new = _dist(e[k:hi], before[None]) + np.where(has_next, _dist(nxt, s[k][None]), 0.0)
            best = int((old - new).argmax())
            if old[best] - new[best] > 1e-9:
                j = k + best
                order[k:j + 1], flipped[k:j + 1] = order[k:j + 1][::-1].copy(), ~flipped[k:j + 1][::-1]
                s[k:j + 1], e[k:j + 1] = e[k:j + 1][::-1].copy(), s[k:j + 1][::-1].copy()
                lo, hi = max(k - 1, 0), min(j + 1, n - 1)  # the gaps around and inside the run changed
                gap[lo:hi] = _dist(s[lo + 1:hi + 1], e[lo:hi])
        if gap.sum() > travel_before * (1 - TWO_OPT_MIN_GAIN):
            break
    return order, flipped


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return np.sqrt(np.einsum("ij,ij->i", d, d))
