"""Placing drawings on a page: the page model every drawing writer (SVG, PNG, G-code, ...) consumes, the
screen grid (`grid_page`, in px) and physical paper (`Paper`, presets, margins, fit/scale, grids in mm)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.strokes import polylines_bounds, stroke3_to_polylines

__all__ = [
    "PageStroke", "Page", "grid_page", "Paper", "PAPER_SIZES", "MM_PER_PX",
    "parse_length", "parse_paper", "check_scale", "layout_on_paper", "fit_page_to_paper", "on_paper",
]

MM_PER_PX = 25.4 / 96  # one CSS pixel (SVG user unit) is 1/96 in
PAPER_SIZES = {  # portrait width x height in mm
    "a6": (105.0, 148.0), "a5": (148.0, 210.0), "a4": (210.0, 297.0), "a3": (297.0, 420.0),
    "letter": (215.9, 279.4), "legal": (215.9, 355.6),
}
_UNITS_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4, "pt": 25.4 / 72, "pc": 25.4 / 6, "px": MM_PER_PX}
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_LENGTH = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(?P<unit>mm|cm|in|pt|pc|px)?\s*$", re.IGNORECASE)
_SIZE = re.compile(rf"^\s*(?P<w>{_NUMBER})\s*(?P<wu>mm|cm|in)?\s*x\s*(?P<h>{_NUMBER})\s*(?P<hu>mm|cm|in)?\s*$",
                   re.IGNORECASE)
MAX_PAPER_MM = 10_000.0  # a 10 m roll; the largest bed a machine profile may state (sketchtool.profiles)


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
    common_scale: bool = False,
) -> Page:
    """Lay stroke-3 drawings out in a grid of square `cell`-sized cells, each centred in its cell and scaled so
    its longer side fills the cell less `padding` on each side; `common_scale` draws all at the scale of the
    largest instead (so relative sizes stay comparable). `given_points[i]` marks the first points of drawing i
    as "given" (e.g. the start a model completed); the rest is "generated"."""
    n = len(drawings)
    if cols is None:
        cols = max(1, math.ceil(math.sqrt(n)))
    cols = max(1, min(cols, max(n, 1)))
    rows = max(1, math.ceil(n / cols))
    page = Page(width=cols * cell, height=rows * cell)
    polys = [stroke3_to_polylines(d) for d in drawings]
    bounds = [polylines_bounds(p) if p else None for p in polys]
    sides = [max(b[2] - b[0], b[3] - b[1]) if b else 0.0 for b in bounds]
    room = cell * (1 - 2 * padding)
    if common_scale:
        sides = [max(sides, default=0.0)] * n
    for i, p in enumerate(polys):
        if not p:
            continue
        x0, y0, x1, y1 = bounds[i]
        scale = room / sides[i] if sides[i] > 0 else 1.0  # a lone dot keeps its size
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
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


@dataclass(frozen=True)
class Paper:
    """A physical sheet in mm, after orientation; drawings stay `margin` mm away from every edge."""

    width: float
    height: float
    margin: float = 10.0
    name: str = ""

    @property
    def described(self) -> str:
        """"A4 (210x297 mm)" for a preset, "200x150 mm" for a custom size (its name is its size)."""
        size = f"{self.width:g}x{self.height:g} mm"
        return size if self.name in ("", size) else f"{self.name} ({size})"

    @property
    def content(self) -> tuple[float, float]:
        """Width and height of the drawable area inside the margins."""
        return self.width - 2 * self.margin, self.height - 2 * self.margin


def parse_length(text: str | float, *, what: str = "length") -> float:
    """"10mm", "1.5cm", "0.5in", "12pt", "20px" or a bare number (mm) -> mm."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _LENGTH.match(text)
    if not m:
        if _LENGTH.match(text.replace("-", "", 1)):
            raise SketchtoolError(f"{what} {text!r}: must not be negative")
        raise SketchtoolError(f"{what} {text!r}: give a number with mm, cm, in, pt, pc or px (e.g. 10mm)")
    return float(m.group("value")) * _UNITS_MM[(m.group("unit") or "mm").lower()]


def parse_paper(spec: str = "A4", *, landscape: bool = False, margin: str | float = "10mm") -> Paper:
    """A preset (A6-A3, letter, legal) or a custom "WxH" size ("200x150mm", "8.5x11in"; mm if no unit);
    `landscape` puts the long side horizontal (presets are portrait otherwise, custom sizes as written).
    Margins that leave no room are an error."""
    key = spec.strip().lower()
    if key in PAPER_SIZES:
        width, height = PAPER_SIZES[key]
        name = spec.strip().upper() if key.startswith("a") else key
    else:
        m = _SIZE.match(spec)
        if not m:
            raise SketchtoolError(f"paper {spec!r}: use one of {', '.join(PAPER_SIZES)} or WxH like 200x150mm or 8.5x11in")
        unit = (m.group("hu") or m.group("wu") or "mm").lower()
        width = float(m.group("w")) * _UNITS_MM[(m.group("wu") or unit).lower()]
        height = float(m.group("h")) * _UNITS_MM[unit]
        name = ""
    if landscape != (width > height) and (landscape or key in PAPER_SIZES):
        width, height = height, width
    name = name or f"{width:g}x{height:g} mm"
    if min(width, height) <= 0:
        raise SketchtoolError(f"paper {spec!r}: both sides must be more than 0")
    if max(width, height) > MAX_PAPER_MM:
        raise SketchtoolError(f"paper {spec!r}: {name} is larger than any plotter draws on; give sides of at most "
                              f"{MAX_PAPER_MM:,g} mm")
    paper = Paper(width, height, parse_length(margin, what="margin"), name)
    if min(paper.content) <= 0:
        raise SketchtoolError(f"margin {paper.margin:g} mm leaves no room on {name} paper; use a smaller --margin")
    return paper


def layout_on_paper(
    drawings: Sequence[Sequence[np.ndarray]],
    paper: Paper,
    *,
    cols: int | None = None,
    scale: float | None = None,
    gap: float = 5.0,
) -> tuple[Page, float]:
    """Place drawings (each a list of polylines in its own units) in a grid of equal cells centred in
    the paper's margins, all at one common scale. `cols` None picks the columns that let the drawings be
    largest on this paper (so the grid takes the paper's shape). `scale` None fits the grid into the
    margins; a number is a factor on the natural size, reading one drawing unit as one CSS pixel (1/96 in),
    and a grid that would not fit is an error, never clipped. Returns the page in mm and the mm per unit."""
    drawings = [[np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in d if len(p)] for d in drawings]
    drawings = [d for d in drawings if d]
    if not drawings:
        raise SketchtoolError("nothing to plot: every input drawing is empty")
    check_scale(scale)
    n = len(drawings)
    with np.errstate(over="ignore", invalid="ignore"):
        boxes = np.array([polylines_bounds(d) for d in drawings])  # (n, 4) x0, y0, x1, y1
        cell = (boxes[:, 2:] - boxes[:, :2]).max(axis=0)  # (2,) largest width, height in drawing units
    if not (np.isfinite(boxes).all() and np.isfinite(cell).all()):
        raise SketchtoolError("a drawing's coordinates are not finite or too large to lay out")
    cols = max(1, min(cols, n)) if cols else _best_cols(n, cell, paper, gap)
    counts = np.array([cols, math.ceil(n / cols)])
    k_fit, gaps = _fit_scale(cell, counts[None], paper, gap)
    k_fit, gaps = float(k_fit[0]), gaps[0]  # gaps: (2,) mm between cells, per axis
    if scale is None:
        k = k_fit if math.isfinite(k_fit) else 1.0
    else:
        k = scale * MM_PER_PX
        with np.errstate(over="ignore", invalid="ignore"):
            need = counts * cell * k + gaps * (counts - 1)
        if not np.isfinite(need).all() or np.any(need > np.array(paper.content) + 1e-9):
            size = f"{need[0]:.1f}x{need[1]:.1f} mm" if need.max() <= MAX_PAPER_MM else "more than any paper"
            raise SketchtoolError(
                f"the layout needs {size} but {paper.name or 'the paper'} has "
                f"{paper.content[0]:.1f}x{paper.content[1]:.1f} mm inside the margins; "
                "use --fit, a smaller --scale, larger --paper or --landscape")
    cell_mm = cell * k
    grid = counts * cell_mm + gaps * (counts - 1)
    corner = np.array([paper.width, paper.height]) / 2 - grid / 2
    page = Page(width=paper.width, height=paper.height, unit="mm")
    for i, (d, box) in enumerate(zip(drawings, boxes)):
        cell_centre = corner + np.array([i % cols, i // cols]) * (cell_mm + gaps) + cell_mm / 2
        centre = (box[:2] + box[2:]) / 2
        page.strokes.extend(PageStroke((p - centre) * k + cell_centre, i, j) for j, p in enumerate(d))
    return page, k


def check_scale(scale: float | None) -> None:
    """A layout scale is None (fit) or a positive, finite factor."""
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise SketchtoolError(f"--scale {scale}: give a positive, finite factor (1 = natural size)")


def _fit_scale(cell: np.ndarray, counts: np.ndarray, paper: Paper, gap: float) -> tuple[np.ndarray, np.ndarray]:
    """For grids of `counts` (m, 2) cols, rows of `cell` (2,) units: the mm per unit that fills the margins
    (m,), inf when the cell has no extent, and the gaps (m, 2) in mm. Many cells shrink the gaps to a tenth of
    the paper's share per cell, so they never eat the page."""
    content = np.array(paper.content)
    gaps = np.minimum(gap, 0.1 * content / counts)
    room = content - gaps * (counts - 1)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        k = np.where(cell > 0, room / (counts * cell), np.inf).min(axis=1)
    return k, gaps


def _best_cols(n: int, cell: np.ndarray, paper: Paper, gap: float) -> int:
    """The column count whose grid draws the `n` cells largest on the paper; among equals, the one with the
    fewest empty cells, then the fewest columns."""
    cols = np.arange(1, n + 1)
    rows = -(-n // cols)
    k, _ = _fit_scale(cell, np.column_stack([cols, rows]), paper, gap)
    if not np.isfinite(k).any():  # dots only: any grid fits, keep it about square
        return max(1, math.ceil(math.sqrt(n)))
    best = k >= k[np.isfinite(k)].max() * (1 - 1e-9)
    return int(cols[best][np.argmin((cols * rows - n)[best])])


def fit_page_to_paper(page: Page, paper: Paper) -> tuple[Page, float]:
    """Scale a whole page (e.g. a px grid from `grid_page`) uniformly into the paper's margins, centred,
    keeping its strokes' drawings and layers. Returns the page in mm and the mm per page unit."""
    w, h = paper.content
    k = min(w / page.width, h / page.height) if page.width > 0 and page.height > 0 else 1.0
    offset = np.array([paper.width - page.width * k, paper.height - page.height * k]) / 2
    strokes = [replace(s, points=np.asarray(s.points, dtype=np.float64) * k + offset) for s in page.strokes]
    return Page(width=paper.width, height=paper.height, unit="mm", strokes=strokes), k


def on_paper(page: Page, paper: str = "A4", margin: float = 10.0) -> Page:
    """A page ready for a plotter: an mm page as it is; a px page (a command's grid) fitted into `paper`
    with `margin` mm, turned landscape when the page is wider than tall."""
    if page.unit == "mm":
        return page
    return fit_page_to_paper(page, parse_paper(paper, landscape=page.width > page.height, margin=margin))[0]
