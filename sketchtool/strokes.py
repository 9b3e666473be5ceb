"""The data model: every drawing is either absolute polylines or a stroke-3 array; all conversions live here.

- polylines: list of float (n, 2) arrays of absolute x, y (SVG convention: y grows downwards), in stroke order.
- stroke-3: (n, 3) array of dx, dy, pen_lifted; row i's offset is from the previous point (the first row's
  from the origin), pen_lifted=1 means the pen leaves the paper after this point (magenta's `lines_to_strokes`).
- stroke-5: (max_len, 5) float array of dx, dy, p1 (pen down), p2 (pen up), p3 (end of drawing),
  padded with (0, 0, 0, 0, 1) as in magenta's `to_big_strokes`.
"""

from __future__ import annotations

import operator
from typing import Iterator, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = [
    "PackedDrawings",
    "as_stroke3",
    "polylines_to_stroke3",
    "stroke3_to_polylines",
    "stroke3_to_stroke5",
    "stroke5_to_stroke3",
    "stroke3_bounds",
    "polylines_bounds",
    "normalize_polylines",
    "normalization_transform",
    "scale_factor",
    "random_scale",
    "augment_strokes",
    "num_strokes",
    "stroke_counts",
]

CHUNK_ROWS = 1 << 16  # rows gathered at a time by whole-set statistics: a few MB, whatever the set's size


def as_stroke3(drawing, what: str = "a stroke-3 drawing") -> np.ndarray:
    """`drawing` (any numeric array-like) as a float64 (n, 3) stroke-3 array, or an error saying what it is instead
    (polylines, a list of drawings, one flat row): reading those as stroke-3 would draw something else."""
    return _rows(drawing, 3, what, flat_row=False)


def _rows(array, columns: int, what: str, *, flat_row: bool = True) -> np.ndarray:
    """`array` as float64 (n, columns) rows; one row may come flat (`flat_row`), nothing may come empty. Anything
    else is an error naming its shape: reshaping it would silently read a stroke-3 drawing as polylines, or the
    reverse."""
    try:
        a = np.asarray(array, dtype=np.float64)
    except (ValueError, TypeError):  # ragged: several polylines or drawings, or not numbers at all
        got = f"a list of {len(array)} arrays of different lengths" if isinstance(array, (list, tuple)) else \
            f"a {type(array).__name__}"
        hint = " (polylines? polylines_to_stroke3 joins them into one drawing)" if columns == 3 and \
            isinstance(array, (list, tuple)) else ""
        raise SketchtoolError(f"{what} must be an (n, {columns}) array of numbers; got {got}{hint}") from None
    if a.ndim == 2 and a.shape[1] == columns:
        return a
    if a.size == 0 or (flat_row and a.shape == (columns,)):
        return a.reshape(-1, columns)
    hint = "; a polyline is (n, 2): turn polylines into stroke-3 with polylines_to_stroke3" if columns == 3 and \
        a.ndim in (2, 3) and a.shape[-1] == 2 else ""
    raise SketchtoolError(f"{what} must be an (n, {columns}) array; got shape {a.shape}{hint}")


def polylines_to_stroke3(polylines: Sequence[np.ndarray]) -> np.ndarray:
    """Absolute polylines -> (n, 3) float64 stroke-3. A one-point polyline is a dot and is kept."""
    if isinstance(polylines, np.ndarray) and polylines.ndim == 2:  # its rows would become one dot each
        raise SketchtoolError(f"polylines_to_stroke3 takes a list of polylines, not one {polylines.shape} array; "
                              "give [polyline]")
    rows = [_rows(p, 2, "a polyline") for p in polylines]
    rows = [p for p in rows if len(p)]
    if not rows:
        return np.zeros((0, 3), dtype=np.float64)
    points = np.concatenate(rows)
    pen = np.zeros(len(points))
    pen[np.cumsum([len(p) for p in rows]) - 1] = 1.0
    offsets = np.diff(points, axis=0, prepend=np.zeros((1, 2)))
    return np.column_stack([offsets, pen])


def stroke3_to_polylines(stroke3: np.ndarray, origin: tuple[float, float] = (0.0, 0.0)) -> list[np.ndarray]:
    """(n, 3) stroke-3 -> absolute float64 polylines, starting from `origin`. A trailing stroke without a
    pen lift (a drawing cut short) is still returned."""
    s = _rows(stroke3, 3, "a stroke-3 drawing")
    if len(s) == 0:
        return []
    points = np.cumsum(s[:, :2], axis=0) + np.asarray(origin, dtype=np.float64)
    ends = np.flatnonzero(s[:, 2] > 0.5) + 1
    return [p for p in np.split(points, ends) if len(p)]


def stroke3_to_stroke5(stroke3: np.ndarray, max_len: int) -> np.ndarray:
    """(n, 3) stroke-3 -> (max_len, 5) float32 stroke-5 (magenta `to_big_strokes`); n must be <= max_len."""
    s = np.asarray(stroke3, dtype=np.float32)
    n = len(s)
    if n > max_len:
        raise ValueError(f"drawing has {n} points, more than max_len={max_len}")
    out = np.zeros((max_len, 5), dtype=np.float32)
    out[:n, :2] = s[:, :2]
    out[:n, 3] = s[:, 2]
    out[:n, 2] = 1.0 - s[:, 2]
    out[n:, 4] = 1.0
    return out


def stroke5_to_stroke3(stroke5: np.ndarray) -> np.ndarray:
    """(n, 5) stroke-5 -> stroke-3, cut at the first end-of-drawing state (magenta `to_normal_strokes`);
    the last kept point always lifts the pen."""
    s = np.asarray(stroke5, dtype=np.float64).reshape(-1, 5)
    end = np.flatnonzero(s[:, 4] > 0.5)
    n = int(end[0]) if len(end) else len(s)
    out = np.column_stack([s[:n, :2], s[:n, 3]])
    if n:
        out[-1, 2] = 1.0
    return out


def polylines_bounds(polylines: Sequence[np.ndarray]) -> tuple[float, float, float, float]:
    """(min_x, min_y, max_x, max_y) of all points; raises ValueError when there are none."""
    points = [_rows(p, 2, "a polyline") for p in polylines if len(p)]
    if not points:
        raise ValueError("no points")
    allp = np.concatenate(points)
    (x0, y0), (x1, y1) = allp.min(axis=0), allp.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def stroke3_bounds(stroke3: np.ndarray) -> tuple[float, float, float, float]:
    """(min_x, min_y, max_x, max_y) of the absolute points of a stroke-3 drawing."""
    return polylines_bounds(stroke3_to_polylines(stroke3))


def normalization_transform(polylines: Sequence[np.ndarray], size: float = 256.0) -> tuple[np.ndarray, float]:
    """(origin, scale) that `normalize_polylines` applies: normalised = (p - origin) * scale, so
    p = normalised / scale + origin maps a normalised drawing back to the source's coordinates."""
    x0, y0, x1, y1 = polylines_bounds(polylines)
    extent = max(x1 - x0, y1 - y0)
    return np.array([x0, y0]), (size / extent if extent > 0 else 1.0)


def normalize_polylines(polylines: Sequence[np.ndarray], size: float = 256.0) -> list[np.ndarray]:
    """Scale uniformly so the longer side spans `size`, with the top-left of the bounds at the origin
    (QuickDraw's convention); a single dot stays at the origin."""
    origin, k = normalization_transform(polylines, size)
    return [(np.asarray(p, dtype=np.float64) - origin) * k for p in polylines]


def num_strokes(stroke3: np.ndarray) -> int:
    """Number of pen-down strokes (a trailing unterminated stroke counts)."""
    s = _rows(stroke3, 3, "a stroke-3 drawing")
    if len(s) == 0:
        return 0
    return int((s[:, 2] > 0.5).sum() + (s[-1, 2] <= 0.5))


def stroke_counts(drawings: Sequence[np.ndarray]) -> np.ndarray:
    """`num_strokes` of every drawing, as (N,) int64, computed a chunk of drawings at a time."""
    counts = []
    for rows, lengths in _row_chunks(drawings):
        lifted = np.concatenate([[0], np.cumsum(rows[:, 2] > 0.5)])  # lifts before each row
        ends = np.cumsum(lengths)
        starts = ends - lengths
        tail = np.zeros(len(lengths), dtype=bool)  # a trailing stroke without a pen lift counts too
        tail[lengths > 0] = rows[ends[lengths > 0] - 1, 2] <= 0.5
        counts.append(lifted[ends] - lifted[starts] + tail)
    return np.concatenate(counts).astype(np.int64) if counts else np.zeros(0, dtype=np.int64)


def scale_factor(drawings: Sequence[np.ndarray]) -> float:
    """Standard deviation of all dx and dy values together (magenta's
    `calculate_normalizing_scale_factor`); dividing offsets by it gives them unit variance.

    Read a chunk at a time, never as one float64 copy of every offset (a 2M-drawing set made 48 bytes a point);
    numpy's two-pass `std` and its pairwise summation tree are followed step by step, so the result is the one
    `np.concatenate(offsets).std()` gives, to the bit."""
    n = 2 * int(_starts(drawings)[-1])
    if not n:
        raise ValueError("no drawings to compute a scale factor from")
    mean = _pairwise_sum(n, _OffsetReader(drawings)) / n
    squares = _OffsetReader(drawings, lambda values: np.square(values - mean))
    std = float(np.sqrt(_pairwise_sum(n, squares) / n))
    return std if std > 0 else 1.0


def random_scale(stroke3: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale x and y independently by 1 + U(-factor, factor) (magenta `random_scale`)."""
    s = np.array(stroke3, dtype=np.float64)
    s[:, 0] *= rng.uniform(1 - factor, 1 + factor)
    s[:, 1] *= rng.uniform(1 - factor, 1 + factor)
    return s


def augment_strokes(stroke3: np.ndarray, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Drop interior points of straight-ish pen-down runs with probability `prob`, merging their offsets
    into the next point (magenta `augment_strokes`), so the model sees the same shape at other samplings."""
    s = np.asarray(stroke3, dtype=np.float64)
    if prob <= 0 or len(s) < 3:
        return s.copy()
    result = []
    prev = [0.0, 0.0, 1.0]
    count = 0
    stroke = [0.0, 0.0, 1.0]  # a dummy pen-up start, as the reference does
    draws = rng.random(len(s))
    for i in range(len(s)):
        candidate = [s[i, 0], s[i, 1], s[i, 2]]
        if candidate[2] == 1 or prev[2] == 1:
            count = 0
        else:
            count += 1
        check = candidate[2] == 0 and prev[2] == 0 and count > 2
        if check and draws[i] < prob:
            stroke[0] += candidate[0]
            stroke[1] += candidate[1]
        else:
            stroke = list(candidate)
            prev = stroke
            result.append(stroke)
    return np.array(result, dtype=np.float64).reshape(-1, 3)


class PackedDrawings(Sequence):
    """Drawings stored end to end in one array: `points` (P, 3), drawing i is `points[starts[i]:starts[i + 1]]`
    (a view). Holds a million drawings in one allocation instead of a million small arrays."""

    def __init__(self, points: np.ndarray, starts: np.ndarray):
        self.points, self.starts = points, starts  # (P, 3); (N + 1,) int64, starts[0] == 0, starts[-1] == P

    @classmethod
    def pack(cls, drawings: Sequence[np.ndarray], dtype) -> PackedDrawings:
        """A copy of `drawings` as `dtype` (each converted as `np.array(d, dtype)` converts), a chunk at a time."""
        if isinstance(drawings, PackedDrawings):
            return cls(drawings.points.astype(dtype), drawings.starts.copy())
        starts = _starts(drawings)
        points = np.empty((int(starts[-1]), 3), dtype=dtype)
        for first, last in _chunk_bounds(starts):
            group = [d for d in drawings[first:last] if len(d)]
            if group:
                np.concatenate(group, out=points[starts[first]:starts[last]], casting="unsafe")
        return cls(points, starts)

    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, key):
        if isinstance(key, slice):
            first, last, step = key.indices(len(self))
            if step != 1:
                return [self[i] for i in range(first, last, step)]
            last = max(first, last)
            return PackedDrawings(self.points[self.starts[first]:self.starts[last]],
                                  self.starts[first:last + 1] - self.starts[first])
        i = operator.index(key)
        if not -len(self) <= i < len(self):
            raise IndexError(f"drawing {i} of {len(self)}")
        i %= len(self)
        return self.points[self.starts[i]:self.starts[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        starts = self.starts.tolist()
        return (self.points[a:b] for a, b in zip(starts, starts[1:]))


def _starts(drawings: Sequence[np.ndarray]) -> np.ndarray:
    """(N + 1,) int64 row index where each drawing starts, then the total."""
    if isinstance(drawings, PackedDrawings):
        return drawings.starts
    starts = np.zeros(len(drawings) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, drawings), dtype=np.int64, count=len(drawings)), out=starts[1:])
    return starts


def _chunk_bounds(starts: np.ndarray) -> Iterator[tuple[int, int]]:
    """(first, last) drawing ranges of about CHUNK_ROWS rows each (at least one drawing)."""
    first, n = 0, len(starts) - 1
    while first < n:
        last = int(np.searchsorted(starts, starts[first] + CHUNK_ROWS, side="right")) - 1
        last = min(max(last, first + 1), n)
        yield first, last
        first = last


def _row_chunks(drawings: Sequence[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive groups of drawings as (the rows of their non-empty drawings end to end, their (k,) lengths)."""
    starts = _starts(drawings)
    lengths = np.diff(starts)
    for first, last in _chunk_bounds(starts):
        if isinstance(drawings, PackedDrawings):
            rows = drawings.points[starts[first]:starts[last]]
        else:
            group = [np.asarray(d) for d in drawings[first:last] if len(d)]
            rows = np.concatenate(group) if group else np.zeros((0, 3))
        yield rows, lengths[first:last]


class _OffsetReader:
    """dx, dy of every drawing, row by row (x0, y0, x1, y1, ...), as float64, handed out in consecutive runs, each
    mapped by `transform` first."""

    def __init__(self, drawings: Sequence[np.ndarray], transform=lambda values: values):
        self._chunks = (rows[:, :2].astype(np.float64).ravel() for rows, _ in _row_chunks(drawings))
        self._rest = np.zeros(0)
        self._transform = transform

    def take(self, n: int) -> np.ndarray:
        parts, have = [self._rest], len(self._rest)
        while have < n:
            parts.append(next(self._chunks))
            have += len(parts[-1])
        values = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self._rest = values[n:]
        return self._transform(values[:n])


def _pairwise_sum(n: int, reader: _OffsetReader) -> np.float64:
    """The sum of the next n values as `np.add.reduce` forms it over one array of them: halves (the first a
    multiple of 8) summed recursively (numpy's pairwise_sum); a part of at most CHUNK_ROWS values is summed by
    numpy itself, which splits it the same way."""
    if n <= CHUNK_ROWS:
        return np.add.reduce(reader.take(n))
    half = n // 2
    half -= half % 8
    return _pairwise_sum(half, reader) + _pairwise_sum(n - half, reader)
