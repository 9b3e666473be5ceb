"""Option types shared by the commands. Bounded numbers: a value that is not a number, not finite or out of range
is refused while the command line is read, as one `Error:` line and exit 1, before any model loads or any file is
written. `--common-scale`, the picture options and `--force` shared by commands that write grids; refusing options
the output cannot show instead of ignoring them; the one `--precision` vocabulary (auto, fp32, bf16; float32 and
bfloat16 read as the same words)."""

from __future__ import annotations

import math
import os

import click

from sketchtool.device import PRECISIONS, normalize_precision
from sketchtool.errors import SketchtoolError

__all__ = ["Number", "SEED", "COUNT", "STEPS", "STROKE_WIDTH", "DPI", "PNG_WIDTH", "COMMON_SCALE", "picture_options",
           "FORCE", "picture_look", "given_options", "refuse_unseen_look", "PRECISION", "MAX_DRAWINGS", "MAX_STEPS", "MAX_DPI",
           "MAX_PNG_SIDE"]

MAX_DRAWINGS = 100_000  # generate to .npz: 186 s, 0.95 GB peak RSS on one busy core; 10 million ran for hours
MAX_STEPS = 1_000       # drawings per interpolated pair
MAX_DPI = 10_000.0
MAX_PNG_SIDE = 32_767   # = sketchtool.formats.png.MAX_SIDE, cairo's largest surface side (not imported: light CLI)
MAX_SEED = 2**64 - 1    # torch.Generator.manual_seed's largest


class Number(click.ParamType):
    """An int or float in [low, high] (`low_open`: strictly above `low`); floats must be finite."""

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, *, low_open: bool = False):
        self.kind, self.low, self.high, self.low_open = kind, low, high, low_open
        self.name = "integer" if kind is int else "number"

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a finite number"
        low, high = (None if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,g}" for v in (self.low, self.high))
        if low is not None and high is not None and not self.low_open:
            return f"{what} from {low} to {high}"
        parts = [f"{'>' if self.low_open else '>='} {low}" if low is not None else "", f"<= {high}" if high else ""]
        return f"{what} " + " and ".join(p for p in parts if p)

    def convert(self, value, param, ctx):
        option = param.opts[-1] if param is not None and param.opts else "value"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise click.ClickException(f"{option} {value!r}: must be {self.describe()}")
        try:
            number = self.kind(value)
        except (TypeError, ValueError, OverflowError):
            raise click.ClickException(f"{option} {value}: must be {self.describe()}") from None
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and number > self.high
        if (self.kind is float and not math.isfinite(number)) or too_low or too_high:
            raise click.ClickException(f"{option} {value}: must be {self.describe()}")
        return number


SEED = Number(int, 0, MAX_SEED)
COUNT = Number(int, 1, MAX_DRAWINGS)
STEPS = Number(int, 2, MAX_STEPS)
STROKE_WIDTH = Number(float, 0, low_open=True)
DPI = Number(float, 0, MAX_DPI, low_open=True)
PNG_WIDTH = Number(int, 1, MAX_PNG_SIDE)
COMMON_SCALE = click.option("--common-scale", is_flag=True,
                            help="Grids: draw every drawing at one scale, to compare sizes [default: each fills "
                                 "its cell].")
_PICTURE = [
    click.option("--stroke-width", type=STROKE_WIDTH, default=None, help="Stroke width in output units (> 0)."),
    click.option("--size", "png_width", type=PNG_WIDTH, default=None,
                 help=f"PNG width in pixels, 1 to {MAX_PNG_SIDE:,} (a PNG holds at most 100 million pixels)."),
    click.option("--dpi", type=DPI, default=96.0, show_default=True,
                 help="PNG resolution without --size (96: one pixel per px of the grid), > 0 and <= 10,000."),
]


def picture_options(command):
    """--stroke-width, --size and --dpi: how a grid of drawings looks, in `show` as in `generate` and its kin."""
    for option in reversed(_PICTURE):
        command = option(command)
    return command


FORCE = click.option("--force", is_flag=True, help="Overwrite an existing output file.")


def picture_look(*, stroke_width: float | None, png_width: int | None, dpi: float, **fields):
    """The writer options of `picture_options` and the grid's own fields (cols, colour_by_order, ...); the
    writers' stroke width stays unless --stroke-width was given."""
    from sketchtool.formats import OutputOptions

    options = OutputOptions(png_width=png_width, dpi=dpi, **fields)
    if stroke_width is not None:
        options.stroke_width = stroke_width
    return options


def refuse_unseen_look(*outs, images: bool = False) -> None:
    """Refuse look options no output can show (they were ignored without a word): --size and --dpi outside a
    PNG or GIF, grid and stroke looks in an .npz, colour and width on a plotter, stroke looks on images. An
    option one of `outs` shows (--size for generate's --frames GIF beside an .npz) is kept."""
    from sketchtool.plot import GCODE_SUFFIXES

    def unseen_in(suffix: str) -> set:
        unseen = set() if suffix in (".png", ".gif") else {"png_width", "dpi"}
        if suffix == ".npz":
            unseen |= {"cols", "colour_by_order", "stroke_width", "common_scale"}
        elif suffix in (*GCODE_SUFFIXES, ".hpgl"):
            unseen |= {"colour_by_order", "stroke_width"}
        return unseen

    suffixes = [os.path.splitext(str(out))[1].lower() for out in outs]
    unseen = set.intersection(*map(unseen_in, suffixes))
    if images:
        unseen |= {"colour_by_order", "stroke_width", "common_scale"}
    given = given_options(*unseen)
    if given:
        raise SketchtoolError(f"{', '.join(given)}: no effect on {'images written as ' if images else ''}"
                              f"{' or '.join(suffixes)} output; drop it")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 drawing", "3 drawings": what a command wrote, in words."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def given_options(*names: str) -> list[str]:
    """The flags of the named parameters that the command line set (not their defaults), for refusing options
    that cannot apply instead of ignoring them."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return [param.opts[0] for param in ctx.command.params
            if param.name in names and ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE]


class _Precision(click.ParamType):
    name = "|".join(PRECISIONS)

    def convert(self, value, param, ctx):
        try:
            return normalize_precision(value)
        except SketchtoolError:
            self.fail(f"{value!r} is not one of {', '.join(PRECISIONS)}", param, ctx)


PRECISION = _Precision()
