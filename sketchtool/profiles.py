"""Machine profiles for G-code output: built-in TOML files in sketchtool/profiles/ and user TOML files,
validated into one `Profile` (bed, origin corner, pen commands, feeds, dwell unit, header/footer)."""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from sketchtool.errors import SketchtoolError
from sketchtool.fileio import check_regular_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

__all__ = ["Profile", "ORIGINS", "DEFAULT_PROFILE", "FEED_WORD", "builtin_profiles", "load_profile",
           "check_line"]

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "grbl-servo"
ORIGINS = ("bottom-left", "top-left", "bottom-right", "top-right")
FEED_WORD = re.compile(r"(?<![A-Z])F\s*[+.\d]", re.IGNORECASE)
# every number a profile holds or writes: finite and within these (mm, mm/min, s); the lower feed bound keeps
# the 3-decimal F from rounding to F0, the Z bound keeps a typo from driving the pen through the bed
_LIMITS = {
    "bed": (1.0, 10_000.0), "z": (-100.0, 100.0), "feed": (1.0, 100_000.0), "pen_delay": (0.0, 60.0),
    "spindle": (0.0, 100_000.0), "dwell_s": (0.0, 3600.0), "line_number": (0.0, 99_999.0),
}
_REQUIRED = ("bed_width", "bed_height")  # no default bed: a wrong guess lets the bed check pass wrongly

# The allow-list for user lines (header, footer, pen_up, pen_down). Nothing here moves X or Y or changes
# units, offsets, distance mode or feed mode, so the bed check and our G21 G90 keep holding after the line.
# mm, absolute, feed per minute, XY plane, no cutter compensation, exact path, no canned cycle; G0/G1 (Z only), G4
_G_ALLOWED = {21, 90, 94, 17, 40, 61, 80, 0, 1, 4}
# pauses, spindle/servo PWM, coolant outputs (solenoid pens), motors on; Marlin fan, servo, wait; M300 servo forks
_M_ALLOWED = {0, 1, 3, 4, 5, 7, 8, 9, 17, 106, 107, 280, 400, 300}
_M_FOOTER_ONLY = {2: "ends the program", 30: "ends the program", 18: "turns the motors off", 84: "turns the motors off"}
_G_REFUSED = {  # why the usual suspects are refused; anything else not allowed is refused too
    20: "switches to inches", 91: "switches to relative moves", 92: "shifts the coordinates",
    **{g: "selects another work offset" for g in (54, 55, 56, 57, 58, 59, 59.1, 59.2, 59.3)},
    10: "sets coordinate offsets", 43: "changes the tool length offset", 49: "changes the tool length offset",
    52: "shifts the coordinates", 28: "moves to a stored machine position", 30: "moves to a stored machine position",
    53: "moves in machine coordinates", 2: "draws an arc in XY", 3: "draws an arc in XY",
    41: "offsets the XY path", 42: "offsets the XY path", 93: "changes the feed mode", 95: "changes the feed mode",
    38.2: "probes",
}
_LETTER_REFUSED = {
    **{a: "moves X or Y where the bed check cannot follow" for a in "XY"},
    **{a: "moves an axis the bed check cannot follow" for a in "ABCUVWIJKRE"},
    "T": "selects a tool (a tool change may move the machine)", "O": "calls or defines a subprogram",
    "L": "is an offset/loop word", "Q": "is a cycle word", "H": "selects a tool offset", "D": "selects a tool offset",
}
_COMMENT = re.compile(r"\([^()]*\)")
_WORD = re.compile(r"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))(?![\d.]|E[-+\d])")  # 1e6 is no G-code number


@dataclass(frozen=True)
class Profile:
    """One machine. Lengths in mm, feeds in mm/min, `pen_delay` in seconds (written as G4 P in
    `dwell_unit`: "s" for GRBL/LinuxCNC, "ms" for Marlin). `origin` is the bed corner where X=0, Y=0
    lies, seen from above with the paper in portrait; X and Y grow away from it. `pen` is "command"
    (`pen_up`/`pen_down` lines, e.g. M3 S1000 / M5) or "z" (G0 Z`z_up` / G0 Z`z_down`).
    `travel_feed` 0 means rapid G0. The bed has no default: every profile file states it."""

    name: str
    bed_width: float
    bed_height: float
    description: str = ""
    origin: str = "bottom-left"
    park: tuple[float, float] = (0.0, 0.0)
    pen: str = "command"
    pen_up: tuple[str, ...] = ("M5",)
    pen_down: tuple[str, ...] = ("M3 S1000",)
    z_up: float = 5.0
    z_down: float = 0.0
    pen_delay: float = 0.0
    dwell_unit: str = "s"
    draw_feed: float = 3000.0
    travel_feed: float = 0.0
    header: tuple[str, ...] = field(default_factory=tuple)
    footer: tuple[str, ...] = field(default_factory=tuple)


def builtin_profiles() -> dict[str, Path]:
    """Name -> TOML path of every profile shipped with sketchtool."""
    return {p.stem: p for p in sorted(PROFILE_DIR.glob("*.toml"))}


def load_profile(name_or_path: str | os.PathLike | None = None) -> Profile:
    """A built-in profile by name, or a user TOML file (which may start from a built-in with
    `base = "grbl-servo"` and override only some keys). None gives the default profile."""
    ref = str(name_or_path or DEFAULT_PROFILE)
    builtins = builtin_profiles()
    if ref in builtins:
        return _from_table(ref, _read_toml(builtins[ref]), source=ref)
    path = Path(ref)
    if not path.exists():
        raise SketchtoolError(f"{ref}: no such profile; use one of {', '.join(builtins)} or a .toml file")
    check_regular_file(path)
    table = _read_toml(path)
    base = table.pop("base", None)
    if base is not None:
        if base not in builtins:
            raise SketchtoolError(f"{path}: base = {base!r} is not a built-in profile; use one of {', '.join(builtins)}")
        table = {**_read_toml(builtins[base]), **table}
    return _from_table(path.stem, table, source=str(path))


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SketchtoolError(f"{path}: not valid TOML ({e}); fix the file") from None
    except OSError as e:
        raise SketchtoolError(f"{path}: cannot read profile ({e.strerror})") from None


def _from_table(name: str, table: dict, *, source: str) -> Profile:
    known = {f.name for f in fields(Profile)}
    values: dict = {"name": _coerce(source, "name", table.pop("name", name))}
    for key, value in table.items():
        if key not in known or key == "name":
            raise SketchtoolError(f"{source}: unknown profile key {key!r}; known keys: {', '.join(sorted(known))}")
        values[key] = _coerce(source, key, value)
    missing = [key for key in _REQUIRED if key not in values]
    if missing:
        raise SketchtoolError(f"{source}: invalid profile: {' and '.join(missing)} missing; state your machine's "
                              'bed in mm (or start from a built-in with base = "...")')
    profile = Profile(**values)
    _validate(profile, source)
    return profile


def _coerce(source: str, key: str, value):
    """Check a TOML value against the field's type: text, a number, the park point or a list of lines."""
    kind = Profile.__dataclass_fields__[key].type
    number = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    result = None
    if kind == "str":
        result = value if isinstance(value, str) else None
    elif kind == "float" and number(value):
        result = _finite(source, key, value)
    elif key == "park" and isinstance(value, list) and len(value) == 2 and all(map(number, value)):
        result = tuple(_finite(source, key, v) for v in value)
    elif kind == "tuple[str, ...]" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        result = tuple(v.strip() for v in value)
    if result is None:
        raise SketchtoolError(f"{source}: {key} = {value!r} has the wrong type; see docs/plotting.md")
    return result


def _finite(source: str, key: str, value: int | float) -> float:
    try:
        number = float(value)
    except OverflowError:  # a TOML integer beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise SketchtoolError(f"{source}: invalid profile: {key} = {value!r} is not a finite number")
    return number


def _validate(p: Profile, source: str) -> None:
    problems = [f"{key} = {value!r} must lie within {lo:g}..{hi:g}" for key, value, (lo, hi) in (
        ("bed_width", p.bed_width, _LIMITS["bed"]), ("bed_height", p.bed_height, _LIMITS["bed"]),
        ("z_up", p.z_up, _LIMITS["z"]), ("z_down", p.z_down, _LIMITS["z"]),
        ("draw_feed", p.draw_feed, _LIMITS["feed"]), ("pen_delay", p.pen_delay, _LIMITS["pen_delay"]),
    ) if not lo <= value <= hi]
    if p.travel_feed != 0 and not _LIMITS["feed"][0] <= p.travel_feed <= _LIMITS["feed"][1]:
        problems.append(f"travel_feed = {p.travel_feed!r} must be 0 (rapid) or within {_LIMITS['feed'][0]:g}.."
                        f"{_LIMITS['feed'][1]:g}")
    for key in ("name", "description"):
        if not getattr(p, key).isprintable():
            problems.append(f"{key} {getattr(p, key)!r} holds a control character (it is written into comments)")
    if p.origin not in ORIGINS:
        problems.append(f"origin must be one of {', '.join(ORIGINS)}")
    if not (0 <= p.park[0] <= p.bed_width and 0 <= p.park[1] <= p.bed_height):
        problems.append(f"park {list(p.park)} lies outside the {p.bed_width:g}x{p.bed_height:g} mm bed")
    if p.pen not in ("command", "z"):
        problems.append('pen must be "command" or "z"')
    if p.pen == "command" and not (p.pen_up and p.pen_down):
        problems.append("pen_up and pen_down need at least one line each")
    if p.pen == "z" and not round(p.z_up, 3) > round(p.z_down, 3):  # as written, to 0.001 mm
        problems.append("z_up must be above z_down")
    if p.dwell_unit not in ("s", "ms"):
        problems.append('dwell_unit must be "s" or "ms"')
    if problems:
        raise SketchtoolError(f"{source}: invalid profile: {problems[0]}")
    for key in ("header", "footer", "pen_up", "pen_down"):
        for line in getattr(p, key):
            reason = check_line(line, footer=key == "footer", dwell_unit=p.dwell_unit)
            if reason:
                raise SketchtoolError(f"{source}: invalid profile: {key} line {line!r}: {reason}; "
                                      "see docs/plotting.md for the words a profile may use")


def check_line(line: str, *, footer: bool = False, dwell_unit: str = "s") -> str | None:
    """Why a profile's G-code line is refused, or None if every word is on the allow-list (comments are
    free). The words are parsed, not searched for, so an unknown word is refused rather than passed on."""
    if not line.isascii() or not line.isprintable():
        return "it holds a control or non-ASCII character"
    raw = _COMMENT.sub(" ", line.split(";", 1)[0])
    if "(" in raw or ")" in raw:
        return "a comment is not closed (or is nested)"
    words, pos, unparsed = [], 0, None
    while pos < len(raw):
        if raw[pos].isspace():
            pos += 1
            continue
        m = _WORD.match(raw.upper(), pos)
        if not m:
            unparsed = raw[pos:].split()[0]
            break
        words.append((m.group(1), float(m.group(2)), raw[m.start():m.end()].replace(" ", "")))
        pos = m.end()
    g = {value for letter, value, _ in words if letter == "G"}
    m_codes = {value for letter, value, _ in words if letter == "M"}
    for letter, value, text in words:
        reason = _word_problem(letter, value, g, m_codes, footer, dwell_unit)
        if reason:
            return f"{text} {reason}"
    if unparsed:
        return f"{unparsed} is not a plain letter-and-number word (no expressions, parameters, # or $ commands)"
    if 1 in g and "Z" in {w[0] for w in words} and "F" not in {w[0] for w in words}:
        return "G1 is a feed move without F (an error before any F); add one, e.g. F300"
    if 4 in g and "P" not in {w[0] for w in words}:
        return "G4 needs a P (the dwell time)"
    return None


def _word_problem(letter: str, value: float, g: set, m_codes: set, footer: bool, dwell_unit: str) -> str | None:
    def outside(limit: str, scale: float = 1.0) -> str | None:
        lo, hi = _LIMITS[limit]
        return None if lo * scale <= value <= hi * scale else f"lies outside {lo * scale:g}..{hi * scale:g}"

    if letter == "G":
        if value in _G_ALLOWED:
            return None
        return _G_REFUSED.get(value, "is not on the allow-list")
    if letter == "M":
        if value in _M_ALLOWED:
            return None
        if value in _M_FOOTER_ONLY:
            return None if footer else f"{_M_FOOTER_ONLY[value]}; it may only be in the footer"
        return {6: "changes the tool (it may move the machine)", 98: "calls a subprogram",
                99: "returns from a subprogram"}.get(value, "is not on the allow-list")
    if letter == "Z":
        return outside("z") if g & {0, 1} else "is only allowed with G0 or G1 (pen up/down on the Z axis)"
    if letter == "F":
        return outside("feed")
    if letter == "S":
        return outside("spindle")
    if letter == "P":
        if 4 in g:
            return outside("dwell_s", 1000.0 if dwell_unit == "ms" else 1.0)
        return outside("spindle") if m_codes & {280, 300} else "is only allowed with G4, M280 or M300"
    if letter == "N":
        return outside("line_number")
    return _LETTER_REFUSED.get(letter, "is not on the allow-list")
