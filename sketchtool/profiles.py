"""Machine profiles for G-code output: built-in TOML files in sketchtool/profiles/ and user TOML files,
validated into one `Profile` (bed, origin corner, pen commands, feeds, dwell unit, header/footer)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path

from sketchtool.errors import SketchtoolError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10
    import tomli as tomllib

__all__ = ["Profile", "ORIGINS", "DEFAULT_PROFILE", "FEED_WORD", "builtin_profiles", "load_profile"]

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "grbl-servo"
ORIGINS = ("bottom-left", "top-left", "bottom-right", "top-right")
# an X or Y word in a user line would move the machine where our bed check cannot see
_AXIS_WORD = re.compile(r"(?<![A-Z])[XY]\s*[-+.\d]", re.IGNORECASE)
_FEED_MOVE = re.compile(r"(?<![A-Z])G0*[123](?!\d)", re.IGNORECASE)  # G1-G3 need a feed rate
FEED_WORD = re.compile(r"(?<![A-Z])F\s*[+.\d]", re.IGNORECASE)


@dataclass(frozen=True)
class Profile:
    """One machine. Lengths in mm, feeds in mm/min, `pen_delay` in seconds (written as G4 P in
    `dwell_unit`: "s" for GRBL/LinuxCNC, "ms" for Marlin). `origin` is the bed corner where X=0, Y=0
    lies, seen from above with the paper in portrait; X and Y grow away from it. `pen` is "command"
    (`pen_up`/`pen_down` lines, e.g. M3 S1000 / M5) or "z" (G0 Z`z_up` / G0 Z`z_down`).
    `travel_feed` 0 means rapid G0 travel."""

    name: str
    description: str = ""
    bed_width: float = 300.0
    bed_height: float = 300.0
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
    if not path.is_file():
        raise SketchtoolError(f"{ref}: no such profile; use one of {', '.join(builtins)} or a .toml file")
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
    except tomllib.TOMLDecodeError as e:
        raise SketchtoolError(f"{path}: not valid TOML ({e}); fix the file") from None
    except OSError as e:
        raise SketchtoolError(f"{path}: cannot read profile ({e.strerror})") from None


def _from_table(name: str, table: dict, *, source: str) -> Profile:
    known = {f.name: f for f in fields(Profile)}
    values: dict = {"name": str(table.pop("name", name))}
    for key, value in table.items():
        if key not in known or key == "name":
            raise SketchtoolError(f"{source}: unknown profile key {key!r}; known keys: {', '.join(sorted(known))}")
        values[key] = _coerce(source, key, value, Profile.__dataclass_fields__[key].default)
    profile = Profile(**values)
    _validate(profile, source)
    return profile


def _coerce(source: str, key: str, value, default):
    """Check a TOML value against the type of the field's default."""
    if isinstance(default, str):
        ok = isinstance(value, str)
        result = value
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        result = float(value) if ok else None
    elif key == "park":
        ok = isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
        result = tuple(float(v) for v in value) if ok else None
    else:  # lists of G-code lines
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        result = tuple(v.strip() for v in value) if ok else None
    if not ok:
        raise SketchtoolError(f"{source}: {key} = {value!r} has the wrong type; see docs/plotting.md")
    return result


def _validate(p: Profile, source: str) -> None:
    problems = []
    if p.bed_width <= 0 or p.bed_height <= 0:
        problems.append("bed_width and bed_height must be positive")
    if p.origin not in ORIGINS:
        problems.append(f"origin must be one of {', '.join(ORIGINS)}")
    if not (0 <= p.park[0] <= p.bed_width and 0 <= p.park[1] <= p.bed_height):
        problems.append(f"park {list(p.park)} lies outside the {p.bed_width:g}x{p.bed_height:g} mm bed")
    if p.pen not in ("command", "z"):
        problems.append('pen must be "command" or "z"')
    if p.pen == "command" and not (p.pen_up and p.pen_down):
        problems.append("pen_up and pen_down need at least one line each")
    if p.pen == "z" and p.z_up <= p.z_down:
        problems.append("z_up must be above z_down")
    if p.draw_feed <= 0 or p.travel_feed < 0 or p.pen_delay < 0:
        problems.append("draw_feed must be positive, travel_feed and pen_delay not negative")
    if p.dwell_unit not in ("s", "ms"):
        problems.append('dwell_unit must be "s" or "ms"')
    for line in (*p.pen_up, *p.pen_down, *p.header, *p.footer):
        code = line.split(";")[0]
        if _AXIS_WORD.search(code):
            problems.append(f"line {line!r} moves X or Y, which the bed check cannot follow; remove it")
        if _FEED_MOVE.search(code) and not FEED_WORD.search(code):
            problems.append(f"line {line!r} is a feed move without F (an error before any F); add one, e.g. F300")
    if problems:
        raise SketchtoolError(f"{source}: invalid profile: {problems[0]}")
