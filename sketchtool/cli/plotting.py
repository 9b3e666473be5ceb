"""`sketchtool plot`: drawings laid out on paper as G-code, plotter SVG or HP-GL (see docs/plotting.md)."""

from __future__ import annotations

import click

from sketchtool.cli.options import counted

__all__ = ["COMMANDS", "plot"]


def _list_profiles(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from sketchtool.profiles import builtin_profiles, load_profile

    for name in builtin_profiles():
        profile = load_profile(name)
        click.echo(f"{name:12s} bed {profile.bed_width:g}x{profile.bed_height:g} mm  {profile.description}")
    ctx.exit()


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="Output: .gcode/.nc/.ngc (G-code), .svg (plotter SVG in mm) or .hpgl.")
@click.option("--paper", default="A4", show_default=True, help="A6, A5, A4, A3, letter, legal, or WxH like 200x150mm, 8.5x11in.")
@click.option("--landscape", is_flag=True, help="Long side horizontal.")
@click.option("--margin", default="10mm", show_default=True, help="Blank border on every side (mm, cm, in, px).")
@click.option("--fit", "fit", is_flag=True, help="Scale the drawings to fill the margins (the default).")
@click.option("--scale", type=float, default=None, help="Natural size times K (one drawing unit = 1/96 in); "
              "an error if it does not fit.")
@click.option("--cols", type=int, default=None, help="Grid columns (default: whatever fills the paper best).")
@click.option("--profile", default=None, help="Machine profile: grbl-servo (default), grbl-z, marlin-z, rs274, "
              "or a TOML file.")
@click.option("--list-profiles", is_flag=True, expose_value=False, is_eager=True, callback=_list_profiles,
              help="Show the built-in machine profiles and exit.")
@click.option("--optimize/--no-optimize", default=True, show_default=True,
              help="Reorder, reverse and merge strokes to cut pen-up travel.")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def plot(inputs, out, paper, landscape, margin, fit, scale, cols, profile, optimize, force):
    """Lay out drawings on paper for a pen plotter.

    INPUT is an SVG file (kept at its own geometry), a stroke-3 .npz, or DATASET.npz:split[:index].

    \b
    Examples:
      sketchtool plot sheep.svg -o sheep.gcode --profile grbl-z
      sketchtool plot data.npz:test -o grid.svg --paper A3 --landscape --cols 8
      sketchtool plot a.svg b.svg -o out.gcode --scale 1 --paper A5 --landscape --profile my_machine.toml
    """
    from sketchtool.errors import SketchtoolError
    from sketchtool.fileio import check_output_path
    from sketchtool.formats import parse_reference
    from sketchtool.plot import PlotOptions
    from sketchtool.plot import plot as plot_drawings

    if fit and scale is not None:
        raise SketchtoolError("--fit and --scale exclude each other; give one")
    check_output_path(out, inputs=[parse_reference(i)[0] for i in inputs], force=force)
    options = PlotOptions(paper, landscape, margin, scale, cols, profile, optimize)
    result = plot_drawings(inputs, out, options)
    p = result.paper
    click.echo(f"Wrote {out}: {counted(result.drawings, 'drawing')}, {counted(result.strokes, 'stroke')} on "
               f"{p.described}, {result.mm_per_unit:.4g} mm per unit")
    if result.travel:
        t = result.travel
        click.echo(f"Pen-down {t.pen_down_after / 1000:.2f} m; pen-up {t.pen_up_before / 1000:.2f} m -> "
                   f"{t.pen_up_after / 1000:.2f} m after optimisation ({t.strokes_before} -> {t.strokes_after} strokes)")


COMMANDS = [plot]
