"""G-code: a page in mm drawn by one machine profile (sketchtool.profiles), with the safety rules every
output keeps: G21 G90, pen up first and last, F before any G1, every X/Y inside the bed, park at the end."""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import atomic_write
from sketchtool.layout import Page, on_paper, parse_paper
from sketchtool.profiles import FEED_WORD, Profile, load_profile
from sketchtool.travel import TravelReport, optimize_page, travel_lengths

__all__ = ["to_machine", "fits_bed", "park_on_page", "machine_page", "page_to_gcode", "write_gcode", "write_page"]


def to_machine(points: np.ndarray, page: Page, profile: Profile) -> np.ndarray:
    """Page mm (y down, paper corner at the profile's origin corner) -> machine X, Y (y grows away from the
    origin corner), (n, 2) float64. The paper must fit the bed."""
    if page.unit != "mm":
        raise SketchtoolError(f"a {page.unit} page has no physical size; lay it out on paper first")
    if not fits_bed(page.width, page.height, profile):
        turned = fits_bed(page.height, page.width, profile)
        raise SketchtoolError(
            f"the {page.width:g}x{page.height:g} mm paper is larger than the {profile.bed_width:g}x"
            f"{profile.bed_height:g} mm bed of profile {profile.name}; "
            + ("turn the paper (--landscape or not)" if turned else
               f"use paper no larger than {profile.bed_width:g}x{profile.bed_height:g} mm"))
    xy = np.array(points, dtype=np.float64).reshape(-1, 2)
    if profile.origin.endswith("right"):
        xy[:, 0] = page.width - xy[:, 0]
    if profile.origin.startswith("bottom"):
        xy[:, 1] = page.height - xy[:, 1]
    return xy


def fits_bed(width: float, height: float, profile: Profile) -> bool:
    """Whether a width x height mm paper, placed in portrait at the origin corner, lies on the bed."""
    return width <= profile.bed_width + 1e-9 and height <= profile.bed_height + 1e-9


def park_on_page(page: Page, profile: Profile) -> np.ndarray:
    """The park position in page coordinates (the same flips undo themselves); (2,) float64."""
    return to_machine(np.array([profile.park]), page, profile)[0]


def machine_page(page: Page, profile: Profile, paper: str = "A4") -> Page:
    """An mm page as it is; a px page fitted onto `paper`, or onto the whole bed if that paper is larger."""
    if page.unit == "mm":
        return page
    sheet = parse_paper(paper, landscape=page.width > page.height)
    fits = fits_bed(sheet.width, sheet.height, profile)
    return on_paper(page, paper if fits else f"{profile.bed_width:g}x{profile.bed_height:g}mm")


def page_to_gcode(page: Page, profile: Profile, report: TravelReport | None = None) -> str:
    """The page's strokes, in their order, as a G-code program for `profile`; raises SketchtoolError
    before writing anything if any point would leave the bed."""
    _check_inside(page.strokes, (page.width, page.height), "paper")
    lines = [to_machine(s.points, page, profile) for s in page.strokes if len(s.points)]
    _check_inside(lines, (profile.bed_width, profile.bed_height), f"bed of profile {profile.name}")
    down, up = travel_lengths(lines, profile.park)
    head = [
        f"; sketchtool: profile {profile.name}, paper {page.width:g}x{page.height:g} mm, origin {profile.origin}",
        f"; {len(lines)} strokes, pen-down {down / 1000:.2f} m, pen-up {up / 1000:.2f} m",
    ]
    if report is not None:
        head.append(f"; pen-up before optimisation {report.pen_up_before / 1000:.2f} m")
    return "\n".join([*head, *_program(lines, profile)]) + "\n"


def write_gcode(page: Page, path: str | os.PathLike, profile: Profile, report: TravelReport | None = None) -> None:
    """Write the program atomically (nothing is written when the bed check fails)."""
    text = page_to_gcode(page, profile, report)
    with atomic_write(path, "w") as f:
        f.write(text)


def write_page(page: Page, path: str | os.PathLike, options) -> TravelReport | None:
    """Format-dispatch entry point: a px page is fitted onto `options.paper` (or the bed, if that paper
    does not fit it), strokes are optimised unless `options.optimize` is off."""
    profile = load_profile(options.profile)
    page = machine_page(page, profile, options.paper)
    report = None
    if options.optimize:
        page, report = optimize_page(page, start=park_on_page(page, profile))
    write_gcode(page, path, profile, report)
    return report


def _check_inside(lines, size: tuple[float, float], what: str) -> None:
    """Every point (to the 0.001 mm written) within [0, width] x [0, height], or an error naming the first."""
    for xy in lines:
        xy = np.round(getattr(xy, "points", xy), 3)
        outside = ~np.isfinite(xy).all(axis=1) | (xy < 0).any(axis=1) | (xy[:, 0] > size[0]) | (xy[:, 1] > size[1])
        if outside.any():
            x, y = xy[np.flatnonzero(outside)[0]]
            raise SketchtoolError(f"point ({x:g}, {y:g}) lies outside the {size[0]:g}x{size[1]:g} mm {what}; "
                                  "lay the drawings out with --fit or a smaller --scale")


def _num(value: float) -> str:
    text = f"{round(value, 3) + 0.0:.3f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


def _program(lines: list[np.ndarray], profile: Profile) -> Iterator[str]:
    """G21 G90, header, pen up, then per stroke: travel, pen down, feeds; pen up, park, footer."""
    feed = None  # the modal F: stated on a G1 whenever it changes, so no G1 ever runs without one

    def move(code: str, x: float, y: float, rate: float | None) -> str:
        nonlocal feed
        words = f"{code} X{_num(x)} Y{_num(y)}"
        if rate is not None and rate != feed:
            feed = rate
            words += f" F{_num(rate)}"
        return words

    def pen(down: bool) -> list[str]:
        nonlocal feed
        commands = list(_pen(profile, down=down))
        if any(FEED_WORD.search(c) for c in commands):  # e.g. "G1 Z0 F300": our modal F is gone
            feed = None
        return commands

    travel = (lambda x, y: move("G1", x, y, profile.travel_feed)) if profile.travel_feed > 0 else (
        lambda x, y: move("G0", x, y, None))
    yield "G21"
    yield "G90"
    yield from profile.header
    yield from pen(down=False)
    for xy in lines:
        yield travel(*xy[0])
        yield from pen(down=True)
        for x, y in xy[1:]:
            yield move("G1", x, y, profile.draw_feed)
        yield from pen(down=False)
    yield travel(*profile.park)
    yield from profile.footer


def _pen(profile: Profile, *, down: bool) -> Iterator[str]:
    if profile.pen == "z":
        yield f"G0 Z{_num(profile.z_down if down else profile.z_up)}"
    else:
        yield from profile.pen_down if down else profile.pen_up
    if profile.pen_delay > 0:
        delay = profile.pen_delay * 1000 if profile.dwell_unit == "ms" else profile.pen_delay
        yield f"G4 P{_num(delay)}"
