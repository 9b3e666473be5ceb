"""sketchtool inside vpype pipelines (https://github.com/abey79/vpype), the pen-plotter toolkit: `skgenerate`
draws new drawings into a layer, `skcomplete` finishes the drawing in each layer. vpype finds them through the
`vpype.plugins` entry point (pyproject.toml), so `pip install vpype` beside sketchtool is all it takes.

Glue only, as the Inkscape extension is: the drawings come from `sampling.generate` and
`prepare.complete_polylines`, laid out by `layout.grid_page`. It lives in the package rather than in plugins/
because an entry point must name an installed module. vpype imports it at start-up, so torch loads only when a
command runs. vpype's lines are complex arrays in CSS pixels, y down, as sketchtool's pages are.
"""

from __future__ import annotations

import contextlib

import click
import numpy as np
import vpype
import vpype_cli

from sketchtool.errors import SketchtoolError

__all__ = ["skgenerate", "skcomplete"]

HELP_GROUP = "sketchtool"

# vpype's own types: they evaluate `%...%` expressions when the command runs, so `begin grid ... skgenerate
# --seed %_i% end` draws another sheep in each cell and `skcomplete --seed %lid%` another ending in each layer
_model_option = click.option("-m", "--model", "model_ref", type=vpype_cli.TextType(), default=None, metavar="MODEL",
                             help="Run directory, checkpoint or embedded model name [default: sheep].")
_seed_option = click.option("-s", "--seed", type=vpype_cli.IntRangeType(0, 2**64 - 1), default=None,
                            help="Seed: the same seed draws the same lines [default: a fresh one].")
_temperature_option = click.option("-t", "--temperature", type=vpype_cli.FloatType(), default=None,
                                   help="Sampling temperature: lower is tidier [default: 0.4].")


@click.command("skgenerate")
@_model_option
@click.option("-n", "--n", "count", type=vpype_cli.IntRangeType(1, 10_000), default=1, show_default=True,
              help="How many drawings.")
@_seed_option
@_temperature_option
@click.option("--class", "class_name", type=vpype_cli.TextType(), default=None, metavar="NAME",
              help="Class to draw (class-conditional models).")
@click.option("--cols", type=vpype_cli.IntRangeType(min=1), default=None, help="Grid columns [default: about square].")
@click.option("--cell", type=vpype_cli.LengthType(), default="3cm", show_default=True,
              help="Side of each drawing's square cell (vpype units: 3cm, 1in, 100px ...).")
@vpype_cli.generator
def skgenerate(model_ref, count, seed, temperature, class_name, cols, cell) -> vpype.LineCollection:
    """Draw new drawings with a sketchtool model, in a grid of square cells from (0, 0)."""
    from sketchtool.layout import grid_page
    from sketchtool.sampling import generate

    with _user_errors():
        if not cell > 0:
            raise click.BadParameter(f"{cell}: must be > 0", param_hint="--cell")
        model, info = _load(model_ref)
        if model.output_kind != "strokes":  # an image model's pixels are no lines to plot
            raise SketchtoolError(f"model {info.path} ({model.name}) draws {model.output_kind}, not lines; "
                                  "skgenerate needs a model that draws strokes, such as sketch-rnn")
        drawings = generate(model, info, count, _options(seed, temperature, class_name))
        page = grid_page(drawings, cols=cols, cell=cell)
    return vpype.LineCollection([_to_complex(stroke.points) for stroke in page.strokes])


@click.command("skcomplete")
@_model_option
@_seed_option
@_temperature_option
@vpype_cli.layer_processor
def skcomplete(lines: vpype.LineCollection, model_ref, seed, temperature) -> vpype.LineCollection:
    """Finish the drawing in each layer with a sketchtool model: its lines, in drawing order, are the start,
    kept as they are; the model's ending is added after them, where the model puts it."""
    from sketchtool.prepare import complete_polylines

    if len(lines) == 0:
        return lines
    with _user_errors():
        model, info = _load(model_ref)
        start = [np.column_stack([line.real, line.imag]) for line in lines]
        completion = complete_polylines(start, model, info, 1, _options(seed, temperature, None))
    finished = lines.clone(lines)  # the layer's pen colour, width and name stay
    finished.extend([_to_complex(points) for points in completion.endings[0]])
    return finished


for _command in (skgenerate, skcomplete):
    _command.help_group = HELP_GROUP


def _load(model_ref):
    """(model, info), loaded once per vpype run: skcomplete runs once per layer and a `begin grid ... end` block
    once per cell, and reading the weights every time would cost more than drawing. The cache lives in the run's
    click context, so nothing outlives the run."""
    from sketchtool.checkpoint import load_model
    from sketchtool.pretrained import resolve_model

    path = resolve_model(model_ref)
    context = click.get_current_context(silent=True)
    loaded = {} if context is None else context.meta.setdefault("sketchtool.models", {})
    if path not in loaded:
        loaded[path] = load_model(path)
    return loaded[path]


def _options(seed, temperature, class_name):
    from sketchtool.sampling import DEFAULT_TEMPERATURE, SampleOptions

    options = SampleOptions(temperature=DEFAULT_TEMPERATURE if temperature is None else temperature, seed=seed,
                            class_name=class_name)
    options.validate()
    return options


def _to_complex(points: np.ndarray) -> np.ndarray:
    return points[:, 0] + 1j * points[:, 1]


@contextlib.contextmanager
def _user_errors():
    """sketchtool's one-line refusals become vpype's (click's) one-line errors, not tracebacks."""
    try:
        yield
    except SketchtoolError as e:
        raise click.ClickException(str(e)) from None
