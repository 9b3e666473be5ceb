"""THE rasteriser: drawings (stroke-3 or polylines) -> (H, W) float32 images in [0, 1], 1.0 = ink.

Drawn by cairo (cairocffi, already installed for cairosvg) straight from numpy: one path-data buffer per
drawing handed to `cairo_append_path`, never SVG text, never a Python call per point. Deterministic, no file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = ["RasterOptions", "rasterize", "rasterize_batch", "fit_transform", "ANTIALIAS"]

# "fast": 4 x 4 supersampled coverage (17 grey levels), about twice as fast as "best"; "best": exact area
# coverage (256 levels); "none": binary. See docs/BENCHMARKS.md (rasterize) for the measured difference.
ANTIALIAS = ("fast", "best", "none")
_CAIRO_ANTIALIAS = {"none": 1, "fast": 4, "best": 6}  # cairo_antialias_t values
_MOVE_TO, _LINE_TO = 0, 1
_CHUNK = 1024  # drawings prepared at once: bounds the path buffer's memory


@dataclass(frozen=True)
class RasterOptions:
    """How drawings become pixels. `size` is (H, W); `line_width` and `padding` are in output pixels;
    `view` = (x0, y0, x1, y1) maps that fixed box onto the canvas (aspect kept, centred) instead of
    fitting each drawing's bounding box, so strokes keep their place (StrokeNet's canvas is (-1, -1, 1, 1))."""

    size: tuple[int, int] = (64, 64)
    line_width: float = 1.5
    padding: float = 2.0
    antialias: str = "fast"
    view: tuple[float, float, float, float] | None = None

    def __post_init__(self):
        size = (self.size, self.size) if np.isscalar(self.size) else tuple(self.size)
        if len(size) != 2 or not all(float(s).is_integer() and 1 <= s <= 16384 for s in size):
            raise SketchtoolError(f"image size {self.size!r}: give a whole number of pixels between 1 and 16384")
        object.__setattr__(self, "size", (int(size[0]), int(size[1])))
        if not (np.isfinite(self.line_width) and self.line_width > 0):
            raise SketchtoolError(f"line width {self.line_width!r}: give a positive number of pixels")
        if not (np.isfinite(self.padding) and self.padding >= 0):
            raise SketchtoolError(f"padding {self.padding!r}: give zero or a positive number of pixels")
        if self.antialias not in ANTIALIAS:
            raise SketchtoolError(f"antialias {self.antialias!r}: use one of {', '.join(ANTIALIAS)}")
        if self.view is None and min(self.size) - 2 * self.padding - self.line_width <= 0:
            raise SketchtoolError(f"padding {self.padding:g} and line width {self.line_width:g} leave no room "
                                  f"in a {self.size[1]}x{self.size[0]} image")
        if self.view is not None and not (self.view[2] > self.view[0] and self.view[3] > self.view[1]):
            raise SketchtoolError(f"view {self.view!r}: give (x0, y0, x1, y1) with x1 > x0 and y1 > y0")


def rasterize(drawing, options: RasterOptions | None = None, *, widths: Sequence[np.ndarray] | None = None,
              **option_fields) -> np.ndarray:
    """One drawing -> (H, W) float32 in [0, 1]. `drawing` is an (n, 3) stroke-3 array, one (n, 2) polyline
    or a list of polylines; `widths` (one (n,) array of line widths in output pixels per polyline) draws
    strokes whose width varies along them, with round joins (a pen with pressure; the fit still allows for
    `line_width`, so give a `view` or a padding that holds the widest point). Keyword fields build the
    `RasterOptions` (`rasterize(d, size=28, line_width=2)`)."""
    options = _options(options, option_fields)
    if widths is None:
        return rasterize_batch([drawing], options)[0]
    polylines = _as_polylines(drawing)
    if len(widths) != len(polylines) or any(len(w) != len(p) for w, p in zip(widths, polylines)):
        raise SketchtoolError("widths: give one width per point of every polyline")
    return _rasterize_variable(polylines, [np.asarray(w, dtype=np.float64) for w in widths], options)


def rasterize_batch(drawings: Sequence, options: RasterOptions | None = None, *, dtype=np.float32,
                    on_progress: Callable[[int, int], None] | None = None, **option_fields) -> np.ndarray:
    """Many drawings -> (N, H, W): float32 in [0, 1] by default, or uint8 0-255 with `dtype=np.uint8`
    (a dataset's storage, a quarter of the memory). `on_progress(done, total)` is called as chunks finish.
    An empty drawing gives an empty image."""
    options = _options(options, option_fields)
    h, w = options.size
    out = np.zeros((len(drawings), h, w), dtype=np.uint8)
    canvas = _Canvas(options) if len(drawings) else None
    for first in range(0, len(drawings), _CHUNK):
        chunk = drawings[first:first + _CHUNK]
        data, bounds = _path_data([_as_stroke3(d) for d in chunk], options)
        for i, (start, stop) in enumerate(bounds):
            if stop > start:
                out[first + i] = canvas.stroke(data[start:stop])
        if on_progress:
            on_progress(first + len(chunk), len(drawings))
    if np.dtype(dtype) == np.uint8:
        return out
    return (out / np.float32(255)).astype(dtype, copy=False)


def fit_transform(points: np.ndarray, options: RasterOptions) -> tuple[float, np.ndarray]:
    """(scale, offset) with pixel = point * scale + offset: the bounding box of `points` (or `options.view`)
    scaled with its aspect kept to fill the canvas less padding and half a line width on each side, centred.
    A drawing without extent (one dot) is centred at scale 1."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not len(points):
        raise SketchtoolError("cannot fit an empty drawing")
    scale, offset = _fit_many(points, np.array([0]), np.array([len(points)]), options)
    return float(scale[0]), offset[0]


def _options(options: RasterOptions | None, fields: dict) -> RasterOptions:
    if options is not None and fields:
        raise TypeError("give either a RasterOptions or keyword fields, not both")
    return options if options is not None else RasterOptions(**fields)


def _as_polylines(drawing) -> list[np.ndarray]:
    """Polylines from a stroke-3 array, one (n, 2) polyline array, or a list of polylines."""
    from sketchtool.strokes import stroke3_to_polylines

    if isinstance(drawing, np.ndarray) and drawing.ndim == 2 and drawing.shape[1] in (2, 3):
        polylines = stroke3_to_polylines(drawing) if drawing.shape[1] == 3 else [drawing.astype(np.float64)]
    else:
        polylines = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in drawing]
    polylines = [p for p in polylines if len(p)]
    if any(not np.isfinite(p).all() for p in polylines):
        raise SketchtoolError("drawing holds NaN or infinite coordinates; cannot rasterise it")
    return polylines


def _as_stroke3(drawing) -> np.ndarray:
    from sketchtool.strokes import polylines_to_stroke3

    if isinstance(drawing, np.ndarray) and drawing.ndim == 2 and drawing.shape[1] == 3:
        if drawing.dtype.kind not in "iuf":
            raise SketchtoolError(f"a stroke-3 drawing must be numeric, not {drawing.dtype}")
        return drawing
    return polylines_to_stroke3(_as_polylines(drawing))


def _path_data(drawings: list[np.ndarray], options: RasterOptions) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """All drawings' cairo_path_data_t elements in one (2m, 2) float64 buffer, and each drawing's (start, stop)
    rows in it. An element is a header (type and length as two int32 in its first 8 bytes) then one point.
    Every stroke is MOVE_TO p0, LINE_TO p0, LINE_TO p1...: the zero-length first segment makes a one-point stroke
    a round dot and changes nothing for longer ones. Vectorised over drawings: no Python loop per point."""
    lengths = np.array([len(d) for d in drawings], dtype=np.int64)
    if not lengths.sum():
        return np.zeros((0, 2)), [(0, 0)] * len(drawings)
    s = np.concatenate([np.asarray(d, dtype=np.float64).reshape(-1, 3) for d in drawings])
    if not np.isfinite(s).all():
        raise SketchtoolError("a drawing holds NaN or infinite values; cannot rasterise it")
    first = np.cumsum(lengths) - lengths  # each drawing's first row
    kept = lengths > 0
    cumulative = np.cumsum(s[:, :2], axis=0)
    before = cumulative[first[kept]] - s[first[kept], :2]  # running sum up to each drawing
    points = cumulative - np.repeat(before, lengths[kept], axis=0)
    stroke_start = np.ones(len(s), dtype=bool)
    stroke_start[1:] = s[:-1, 2] > 0.5
    stroke_start[first[kept]] = True
    scale, offset = _fit_many(points, first[kept], lengths[kept], options)
    points = points * np.repeat(scale, lengths[kept])[:, None] + np.repeat(offset, lengths[kept], axis=0)
    copies = 1 + stroke_start
    points = np.repeat(points, copies, axis=0)
    kinds = np.full(len(points), _LINE_TO, dtype=np.int32)
    kinds[(np.cumsum(copies) - copies)[stroke_start]] = _MOVE_TO
    data = np.empty((2 * len(points), 2), dtype=np.float64)
    data[1::2] = points
    header = data[0::2].view(np.int32).reshape(len(points), 4)
    header[:, 0] = kinds
    header[:, 1] = 2
    elements = np.concatenate([[0], np.cumsum(np.add.reduceat(copies, first[kept]) if kept.any() else [])])
    stops = np.zeros(len(drawings), dtype=np.int64)
    stops[kept] = 2 * elements[1:]
    starts = np.zeros(len(drawings), dtype=np.int64)
    starts[kept] = 2 * elements[:-1]
    return data, list(zip(starts.tolist(), stops.tolist()))


def _fit_many(points: np.ndarray, first: np.ndarray, lengths: np.ndarray,
              options: RasterOptions) -> tuple[np.ndarray, np.ndarray]:
    """`fit_transform` for many drawings at once: (N,) scales and (N, 2) offsets."""
    h, w = options.size
    canvas = np.array([w, h], dtype=np.float64)
    if options.view is not None:
        lo = np.broadcast_to(np.array(options.view[:2], dtype=np.float64), (len(first), 2))
        hi = np.broadcast_to(np.array(options.view[2:], dtype=np.float64), (len(first), 2))
        room = canvas
    else:
        lo, hi = np.minimum.reduceat(points, first), np.maximum.reduceat(points, first)
        room = canvas - 2 * options.padding - options.line_width
    extent = hi - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(extent > 0, room / extent, np.inf)
    scale = ratios.min(axis=1)
    scale[~np.isfinite(scale)] = 1.0
    return scale, canvas / 2 - (lo + hi) / 2 * scale[:, None]


class _Canvas:
    """One reused cairo A8 surface; `stroke(path)` clears it, strokes the path and returns a uint8 copy."""

    def __init__(self, options: RasterOptions):
        import cairocffi

        self._ffi, self._lib = cairocffi.ffi, cairocffi.cairo
        h, w = options.size
        self._surface = cairocffi.ImageSurface(cairocffi.FORMAT_A8, w, h)
        self._context = cairocffi.Context(self._surface)
        self._context.set_line_width(options.line_width)
        self._context.set_line_cap(cairocffi.LINE_CAP_ROUND)
        self._context.set_line_join(cairocffi.LINE_JOIN_ROUND)
        self._context.set_tolerance(0.05)  # round joins flattened finely: a 1/20-pixel error
        self._lib.cairo_set_antialias(self._context._pointer, _CAIRO_ANTIALIAS[options.antialias])
        stride = self._surface.get_stride()
        buffer = self._ffi.buffer(self._lib.cairo_image_surface_get_data(self._surface._pointer), h * stride)
        self._pixels = np.frombuffer(buffer, dtype=np.uint8).reshape(h, stride)
        self._width = w

    def stroke(self, data: np.ndarray) -> np.ndarray:
        self._pixels[:] = 0
        self._lib.cairo_surface_mark_dirty(self._surface._pointer)
        pointer = self._context._pointer
        path = self._ffi.new("cairo_path_t *", [0, self._ffi.cast("cairo_path_data_t *", self._ffi.from_buffer(data)),
                                                len(data)])
        self._lib.cairo_append_path(pointer, path)
        self._lib.cairo_stroke(pointer)
        self._lib.cairo_surface_flush(self._surface._pointer)
        return self._pixels[:, :self._width].copy()

    def fill(self, draw: Callable) -> np.ndarray:
        """Clear, let `draw(context)` build a path, fill it with the non-zero rule, return a uint8 copy."""
        import cairocffi

        self._pixels[:] = 0
        self._lib.cairo_surface_mark_dirty(self._surface._pointer)
        self._context.set_fill_rule(cairocffi.FILL_RULE_WINDING)
        draw(self._context)
        self._context.fill()
        self._surface.flush()
        return self._pixels[:, :self._width].copy()


def _rasterize_variable(polylines: list[np.ndarray], widths: list[np.ndarray], options: RasterOptions) -> np.ndarray:
    """Varying width: the union of a disc per point (diameter = its width) and the outer-tangent hull of each
    pair of neighbouring discs, filled as one path whose pieces all turn the same way, so the non-zero rule
    unites them without seams."""
    if not polylines:
        return np.zeros(options.size, dtype=np.float32)
    if any(not (np.isfinite(w).all() and (w >= 0).all()) for w in widths):
        raise SketchtoolError("widths: give finite, non-negative line widths")
    scale, offset = fit_transform(np.concatenate(polylines), options)

    def draw(context):
        for points, width in zip(polylines, widths):
            p, r = points * scale + offset, width / 2
            for (x, y), radius in zip(p, r):
                if radius > 0:
                    context.new_sub_path()
                    context.arc(x, y, radius, 0, 2 * np.pi)
            for i in range(len(p) - 1):
                _tangent_hull(context, p[i], r[i], p[i + 1], r[i + 1])

    return _Canvas(options).fill(draw) / np.float32(255)


def _tangent_hull(context, c1: np.ndarray, r1: float, c2: np.ndarray, r2: float) -> None:
    d = float(np.hypot(*(c2 - c1)))
    if d <= abs(r1 - r2) or d == 0:
        return  # one disc holds the other
    u = (c2 - c1) / d
    normal = np.array([-u[1], u[0]])
    along, across = (r1 - r2) / d, np.sqrt(1 - ((r1 - r2) / d) ** 2)
    v1, v2 = u * along + normal * across, u * along - normal * across
    quad = np.array([c1 + r1 * v1, c2 + r2 * v1, c2 + r2 * v2, c1 + r1 * v2])
    x, y = quad[:, 0], quad[:, 1]
    if np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y) < 0:  # turn the way cairo's arcs turn
        quad = quad[::-1]
    context.move_to(*quad[0])
    for point in quad[1:]:
        context.line_to(*point)
    context.close_path()
