"""G-code, HP-GL and plotter SVG output: accepted by LinuxCNC's RS-274/NGC interpreter for every profile, with
the pen-down path it reports equal to the intended polylines; bed limits, pen state, Y flip, reference files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.formats import OutputOptions, write_drawings, write_page
from sketchtool.formats.gcode import (
    machine_page,
    page_to_gcode,
    to_machine,
    write_gcode,
)
from sketchtool.formats.hpgl import UNITS_PER_MM, page_to_hpgl
from sketchtool.layout import Page, PageStroke, grid_page
from sketchtool.profiles import Profile, builtin_profiles, load_profile
from sketchtool.strokes import polylines_to_stroke3

RS274 = shutil.which("rs274")
needs_rs274 = pytest.mark.skipif(RS274 is None, reason="needs LinuxCNC's rs274 (Debian package linuxcnc-uspace)")
REFS = Path(__file__).parent / "fixtures" / "refs"
UPDATE_REFS = os.environ.get("SKETCHTOOL_UPDATE_REFS") == "1"
PROFILES = sorted(builtin_profiles())
_CANON = re.compile(r"^\s*\d+\s+N\.+\s+(?P<name>[A-Z_]+)\((?P<args>.*)\)\s*$")


def sample_page() -> Page:
    """A 100x80 mm page: a square, a triangle drawn in two touching halves, a dot, a second layer's line."""
    strokes = [
        PageStroke(np.array([[10, 10], [40, 10], [40, 40], [10, 40], [10, 10]], float), 0, 0),
        PageStroke(np.array([[60, 70], [75, 45]], float), 1, 0),
        PageStroke(np.array([[75, 45], [90, 70], [60, 70]], float), 1, 1),
        PageStroke(np.array([[50, 20]], float), 1, 2),
        PageStroke(np.array([[20, 60], [45, 75]], float), 2, 0, "generated"),
    ]
    return Page(100.0, 80.0, "mm", strokes)


def run_rs274(path: Path) -> list[tuple[str, list[float]]]:
    """Interpret a G-code file; a Marlin file gets the M2 program end rs274 requires and Marlin lacks."""
    text = path.read_text()
    if "\nM2\n" not in text:
        path = path.with_suffix(".rs274.ngc")
        path.write_text(text + "M2\n")
    canon = path.with_suffix(".canon")
    proc = subprocess.run([RS274, "-g", str(path), str(canon)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"rs274 rejected {path.name}: {proc.stdout[-400:]} {proc.stderr[-400:]}"
    calls = []
    for line in canon.read_text().splitlines():
        m = _CANON.match(line)
        if m:
            args = [float(a) for a in re.findall(r"-?\d+\.\d+", m.group("args"))]
            calls.append((m.group("name"), args))
    return calls


def pen_down_paths(calls, profile: Profile) -> list[np.ndarray]:
    """The XY polylines the machine draws with the pen down, from rs274's canonical calls."""
    paths, position, down = [], np.zeros(2), False
    for name, args in calls:
        if name in ("STRAIGHT_TRAVERSE", "STRAIGHT_FEED"):
            new_down = down if profile.pen == "command" else args[2] <= profile.z_down + 1e-6
            position = np.array(args[:2])
            if new_down and not down:
                paths.append([position])
            elif new_down:
                paths[-1].append(position)
            down = new_down
        elif profile.pen == "command" and name in ("START_SPINDLE_CLOCKWISE", "STOP_SPINDLE_TURNING"):
            if name == "START_SPINDLE_CLOCKWISE" and not down:
                paths.append([position])
            down = name == "START_SPINDLE_CLOCKWISE"
    return [np.array(p) for p in paths]


@needs_rs274
@pytest.mark.parametrize("name", PROFILES)
def test_rs274_accepts_every_profile_and_draws_exactly_the_page(tmp_path: Path, name: str):
    profile = load_profile(name)
    page = sample_page()
    out = tmp_path / f"{name}.ngc"
    write_gcode(page, out, profile)
    drawn = pen_down_paths(run_rs274(out), profile)
    intended = [to_machine(s.points, page, profile) for s in page.strokes]
    assert len(drawn) == len(intended)
    for got, want in zip(drawn, intended):
        np.testing.assert_allclose(got, want, atol=1e-3)


@needs_rs274
@pytest.mark.parametrize("name", PROFILES)
def test_optimised_dispatch_output_draws_the_same_segments(tmp_path: Path, name: str):
    drawings = [polylines_to_stroke3([s.points for s in sample_page().strokes]), np.array([[5, 5, 0], [30, 0, 1]])]
    out = tmp_path / "grid.gcode"
    report = write_drawings(out, drawings, OutputOptions(profile=name))
    profile = load_profile(name)
    page = machine_page(grid_page(drawings), profile)
    intended = [to_machine(s.points, page, profile) for s in page.strokes]
    drawn = pen_down_paths(run_rs274(out), profile)
    assert _segments(drawn) == _segments(intended)
    assert len(drawn) == len(intended) - 1  # the two touching halves of the triangle are drawn as one stroke
    assert report is None  # write_drawings reports nothing; the travel report comes from write_page


def test_program_starts_and_ends_pen_up_and_parks(tmp_path: Path):
    for name in PROFILES:
        profile = load_profile(name)
        lines = page_to_gcode(sample_page(), profile).splitlines()
        code = [line for line in lines if not line.startswith(";")]
        assert code[:2] == ["G21", "G90"]
        first_motion = next(i for i, line in enumerate(code) if re.match(r"G[01] X", line))
        pen_up = list(profile.pen_up) if profile.pen == "command" else [f"G0 Z{profile.z_up:g}"]
        assert code[first_motion - len(pen_up) - (profile.pen_delay > 0):first_motion][:len(pen_up)] == pen_up
        park = next(i for i in range(len(code) - 1, -1, -1) if re.match(r"G[01] X", code[i]))
        assert re.match(rf"G[01] X{profile.park[0]:g} Y{profile.park[1]:g}\b", code[park])
        assert pen_up[-1] in code[park - 1 - (profile.pen_delay > 0)]


def test_every_g1_has_a_feed_before_it():
    for name in PROFILES:
        code = page_to_gcode(sample_page(), load_profile(name)).splitlines()
        first_g1 = next(line for line in code if line.startswith("G1"))
        assert " F" in first_g1


def test_y_is_flipped_for_bottom_origins_and_x_for_right_origins():
    page = Page(100.0, 80.0, "mm", [PageStroke(np.array([[10.0, 5.0]]))])
    expected = {"bottom-left": (10, 75), "top-left": (10, 5), "bottom-right": (90, 75), "top-right": (90, 5)}
    for origin, xy in expected.items():
        profile = replace(load_profile("grbl-z"), origin=origin)
        assert tuple(to_machine(page.strokes[0].points, page, profile)[0]) == xy
        assert f"G0 X{xy[0]} Y{xy[1]}" in page_to_gcode(page, profile)


def test_paper_larger_than_the_bed_is_refused():
    page = replace(sample_page(), width=230.0)
    with pytest.raises(SketchtoolError, match="larger than the 220x220 mm bed of profile marlin-z"):
        page_to_gcode(page, load_profile("marlin-z"))


def test_a_point_outside_the_bed_is_an_error_and_nothing_is_written(tmp_path: Path):
    page = sample_page()
    page.strokes.append(PageStroke(np.array([[50.0, 40.0], [50.0, -3.0]])))
    out = tmp_path / "bad.gcode"
    with pytest.raises(SketchtoolError, match=r"\(50, -3\) lies outside the 100x80 mm paper"):
        write_gcode(page, out, load_profile("grbl-servo"))
    assert not list(tmp_path.iterdir())


def test_every_emitted_coordinate_lies_inside_the_bed():
    for name in PROFILES:
        profile = load_profile(name)
        text = page_to_gcode(sample_page(), profile)
        xs = [float(v) for v in re.findall(r"\bX(-?[\d.]+)", text)]
        ys = [float(v) for v in re.findall(r"\bY(-?[\d.]+)", text)]
        assert xs and min(xs) >= 0 and max(xs) <= profile.bed_width
        assert ys and min(ys) >= 0 and max(ys) <= profile.bed_height


def test_dwell_is_seconds_for_grbl_and_milliseconds_for_marlin():
    grbl = page_to_gcode(sample_page(), load_profile("grbl-servo"))
    marlin = page_to_gcode(sample_page(), replace(load_profile("marlin-z"), pen_delay=0.25))
    assert "G4 P0.15" in grbl
    assert "G4 P250" in marlin and "M2" not in marlin


def test_px_grid_is_fitted_onto_a4_for_gcode(tmp_path: Path):
    out = tmp_path / "grid.nc"
    drawings = [np.array([[0, 0, 0], [100, 0, 0], [0, 50, 1]])] * 3
    report = write_page(out, grid_page(drawings, cols=3), OutputOptions())
    head = out.read_text().splitlines()[0]
    assert "paper 297x210 mm" in head  # a wide grid goes landscape
    assert report.pen_up_after <= report.pen_up_before


def test_hpgl_is_in_plotter_units_with_y_up_and_pens_per_layer():
    text = page_to_hpgl(sample_page())
    assert text.startswith("IN;\nSP1;\n") and text.endswith("PU0,0;SP0;\n")
    assert "SP2;" in text  # the "generated" layer gets the second pen
    assert f"PU{10 * UNITS_PER_MM},{70 * UNITS_PER_MM};" in text  # page (10, 10) -> y up from the bottom
    coords = np.array([int(v) for v in re.findall(r"-?\d+", text.replace("SP", ""))])
    assert coords.min() >= 0 and coords.max() <= 100 * UNITS_PER_MM


def test_plotter_svg_is_in_mm_with_one_layer_per_pen_and_paths_only(tmp_path: Path):
    out = tmp_path / "plot.svg"
    write_page(out, sample_page(), OutputOptions(optimize=False))
    root = ElementTree.parse(out).getroot()
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("100mm", "80mm", "0 0 100 80")
    ns = "{http://www.w3.org/2000/svg}"
    layers = root.findall(f"{ns}g")
    labels = [g.get("{http://www.inkscape.org/namespaces/inkscape}label") for g in layers]
    assert labels == ["1 ink", "2 generated"]
    assert [len(g.findall(f"{ns}path")) for g in layers] == [4, 1]
    assert {el.tag for el in root.iter()} == {f"{ns}svg", f"{ns}g", f"{ns}path"}


@pytest.mark.parametrize("name, suffix", [("grbl-servo", ".gcode"), ("marlin-z", ".gcode"), (None, ".hpgl"), (None, ".svg")])
def test_reference_outputs(tmp_path: Path, name: str | None, suffix: str):
    """Canonical outputs for a fixed page; rewrite with SKETCHTOOL_UPDATE_REFS=1 and review the diff."""
    out = tmp_path / f"plot{suffix}"
    write_page(out, sample_page(), OutputOptions(profile=name))
    ref = REFS / f"plot-{name or 'default'}{suffix}"
    got = _canonical(out.read_text())
    if UPDATE_REFS:
        REFS.mkdir(parents=True, exist_ok=True)
        ref.write_text(got)
    assert got == _canonical(ref.read_text()), f"{ref.name} differs; if intended, rerun with SKETCHTOOL_UPDATE_REFS=1"


def _canonical(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


def _segments(paths) -> list[tuple]:
    """Undirected segments and dots, rounded to 0.01 mm, sorted: the ink, whatever the order and direction."""
    out = []
    for p in paths:
        p = np.round(np.asarray(p), 2) + 0.0
        if len(p) == 1:
            out.append(tuple(p[0]))
        out.extend(tuple(sorted([tuple(a), tuple(b)])) for a, b in zip(p[:-1], p[1:]))
    return sorted(out, key=repr)


def test_user_profile_inherits_from_a_builtin_and_overrides(tmp_path: Path):
    toml = tmp_path / "mine.toml"
    toml.write_text('base = "grbl-servo"\npen_up = ["M3 S30"]\npen_down = ["M3 S90"]\nbed_width = 120\n'
                    'header = ["G28"]\n')
    profile = load_profile(toml)
    assert (profile.name, profile.pen_up, profile.pen_down, profile.bed_width) == ("mine", ("M3 S30",), ("M3 S90",), 120.0)
    assert profile.draw_feed == load_profile("grbl-servo").draw_feed
    code = page_to_gcode(sample_page(), profile).splitlines()
    assert code[code.index("G90") + 1:code.index("G90") + 3] == ["G28", "M3 S30"]


@pytest.mark.parametrize("body, message", [
    ('bed_widht = 100', "unknown profile key 'bed_widht'"),
    ('draw_feed = "fast"', "draw_feed = 'fast' has the wrong type"),
    ('origin = "middle"', "origin must be one of"),
    ('park = [500, 0]', "park .* outside the 300x300 mm bed"),
    ('pen_up = ["G0 X0 Y0 Z5"]', "moves X or Y"),
    ('base = "nope"', "base = 'nope' is not a built-in"),
    ('pen = "z"\nz_up = 0\nz_down = 1', "z_up must be above z_down"),
    ('draw_feed = [', "not valid TOML"),
    ('pen_down = ["G1 Z0"]', "feed move without F"),
])
def test_bad_user_profiles_are_refused_with_the_reason(tmp_path: Path, body: str, message: str):
    toml = tmp_path / "bad.toml"
    toml.write_text(body + "\n")
    with pytest.raises(SketchtoolError, match=message):
        load_profile(toml)


def test_unknown_profile_name_lists_the_builtins():
    with pytest.raises(SketchtoolError, match="grbl-servo, grbl-z, marlin-z, rs274"):
        load_profile("makerbot")


@needs_rs274
def test_a_pen_line_with_its_own_feed_makes_the_next_draw_move_restate_f(tmp_path: Path):
    toml = tmp_path / "slow_plunge.toml"
    toml.write_text('base = "rs274"\npen = "command"\npen_up = ["G0 Z3"]\npen_down = ["G1 Z-0.5 F200"]\n')
    out = tmp_path / "plunge.ngc"
    write_gcode(sample_page(), out, load_profile(toml))
    run_rs274(out)
    code = out.read_text().splitlines()
    after_plunge = [code[i + 1] for i, line in enumerate(code) if line == "G1 Z-0.5 F200" and code[i + 1].startswith("G1")]
    assert after_plunge and all(line.endswith(" F1500") for line in after_plunge)
