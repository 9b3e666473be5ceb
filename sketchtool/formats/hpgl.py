"""HP-GL for vintage pen plotters: a page in mm as PU/PD moves in plotter units (40 per mm, y up),
one pen (SP n) per page layer, starting and ending with the pen up at the paper's origin."""

from __future__ import annotations

import os

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.layout import Page, on_paper
from sketchtool.travel import TravelReport, optimize_page

__all__ = ["UNITS_PER_MM", "page_to_hpgl", "write_page"]

UNITS_PER_MM = 40  # HP-GL plotter unit: 0.025 mm


def page_to_hpgl(page: Page) -> str:
    """The mm page as an HP-GL program; every coordinate lies on the paper (0..width, 0..height)."""
    if page.unit != "mm":
        raise SketchtoolError(f"a {page.unit} page has no physical size; lay it out on paper first")
    limit = np.array([page.width, page.height]) * UNITS_PER_MM
    layers = list(dict.fromkeys(s.layer for s in page.strokes))
    out = ["IN;"]
    for pen, layer in enumerate(layers, start=1):
        out.append(f"SP{pen};")
        for s in page.strokes:
            if s.layer != layer or not len(s.points):
                continue
            xy = np.column_stack([s.points[:, 0], page.height - s.points[:, 1]]) * UNITS_PER_MM
            if not np.isfinite(xy).all() or (np.rint(xy) < 0).any() or (np.rint(xy) > limit).any():
                raise SketchtoolError(f"a stroke leaves the {page.width:g}x{page.height:g} mm paper; use --fit")
            xy = np.rint(xy).astype(np.int64)  # finite and on the paper: the cast cannot overflow
            coords = ",".join(f"{x},{y}" for x, y in (xy[1:] if len(xy) > 1 else xy))  # a dot: PD on the spot
            out.append(f"PU{xy[0, 0]},{xy[0, 1]};PD{coords};")
    out.append("PU0,0;SP0;")
    return "\n".join(out) + "\n"


def write_page(page: Page, path: str | os.PathLike, options) -> TravelReport | None:
    """Format-dispatch entry point: a px page is fitted onto `options.paper`; strokes are ordered from the
    paper's bottom-left corner (the plotter's origin) unless `options.optimize` is off."""
    page = on_paper(page, options.paper)
    report = None
    if options.optimize:
        page, report = optimize_page(page, start=(0.0, page.height))
    text = page_to_hpgl(page)
    with atomic_write(path, "w") as f:
        f.write(text)
    return report
