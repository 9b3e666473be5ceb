"""G-code, HP-GL and plotter SVG output: accepted by LinuxCNC's RS-274/NGC interpreter for every profile, with
the pen-down path it reports equal to the intended polylines; bed limits, pen state, Y flip, reference files."""

from __future__ import annotations

import math
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
from sketchtool.profiles import Profile, builtin_profiles, check_line, load_profile
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


def test_a_non_finite_point_is_outside_the_paper_and_nothing_is_written(tmp_path: Path):
    page = sample_page()
    page.strokes.append(PageStroke(np.array([[50.0, 40.0], [np.nan, 3.0]])))
    with pytest.raises(SketchtoolError, match=r"\(nan, 3\) lies outside the 100x80 mm paper"):
        write_gcode(page, tmp_path / "nan.gcode", load_profile("grbl-servo"))
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


@pytest.mark.filterwarnings("error")
def test_hpgl_refuses_non_finite_points_without_a_cast_warning():
    page = sample_page()
    page.strokes.append(PageStroke(np.array([[50.0, 40.0], [np.inf, 3.0]])))
    with pytest.raises(SketchtoolError, match="leaves the 100x80 mm paper"):
        page_to_hpgl(page)


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
                    'header = ["G17 G94 (plane, feed per minute)"]\n')
    profile = load_profile(toml)
    assert (profile.name, profile.pen_up, profile.pen_down, profile.bed_width) == ("mine", ("M3 S30",), ("M3 S90",), 120.0)
    assert profile.draw_feed == load_profile("grbl-servo").draw_feed
    code = page_to_gcode(sample_page(), profile).splitlines()
    assert code[code.index("G90") + 1:code.index("G90") + 3] == ["G17 G94 (plane, feed per minute)", "M3 S30"]


BED = "bed_width = 300\nbed_height = 300\n"


@pytest.mark.parametrize("body, message", [
    ('bed_widht = 100', "unknown profile key 'bed_widht'"),
    ('draw_feed = "fast"', "draw_feed = 'fast' has the wrong type"),
    (BED + 'origin = "middle"', "origin must be one of"),
    (BED + 'park = [500, 0]', "park .* outside the 300x300 mm bed"),
    (BED + 'pen_up = ["G0 X0 Y0 Z5"]', "pen_up line 'G0 X0 Y0 Z5': X0 moves X or Y"),
    ('base = "nope"', "base = 'nope' is not a built-in"),
    (BED + 'pen = "z"\nz_up = 0\nz_down = 1', "z_up must be above z_down"),
    ('draw_feed = [', "not valid TOML"),
    ('description = "caf\xe9"', "not valid TOML"),  # Latin-1, not UTF-8: was an internal error
    (BED + 'pen_down = ["G1 Z0"]', "feed move without F"),
])
def test_bad_user_profiles_are_refused_with_the_reason(tmp_path: Path, body: str, message: str):
    toml = tmp_path / "bad.toml"
    toml.write_bytes((body + "\n").encode("latin-1"))
    with pytest.raises(SketchtoolError, match=message):
        load_profile(toml)


# Profiles whose lines or numbers would let the machine leave the bed (or misread every coordinate) while the
# bed check passes: (TOML body after `base = "rs274"`, the word the refusal names)
HOSTILE_PROFILES = [
    ('header = ["G91"]', "G91 switches to relative moves"),
    ('header = ["G20"]', "G20 switches to inches"),
    ('header = ["G92 X-50 Y0"]', "G92 shifts the coordinates"),
    ('header = ["G55"]', "G55 selects another work offset"),
    ('header = ["G59.3"]', "G59.3 selects another work offset"),
    ('header = ["G28"]', "G28 moves to a stored machine position"),
    ('footer = ["G53 G0 Z0"]', "G53 moves in machine coordinates"),
    ('header = ["G10 L2 P1 X50"]', "G10 sets coordinate offsets"),
    ('header = ["G0 X[500*3]"]', r"X\[500\*3\] is not a plain letter-and-number word"),
    ('header = ["#1=1500"]', "#1=1500 is not a plain"),
    ('header = ["G0 Z5 X#1"]', "X#1 is not a plain"),
    ('header = ["O100 call"]', "O100 calls or defines a subprogram"),
    ('header = ["M98 P100"]', "M98 calls a subprogram"),
    ('header = ["M6 T2"]', "M6 changes the tool"),
    ('header = ["$H"]', r"\$H is not a plain"),
    ('header = ["M5\\nG91"]', "control or non-ASCII character"),
    ('header = ["G0 Z5 (open"]', "comment is not closed"),
    ('header = ["M2"]', "M2 ends the program; it may only be in the footer"),
    ('pen = "command"\npen_up = ["G0 Z5 Y10"]\npen_down = ["M3 S1000"]', "Y10 moves X or Y"),
    ('pen = "command"\npen_up = ["M5"]\npen_down = ["G1 Z-1e6 F100"]', "Z-1e6 is not a plain"),
    ('pen = "command"\npen_up = ["M5"]\npen_down = ["G1 Z-500 F100"]', "Z-500 lies outside -100..100"),
    ('header = ["G4 P99999"]', "P99999 lies outside 0..3600"),
    ('header = ["G1 Z2 F1e300"]', "F1e300 is not a plain"),
    ('draw_feed = nan', "draw_feed = nan is not a finite number"),
    ('draw_feed = inf', "draw_feed = inf is not a finite number"),
    ('draw_feed = 1e300', "draw_feed = 1e.300 must lie within 1..100000"),
    ('draw_feed = 0.0001', "draw_feed = 0.0001 must lie within 1..100000"),
    ('travel_feed = 0.5', "travel_feed = 0.5 must be 0 .rapid. or within 1..100000"),
    ('z_up = nan', "z_up = nan is not a finite number"),
    ('z_down = -1e6', r"z_down = -1000000.0 must lie within -100..100"),
    ('z_up = 0.0004', "z_up must be above z_down"),
    ('pen_delay = 1e9', "pen_delay = 1000000000.0 must lie within 0..60"),
    ('bed_width = 1e300', "bed_width = 1e.300 must lie within 1..10000"),
    ('bed_width = 99999999999999999999999', "bed_width = 1e.23 must lie within"),
    ('name = "x\\nG91"', "name 'x.nG91' holds a control character"),
]


@pytest.mark.parametrize("body, message", HOSTILE_PROFILES, ids=[b for b, _ in HOSTILE_PROFILES])
def test_lines_and_numbers_that_could_leave_the_bed_are_refused_naming_file_line_and_word(
        tmp_path: Path, body: str, message: str):
    toml = tmp_path / "hostile.toml"
    toml.write_text(f'base = "rs274"\n{body}\n')
    with pytest.raises(SketchtoolError) as error:
        load_profile(toml)
    text = str(error.value)
    assert text.startswith(f"{toml}: invalid profile: ") and "\n" not in text
    assert re.search(message, text), text


def test_a_profile_file_must_state_its_bed(tmp_path: Path):
    toml = tmp_path / "nobed.toml"
    toml.write_text('pen = "z"\nbed_width = 200\n')
    with pytest.raises(SketchtoolError, match="nobed.toml: invalid profile: bed_height missing"):
        load_profile(toml)
    toml.write_text('base = "marlin-z"\n')  # a base states it
    assert load_profile(toml).bed_width == 220


# every allow-listed RS-274 word in the places a profile can put it (the Marlin-only M codes are not RS-274)
ALLOWED = {
    "header": ["N10 G17 G21 G40 G61 G80 G90 G94 (setup)", "G0 Z3 ; clear the paper", "G1 Z2 F500", "M7", "M9",
               "G4 P0.5", "M1"],
    "pen_up": ["G0 Z4", "M5"],
    "pen_down": ["S300 M3", "G1 Z-0.2 F400", "G4 P0"],
    "footer": ["M5", "M9", "G0 Z10", "M2"],
}


def test_every_allowed_word_passes_the_python_check():
    for key, lines in ALLOWED.items():
        for line in lines:
            assert check_line(line, footer=key == "footer") is None, line
    for line in ["M17", "M106 S255", "M107", "M280 P0 S90", "M300 S30", "M300 S50 P200", "M400"]:
        assert check_line(line) is None, line
    for line in ["M84", "M18", "M30"]:
        assert check_line(line, footer=True) is None and "only be in the footer" in check_line(line), line


@needs_rs274
def test_rs274_draws_exactly_the_page_with_every_allowed_word(tmp_path: Path):
    toml = tmp_path / "allowed.toml"
    body = "\n".join(f"{key} = {lines!r}".replace("'", '"') for key, lines in ALLOWED.items())
    toml.write_text(f'base = "rs274"\npen = "command"\n{body}\n')
    profile = load_profile(toml)
    out = tmp_path / "allowed.ngc"
    write_gcode(sample_page(), out, profile)
    drawn = pen_down_paths(run_rs274(out), replace(profile, pen="z", z_down=-0.2))
    intended = [to_machine(s.points, sample_page(), profile) for s in sample_page().strokes]
    assert len(drawn) == len(intended)
    for got, want in zip(drawn, intended):
        np.testing.assert_allclose(got, want, atol=1e-3)


# The would-be programs of hostile profiles, written without the profile check: LinuxCNC refuses them or draws
# something other than the page (off the bed, shifted, scaled). G55, G28, G53 and the firmware-only words are
# left out: with rs274's empty offsets and no machine, their harm does not show in its output.
WOULD_BE = [
    ({"header": ("G91",)}, "not the page"),
    ({"header": ("G20",)}, "inches"),
    ({"header": ("G92 X-50 Y0",)}, "off the bed"),
    ({"header": ("G0 X[500*3]",)}, "off the bed"),
    ({"header": ("#1=1500", "G0 Z5 X#1")}, "off the bed"),
    ({"draw_feed": math.nan}, "refused"),
    ({"z_up": math.nan}, "refused"),
]


@needs_rs274
@pytest.mark.parametrize("overrides, harm", WOULD_BE, ids=[repr(o) for o, _ in WOULD_BE])
def test_rs274_shows_the_hostile_profiles_would_not_draw_the_page(tmp_path: Path, overrides: dict, harm: str):
    profile = replace(load_profile("rs274"), **overrides)  # bypasses the profile check on purpose
    out = tmp_path / "hostile.ngc"
    out.write_text(page_to_gcode(sample_page(), profile))
    if harm == "refused":
        with pytest.raises(AssertionError, match="rs274 rejected"):
            run_rs274(out)
        return
    calls = run_rs274(out)
    xy = np.array([args[:2] for name, args in calls if name in ("STRAIGHT_TRAVERSE", "STRAIGHT_FEED")])
    drawn = pen_down_paths(calls, profile)
    intended = [to_machine(s.points, sample_page(), profile) for s in sample_page().strokes]
    found = {
        "inches": "CANON_UNITS_INCHES" in out.with_suffix(".canon").read_text(),
        "off the bed": bool((xy < 0).any() or (xy > [profile.bed_width, profile.bed_height]).any()),
        "not the page": len(drawn) != len(intended) or not all(
            g.shape == w.shape and np.allclose(g, w, atol=1e-3) for g, w in zip(drawn, intended)),
    }
    assert found[harm], found


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
