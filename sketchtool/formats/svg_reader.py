"""SVG reading: svg_safety turns the bytes into a checked XML tree, svgelements resolves styles, transforms and
`<use>` (with the fixes below where it differs from a browser), and curves are flattened to absolute polylines
in document order. See docs/svg-parsing.md for the parser choice and every limit."""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.formats.svg_safety import (DEFAULT_MAX_BYTES, REASONS, SVG_NS, check_structure,
                                           drop_unresolved_uses, local_name, one_line, parse_svg_xml,
                                           read_limited_bytes)

__all__ = ["SvgDrawing", "read_svg", "REASONS", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_POINTS", "RELATIVE_TOLERANCE"]

DEFAULT_MAX_POINTS = 200_000  # flattened points per file; path text is capped at 5 characters per point
MAX_COORDINATE = 1e9
RELATIVE_TOLERANCE = 1 / 1000  # default flattening tolerance as a fraction of the drawing's larger side
MAX_POINTS_PER_CURVE = 10_000

NON_RENDERING = {"symbol", "marker", "mask", "clipPath", "pattern", "linearGradient", "radialGradient", "filter"}
_NUMBER_LIST = re.compile(r"[\s,]+")
PRESERVE_ASPECT_RATIO = re.compile(r"^(defer\s+)?(none|x(Min|Mid|Max)Y(Min|Mid|Max))(\s+(meet|slice))?$")
_IMPORTANT = re.compile(r"!\s*important", re.IGNORECASE)  # from "!": a leading \s* made long spaces quadratic


@dataclass
class SvgDrawing:
    """A parsed SVG: `polylines` are float64 (n, 2) absolute points in document order, in the root's user
    (viewBox) coordinates with y down; a 1-point polyline is a dot. `viewbox` is (x, y, w, h); `width` and
    `height` are the root's attributes as written (units kept) or None, `preserve_aspect_ratio` the root's
    (None when absent or not the attribute's grammar). `warnings` name what a browser would also leave out but
    the file may not mean to (a `<use>` of another file or a missing id)."""

    polylines: list[np.ndarray]
    viewbox: tuple[float, float, float, float]
    width: str | None
    height: str | None
    text_elements: int = 0
    warnings: list[str] = field(default_factory=list)
    preserve_aspect_ratio: str | None = None


def read_svg(
    source: str | os.PathLike | bytes,
    *,
    tolerance: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_points: int = DEFAULT_MAX_POINTS,
) -> SvgDrawing:
    """Read an .svg/.svgz file (or its bytes) into polylines, as a browser would draw its strokes and outlines.

    `tolerance` is the largest distance, in user units, between a curve and its flattened polyline; None means
    RELATIVE_TOLERANCE times the larger side of the drawing's bounding box. Unusable input raises
    SketchtoolError whose `reason` is a key of REASONS.
    """
    name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    if tolerance is not None and not (tolerance > 0 and math.isfinite(tolerance)):
        raise SketchtoolError(f"{name}: flattening tolerance must be a positive number, got {tolerance}")
    data = read_limited_bytes(source, name, max_bytes)
    root = parse_svg_xml(data, name)
    warnings = drop_unresolved_uses(root)
    check_structure(root, name, max_points)
    width, height = root.get("width"), root.get("height")
    aspect = root.get("preserveAspectRatio", "").strip()
    aspect = aspect if PRESERVE_ASPECT_RATIO.match(aspect) else None
    viewbox = _prepare_root(root)
    try:
        with np.errstate(all="ignore"):  # overflow becomes inf, which the coordinate check refuses
            polylines, text_elements = _trace(root, viewbox, tolerance, max_points, name)
    except (ValueError, TypeError, IndexError, AttributeError, ZeroDivisionError, OverflowError,
            RecursionError) as e:
        # svgelements stops on some malformed values (e.g. "h." path data) with internal errors
        raise SketchtoolError(f"{name}: cannot interpret the drawing ({type(e).__name__}: {one_line(e)}); "
                              "check its path data and transforms", reason="invalid-svg") from None
    if not polylines:
        raise SketchtoolError(f"{name}: nothing visible is drawn (no stroked or filled shapes)"
                              + (f"; {warnings[0]}" if warnings else ""), reason="empty")
    if viewbox is None:
        viewbox = _viewport_from_size(width, height, polylines)
    return SvgDrawing(polylines, viewbox, width, height, text_elements, warnings, aspect)


# --- adjusting the tree for svgelements ----------------------------------------------------------------------


def _prepare_root(root: ET.Element) -> tuple[float, float, float, float] | None:
    """Adjust the tree where svgelements differs from a browser; return the root viewBox (None if absent).

    - width/height are dropped when a viewBox exists, so coordinates come out in viewBox units, not pixels;
    - non-rendering containers (symbol, marker, mask, ...) are wrapped in <defs>: svgelements draws them inline;
    - <style> sheets move to the front: svgelements applies a sheet only to elements after it; `!important`
      is dropped (svgelements would read "none !important" as a colour);
    - a <path> without `d` gets an empty one (svgelements fails on it, browsers skip it).
    """
    viewbox = _parse_viewbox(root.get("viewBox"))
    if viewbox is None:
        root.attrib.pop("viewBox", None)
    else:
        for attr in ("width", "height", "preserveAspectRatio"):
            root.attrib.pop(attr, None)
    elements = list(root.iter())
    for el in elements:
        if el.get("style"):
            el.set("style", _IMPORTANT.sub("", el.get("style")))
        if local_name(el.tag) == "path" and el.get("d") is None:
            el.set("d", "")  # a path without data draws nothing; svgelements would stop on it
    styles = [el for el in elements if local_name(el.tag) == "style"]
    for el in styles:
        el.text = _IMPORTANT.sub("", el.text or "")
    for parent in elements:  # children lists are rebuilt in one go: repeated remove/insert would be quadratic
        if any(local_name(child.tag) in NON_RENDERING or local_name(child.tag) == "style" for child in parent):
            keep = [child for child in parent if local_name(child.tag) != "style"]
            parent[:] = keep if local_name(parent.tag) == "defs" else [_in_defs(child) for child in keep]
    root[:0] = styles
    return viewbox


def _in_defs(element: ET.Element) -> ET.Element:
    if local_name(element.tag) not in NON_RENDERING:
        return element
    wrapper = ET.Element(f"{{{SVG_NS}}}defs")
    wrapper.append(element)
    return wrapper


def _parse_viewbox(text: str | None) -> tuple[float, float, float, float] | None:
    try:
        x, y, w, h = (float(v) for v in _NUMBER_LIST.split((text or "").strip()))
    except ValueError:
        return None
    if not all(map(math.isfinite, (x, y, w, h))) or w <= 0 or h <= 0:
        return None
    return x, y, w, h


def _viewport_from_size(width: str | None, height: str | None, polylines) -> tuple[float, float, float, float]:
    """No viewBox: user units are px, so (0, 0, width, height) in px; the drawing's extent where unknown."""
    from svgelements import Length

    def px(text: str | None, fallback: float) -> float:
        try:
            value = Length(text).value(ppi=96)
        except (ValueError, TypeError):
            return fallback
        return float(value) if isinstance(value, (int, float)) and value > 0 else fallback

    points = np.concatenate(polylines)
    return 0.0, 0.0, px(width, float(points[:, 0].max())), px(height, float(points[:, 1].max()))


# --- shapes and flattening -----------------------------------------------------------------------------------


def _trace(root: ET.Element, viewbox, tolerance: float | None, max_points: int, name: str) -> tuple[list, int]:
    """The prepared tree -> (polylines in root user units, <text> count), through svgelements."""
    from svgelements import SVG

    # svgelements maps the viewBox onto the viewport; the pre-transform undoes its translation (no scale is left
    # once width/height are dropped), so coordinates stay in the root's user units
    undo_viewbox = f"translate({viewbox[0]!r}, {viewbox[1]!r})" if viewbox else None
    svg = SVG.parse(io.BytesIO(ET.tostring(root)), reify=False, transform=undo_viewbox)
    shapes, text_elements = _drawn_shapes(svg)
    # flatten in each shape's own coordinates, then map the points: svgelements distorts arcs under skew or
    # non-uniform transforms, while an affine map of a polyline is exact
    pieces = [(shape.segments(transformed=False), affine) for shape in shapes
              if _invertible(affine := _affine(shape.transform))]
    extent = _check_coordinates(pieces, name)
    if tolerance is None:
        tolerance = max(extent[2] - extent[0], extent[3] - extent[1]) * RELATIVE_TOLERANCE or 1.0
    polylines: list[np.ndarray] = []
    budget = max_points
    for segments, affine in pieces:
        lines = _flatten(segments, affine, tolerance, budget, name)
        budget -= sum(map(len, lines))
        polylines += lines
    return polylines, text_elements


def _drawn_shapes(svg) -> tuple[list, int]:
    """Shapes in document order that paint something, and the number of <text> elements."""
    from svgelements import Shape, Text

    shapes, texts = [], 0
    for element in svg.elements():
        if isinstance(element, Text):
            texts += element.values.get("tag") == "text"
        elif isinstance(element, Shape) and _is_painted(element):
            shapes.append(element)
    return shapes, texts


def _is_painted(shape) -> bool:
    """Hidden (visibility, opacity 0) or neither stroked nor filled -> not drawn; svgelements keeps both kinds."""
    if str(shape.values.get("visibility", "visible")).strip().lower() in ("hidden", "collapse"):
        return False
    if _opacity(shape.values.get("opacity")) <= 0:  # svgelements hands a group's opacity down to its shapes
        return False
    stroke_width = shape.stroke_width if shape.stroke_width is not None else 1.0
    stroked = not _no_paint(shape.stroke) and stroke_width > 0
    return stroked or not _no_paint(shape.fill)


def _opacity(value) -> float:
    """An `opacity` attribute or style value ("0.5", "50%"); what does not parse is opaque, as browsers take it."""
    text = str(value if value is not None else "1").strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return 1.0


def _no_paint(colour) -> bool:
    return colour is None or colour.value is None or colour.alpha == 0


def _affine(matrix) -> np.ndarray:
    """svgelements Matrix -> (2, 3) array [[a, c, e], [b, d, f]]: x' = a x + c y + e, y' = b x + d y + f."""
    return np.array([[matrix.a, matrix.c, matrix.e], [matrix.b, matrix.d, matrix.f]], dtype=np.float64)


def _invertible(affine: np.ndarray) -> bool:
    """A transform that squashes the plane to a line or point disables rendering (SVG 1.1, 7.5)."""
    (a, c, _), (b, d, _) = affine
    return a * d - b * c != 0


def _stretch(affine: np.ndarray) -> float:
    """Largest singular value of the linear part: the most the transform lengthens any distance."""
    (a, c, _), (b, d, _) = affine
    frobenius, det = a * a + b * b + c * c + d * d, a * d - b * c
    return math.sqrt((frobenius + math.sqrt(max(0.0, frobenius * frobenius - 4 * det * det))) / 2)


def _apply(affine: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return xy @ affine[:, :2].T + affine[:, 2]


def _check_coordinates(pieces, name: str) -> tuple[float, float, float, float]:
    """Every control point, mapped to user units (curves lie in their hull, arcs in the square around their
    centre), must be finite and sane; returns the (min x, min y, max x, max y) extent they span."""
    from svgelements import Arc

    mapped = []
    for segments, affine in pieces:
        points = []
        for seg in segments:
            points.extend(p for p in (seg.start, seg.end, getattr(seg, "control1", None),
                                      getattr(seg, "control2", None), getattr(seg, "control", None)) if p is not None)
            if isinstance(seg, Arc):
                r = max(abs(seg.rx), abs(seg.ry))
                points.extend(seg.center + corner for corner in ((r, r), (r, -r), (-r, r), (-r, -r)))
        if points:
            mapped.append(_apply(affine, np.array([(p.x, p.y) for p in points], dtype=np.float64)))
    if not mapped:
        return 0.0, 0.0, 0.0, 0.0
    xy = np.concatenate(mapped)
    if not np.isfinite(xy).all() or np.abs(xy).max() > MAX_COORDINATE:
        raise SketchtoolError(f"{name}: NaN, infinite or absurd (> {MAX_COORDINATE:g}) coordinates; "
                              "fix the path data or transforms", reason="bad-coordinates")
    return (*xy.min(axis=0), *xy.max(axis=0))


def _flatten(segments, affine: np.ndarray, tolerance: float, budget: int, name: str) -> list[np.ndarray]:
    """svgelements segments (local coordinates) -> one user-unit polyline per subpath. A subpath that stays
    within `tolerance` of its start (icon sets draw dots as `M12 8h.01` or zero-length lines) is a 1-point
    dot; a bare moveto draws nothing. More than `budget` points raise before they are computed."""
    from svgelements import Close, Line, Move

    local_tolerance = tolerance / _stretch(affine)
    polylines: list[np.ndarray] = []
    current: list[np.ndarray] = []  # (k, 2) local-coordinate pieces of the open subpath
    for seg in segments:
        if isinstance(seg, Move):
            _finish(current, affine, tolerance, polylines)
            current = [np.array([[seg.end.x, seg.end.y]])]
            continue
        if not current:
            current = [np.array([[seg.start.x, seg.start.y]])]
        if isinstance(seg, (Line, Close)):
            current.append(np.array([[seg.end.x, seg.end.y]]))
            budget -= 1
        else:
            n = _curve_point_count(seg, local_tolerance)
            budget -= n
            if budget < 0:
                break
            current.append(_curve_points(seg, n))
        if isinstance(seg, Close):
            _finish(current, affine, tolerance, polylines)
            current = []
    if budget < 0:
        raise SketchtoolError(f"{name}: more points than the limit once curves are flattened; simplify the "
                              "drawing, raise the tolerance or the point limit", reason="too-large")
    _finish(current, affine, tolerance, polylines)
    return polylines


def _finish(pieces: list[np.ndarray], affine: np.ndarray, tolerance: float, polylines: list[np.ndarray]) -> None:
    if len(pieces) < 2:
        return
    xy = _apply(affine, np.concatenate(pieces))
    if np.hypot(*(xy - xy[0]).T).max() <= tolerance:
        polylines.append(xy[:1])
        return
    scale = 1e-9 * (1.0 + np.abs(xy).max())
    keep = np.ones(len(xy), dtype=bool)
    keep[1:] = np.hypot(*np.diff(xy, axis=0).T) > scale  # repeats (a curve ending where Z closes) carry no shape
    xy = xy[keep]
    if np.hypot(*(xy[-1] - xy[0])) <= scale:
        xy[-1] = xy[0]  # closed loops end exactly where they start
    polylines.append(xy)


def _curve_point_count(seg, tolerance: float) -> int:
    """Points for a quadratic, cubic or arc segment so that every chord stays within `tolerance` of the curve
    (second-derivative bound for Béziers, sagitta of the larger radius for arcs)."""
    from svgelements import Arc, CubicBezier

    if isinstance(seg, Arc):
        radius = max(abs(seg.rx), abs(seg.ry))
        step = 2 * math.acos(max(-1.0, 1 - tolerance / radius)) if radius > 0 else math.pi
        n = abs(seg.sweep) / step
    elif isinstance(seg, CubicBezier):
        p0, p1, p2, p3 = seg.start, seg.control1, seg.control2, seg.end
        n = math.sqrt(3 * max(abs(p0 - 2 * p1 + p2), abs(p1 - 2 * p2 + p3)) / (4 * tolerance))
    else:  # QuadraticBezier
        n = math.sqrt(abs(seg.start - 2 * seg.control + seg.end) / (4 * tolerance))
    return min(MAX_POINTS_PER_CURVE, max(1, math.ceil(n)))


def _curve_points(seg, n: int) -> np.ndarray:
    """(n, 2) points after the start of a curve segment, evenly spaced in its parameter."""
    from svgelements import Arc, CubicBezier

    t = np.linspace(0.0, 1.0, n + 1)[1:]
    if isinstance(seg, Arc):
        return np.asarray(seg.npoint(t), dtype=np.float64)
    controls = (seg.start, seg.control1, seg.control2, seg.end) if isinstance(seg, CubicBezier) else (
        seg.start, seg.control, seg.end)
    return _bezier(np.array([(p.x, p.y) for p in controls], dtype=np.float64), t)


def _bezier(controls: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Bernstein form of a degree len(controls) - 1 Bézier at parameters t -> (len(t), 2)."""
    degree = len(controls) - 1
    t = t[:, None]
    weights = [math.comb(degree, k) * t**k * (1 - t) ** (degree - k) for k in range(degree + 1)]
    return sum(w * c for w, c in zip(weights, controls))
