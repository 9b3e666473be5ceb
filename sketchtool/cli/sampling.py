"""Sampling commands: `generate`, `complete`, `interpolate`, `analogy`, `reconstruct` and `models` (the embedded
models). Thin: options in, `sketchtool.sampling` does the work, a one-line summary out."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from sketchtool.cli.options import (COMMON_SCALE, COUNT, FORCE, MAX_DRAWINGS, MAX_STEPS, PRECISION, SEED, STEPS,
                                    counted, given_options, picture_look, picture_options,
                                    refuse_unseen_look)
from sketchtool.cli.progress import progress_bar
from sketchtool.errors import SketchtoolError
from sketchtool.formats import accepts

__all__ = ["COMMANDS"]

DEFAULT_TEMPERATURE = 0.4  # = sketchtool.sampling.DEFAULT_TEMPERATURE (not imported here: it imports torch)


def _sampling_options(command):
    """--model, --seed, --temperature, --greedy, --class, --out and the output look, shared by every command."""
    options = [
        click.option("--model", "model_ref", default=None, metavar="MODEL",
                     help="Run directory, checkpoint file or embedded model name [default: sheep]."),
        click.option("--seed", type=SEED, default=None,
                     help="Random seed from 0 to 2^64-1; the same seed gives byte-identical output "
                          "[default: random, printed]."),
        click.option("--temperature", type=float, default=DEFAULT_TEMPERATURE, show_default=True,
                     help="Randomness: lower is tidier, higher is wilder (must be > 0)."),
        click.option("--pen-temperature", type=float, default=None, metavar="FLOAT",
                     help="Sketch-RNN: temperature of the pen state (lift, end) [default: 0.5 + 0.5 x --temperature, "
                          "magenta-js's, so drawings still end; equal to --temperature: magenta's Python sampler]."),
        click.option("--z-temperature", type=float, default=None, metavar="FLOAT",
                     help="Sketch-RNN, generate and complete: spread of the random latent z ~ N(0, T²I) "
                          "[default: 0.6, tidier drawings; 1: the paper's prior, more varied]."),
        click.option("--greedy", is_flag=True,
                     help="Take the most likely next point instead of sampling one (generate and complete still draw "
                          "z at random)."),
        click.option("--class", "--label", "class_name", default=None, metavar="NAME",
                     help="Class to draw (class-conditional models only): a class name, or its index K; without "
                          "it, a random class per drawing, in the proportions of the training data."),
        click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
                     help="Output file; its extension picks the format (.svg, .png, .npz, .gcode, .hpgl)."),
        click.option("--cols", type=click.IntRange(min=1), default=None,
                     help="Grid columns [default: one row per input, else about square]."),
        COMMON_SCALE,
        click.option("--colour-by-order", is_flag=True, help="Colour strokes by their order (SVG/PNG)."),
        picture_options,
        FORCE,
        click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
                     help="CPU threads; one step of a few drawings is too small to share, and extra threads "
                          "spin-wait on a busy machine."),
        click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto."),
        click.option("--precision", type=PRECISION, default="auto", show_default=True,
                     help="auto: large batches multiply in bfloat16 where the CPU/GPU does that natively "
                          "(several times faster); fp32: never; bf16: always."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


class _Run:
    """What every command does before and after sampling: check the output, load the model, write, report."""

    def __init__(self, params: dict, inputs: tuple = (), frames: str | None = None):
        from sketchtool.device import configure_threads, resolve_device

        configure_threads(params["threads"])  # before torch loads, so its OpenMP workers wait passively
        from sketchtool.checkpoint import load_model
        from sketchtool.fileio import check_output_path
        from sketchtool.formats import writer_for
        from sketchtool.pretrained import resolve_model
        from sketchtool.sampling import SampleOptions

        self.params = params
        self.out = Path(params["out"])
        writer_for(self.out)  # an unknown format fails before the model loads
        check_output_path(self.out, inputs=[str(_reference_path(i)) for i in inputs], force=params["force"])
        seed = params["seed"]
        self.seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
        self.options = SampleOptions(temperature=params["temperature"], greedy=params["greedy"], seed=self.seed,
                                     class_name=params["class_name"], precision=params["precision"],
                                     pen_temperature=params["pen_temperature"],
                                     z_temperature=params["z_temperature"])
        self.options.validate()
        device = str(resolve_device(params["device"]))
        self.model, self.info = load_model(resolve_model(params["model_ref"]), device=device)
        noise = given_options("temperature", "greedy") if not self.model.uses_temperature else []
        if noise:
            raise SketchtoolError(f"{', '.join(noise)}: model {_model_name(params['model_ref'])} samples no noise "
                                  "for it to change; drop it")
        refuse_unseen_look(self.out, *([frames] if frames else []), images=self.model.output_kind == "images")
        if given_options("with_inputs") and accepts("dataset", self.out):
            raise SketchtoolError("--with-inputs: an .npz holds the results only; drop it or write a page")

    def read(self, ref: str) -> list:
        """Drawings of one input: an SVG normalised as the model's training data was, or an .npz reference. Of a
        whole split, drawings longer than the model takes are left out with a warning (as `eval` does); one such
        drawing named on its own is refused."""
        from sketchtool.formats import read_drawings
        from sketchtool.prepare import read_normalized_svg

        if accepts("svg", Path(ref)) and Path(ref).is_file():  # read here to learn the epsilon it took
            prepared = read_normalized_svg(ref, **self.svg_options())
            self.warn_if_simplified(ref, prepared.epsilon)
            drawings = [prepared.stroke3]
        else:
            drawings = read_drawings(ref, **self.svg_options())
        limit = self.info.spec.max_length
        empty = sum(not len(d) for d in drawings)
        fits = [d for d in drawings if len(d) and (limit is None or len(d) <= limit)]
        if len(fits) == len(drawings):
            return drawings
        if len(drawings) == 1 or not fits:
            if empty == len(drawings):
                raise SketchtoolError(f"{ref}: " + ("the drawing is empty" if empty == 1 else "every drawing is empty"))
            longest = max(len(d) for d in drawings)
            raise SketchtoolError(f"{ref}: a drawing of {longest} points is longer than the model takes ({limit}); "
                                  "pick a shorter one")
        long = len(drawings) - empty - len(fits)
        reasons = [f"{empty:,} empty"] * bool(empty) + \
            [f"{long:,} longer than the model takes ({limit} points)"] * bool(long)
        click.echo(f"Warning: left out {len(drawings) - len(fits):,} of {len(drawings):,} drawings in {ref}: "
                   + ", ".join(reasons), err=True)
        return fits

    def warn_if_simplified(self, ref: str, epsilon: float) -> None:
        """An SVG longer than the model takes is simplified further until it fits: say so, it may lose detail."""
        from sketchtool.prepare import DEFAULT_EPSILON

        wanted = self.svg_options().get("epsilon", DEFAULT_EPSILON)
        if epsilon > wanted:
            click.echo(f"Warning: {ref}: simplified at epsilon {epsilon:.3g} (the model's data: {wanted:g}) to fit the "
                       f"{self.info.spec.max_length} points the model takes; its detail may be lost", err=True)

    def read_one(self, ref: str):
        drawings = self.read(ref)
        if len(drawings) != 1:
            raise SketchtoolError(f"{ref}: holds {len(drawings)} drawings; pick one with DATASET.npz:split:index")
        return drawings[0]

    def svg_options(self) -> dict:
        """The build settings of the model's dataset (see `sketchtool.prepare.model_reading_options`)."""
        from sketchtool.prepare import model_reading_options

        return model_reading_options(self.model, self.info)

    def output_options(self, row: int | None = None, **fields):
        """Writer options from the command line; `row` is the command's natural grid width (--cols wins)."""
        p = self.params
        return picture_look(stroke_width=p["stroke_width"], png_width=p["png_width"], dpi=p["dpi"],
                            cols=p["cols"] or row, colour_by_order=p["colour_by_order"], **fields)

    def write(self, drawings: list, row: int | None = None, **fields) -> None:
        from sketchtool.formats import write_drawings

        write_drawings(self.out, drawings, self.output_options(row, common_scale=self.params["common_scale"], **fields))

    def classes(self, labels) -> dict:
        """The output fields that record each sample's class (an .npz keeps them), when the samples have one."""
        return {} if labels is None else {"labels": labels, "class_names": self.info.class_names}

    def done(self, what: str) -> None:
        how = ("no noise" if not self.model.uses_temperature else
               "greedy" if self.options.greedy else f"temperature {self.options.temperature:g}")
        click.echo(f"Wrote {what} to {self.out} (model {_model_name(self.params['model_ref'])}, "
                   f"seed {self.seed}, {how})")


def _check_total(count: int, what: str) -> None:
    """The --n bound for commands whose drawing count multiplies several inputs."""
    if count > MAX_DRAWINGS:
        raise SketchtoolError(f"{what} = {count:,} drawings, more than {MAX_DRAWINGS:,}; split the run")


def _reference_path(ref: str) -> Path:
    from sketchtool.formats import parse_reference

    return parse_reference(str(ref))[0]


def _model_name(ref) -> str:
    from sketchtool.pretrained import DEFAULT_MODEL

    return str(ref) if ref else DEFAULT_MODEL


def _progress():
    """The drawings' progress bar (on a terminal only)."""
    return progress_bar("drawing")


def _with_inputs(inputs: list, outputs: list) -> tuple[list, list]:
    """A grid row showing the input drawings (marked "given") before the model's drawings."""
    return [*inputs, *outputs], [len(d) for d in inputs] + [0] * len(outputs)


@click.command("generate")
@click.option("--n", "n", type=COUNT, default=16, show_default=True, help=f"Number of drawings, 1 to {MAX_DRAWINGS:,}.")
@click.option("--frames", type=click.Path(dir_okay=False), default=None,
              help="Image models that draw in steps: also write the canvas over time (.gif).")
@click.option("--condition", default=None, metavar="NAME=VALUE,...",
              help="Conditions of an image model, e.g. identity=3,angle=40,scale=0.9; a:b sweeps over the N "
                   "images (angle=0:350 a turntable, identity=3:7 a morph); values within ±1,000,000.")
@_sampling_options
def generate_command(n, frames, condition, **params):
    """Draw N new sketches from a model (the embedded sheep by default); an image model writes a PNG grid or an
    .npz of images, and with --frames an animation of its canvas over time.

    \b
    Examples:
      sketchtool generate --n 50 --out grid.svg
      sketchtool generate --n 1000 --out sheep.npz --seed 1 --temperature 0.2
      sketchtool generate --model runs/mine --n 20 --out mine.png --size 1200
      sketchtool generate --model runs/draw --n 16 --out digits.png --frames digits.gif
      sketchtool generate --model runs/chairs --n 12 --out turn.png --condition identity=3,angle=0:330
    """
    from sketchtool.sampling import generate, sample_labels

    run = _Run(params, frames=frames)
    run.options.condition = condition
    if run.model.output_kind != "images":
        if condition:
            raise SketchtoolError(f"--condition: model {_model_name(params['model_ref'])} draws strokes; "
                                  "--condition is for conditional image models")
        if frames:
            raise SketchtoolError(f"--frames: model {_model_name(params['model_ref'])} draws strokes; --frames "
                                  "animates image models that draw in steps")
        labels = sample_labels(run.model, run.info, n, run.options)
        drawings = generate(run.model, run.info, n, run.options, on_progress=_progress(), labels=labels)
        run.write(drawings, **run.classes(labels))
        empty = sum(not len(d) for d in drawings)
        run.done(counted(len(drawings), "drawing") + (f" ({empty:,} empty)" if empty else ""))
        return
    from sketchtool.fileio import check_output_path
    from sketchtool.formats import require_output, write_frames, write_images
    from sketchtool.formats.image_grid import check_grid_size

    require_output("images", run.out)
    if frames:
        if not run.model.frame_count:
            raise SketchtoolError(f"--frames: model {run.info.model!r} does not draw in steps; drop --frames")
        check_output_path(require_output("frames", frames), force=params["force"])
    shape = run.info.spec.image_shape  # the pictures' sizes depend on n and the options only: refused before sampling
    if run.out.suffix.lower() == ".png":
        check_grid_size(n, shape, run.output_options(), run.out)
    if frames:
        check_grid_size(n, shape, run.output_options(), frames, frames=run.model.frame_count)
    samples = generate(run.model, run.info, n, run.options, on_progress=_progress(), frames=bool(frames))
    if frames:  # first: its size checks cover the PNG grid too (the same picture), so a refusal writes nothing
        write_frames(frames, samples.frames, run.output_options())
    write_images(run.out, samples.images, run.output_options(**run.classes(samples.labels)))
    run.done(counted(len(samples.images), "image"))


@click.command("complete")
@click.argument("input_ref", metavar="INPUT")
@click.option("--n", "n", type=COUNT, default=4, show_default=True,
              help=f"Number of different endings, 1 to {MAX_DRAWINGS:,}.")
@click.option("--placement", type=click.Choice(["side", "overlay"]), default="side", show_default=True,
              help="SVG input and output: endings side by side, or all on top of the input's position.")
@click.option("--mask", "mask_path", type=click.Path(dir_okay=False), default=None,
              help="Image models: a PNG whose light pixels mark the part to fill in [default: the lower half].")
@_sampling_options
def complete_command(input_ref, n, placement, mask_path, **params):
    """Finish a started drawing in N different ways, or fill in the missing part of an image.

    INPUT is an SVG file (normalised as training data is) or DATASET.npz:split:index. For an SVG input and
    .svg output the result keeps INPUT's user units and position (given part blue, new part orange), one
    group per ending, so it can be laid over the original; its viewBox grows to show every ending. Other
    outputs use the usual grid. An image model takes a PNG/JPG (scaled whole to the model's size) or
    IMAGES.npz:split:index, keeps the upper half (or what --mask leaves dark) and writes a PNG grid (the input
    first, missing part grey) or an .npz of the completions.

    \b
    Examples:
      sketchtool complete start.svg --n 4 --out endings.svg
      sketchtool complete sheep.npz:test:3 --n 8 --out endings.png --seed 7
      sketchtool complete mnist.npz:test:0 --model runs/pixelcnn --temperature 1 --n 8 --out filled.png
    """
    from sketchtool.sampling import complete

    inputs = (input_ref,) if mask_path is None else (input_ref, mask_path)
    run = _Run(params, inputs=inputs)
    run.model.require("complete", "complete")
    if run.model.output_kind == "images" and accepts("svg", _reference_path(input_ref)):
        raise SketchtoolError(f"model {_model_name(params['model_ref'])} draws images: it completes a picture "
                              "(PNG/JPG or DATASET.npz:split:index), not an SVG drawing")
    in_place = (run.model.output_kind != "images" and accepts("svg", _reference_path(input_ref))
                and accepts("svg-out", run.out))
    grid_looks = given_options("cols", "common_scale", "colour_by_order") if in_place else []
    if grid_looks:
        raise SketchtoolError(f"{', '.join(grid_looks)}: the endings are drawn into the input's own page, not a grid; "
                              "drop it")
    if not in_place and given_options("placement"):
        raise SketchtoolError("--placement: arranges endings completed in place, from an SVG into an SVG with a "
                              "stroke model; drop it")
    if run.model.output_kind == "images":
        _complete_image(run, input_ref, n, mask_path)
        run.done(f"{counted(n, 'completion')} of {input_ref}")
        return
    if mask_path is not None:
        raise SketchtoolError("--mask: only image models complete a masked region; this model draws strokes")
    if in_place:
        empty = _complete_in_place(run, input_ref, n, placement)
    else:
        prefix = run.read_one(input_ref)
        endings = complete(run.model, run.info, prefix, n, run.options, on_progress=_progress())
        run.write(endings, given_points=[len(prefix)] * len(endings))
        empty = sum(len(e) <= len(prefix) for e in endings)
    # the model may end the drawing at once: say so, as generate says how many drawings came out empty
    run.done(f"{counted(n, 'ending')} of {input_ref}" + (f" ({empty:,} add nothing)" if empty else ""))


def _complete_image(run: _Run, input_ref: str, n: int, mask_path: str | None) -> None:
    """Fill in the missing part of an image; PNG output shows the input (missing part grey) before the results."""
    import numpy as np

    from sketchtool.formats import require_output, write_images
    from sketchtool.sampling import complete_image, lower_half_missing

    require_output("images", run.out)
    shape = tuple(run.info.spec.image_shape)
    image = _read_image(input_ref, shape)
    if mask_path is None:
        mask = lower_half_missing(shape)
    else:
        from sketchtool.image_build import load_image_resized

        _require_image_file(mask_path, "--mask", dataset_ok=False)
        mask = load_image_resized(mask_path, shape, invert=False) < 128
    samples = complete_image(run.model, run.info, image, mask, n, run.options, on_progress=_progress())
    images = samples.images
    if not accepts("dataset", run.out):
        images = np.concatenate([np.where(mask, image, np.float32(0.3))[None], images])
    write_images(run.out, images, run.output_options(row=min(len(images), 10)))


def _read_image(ref: str, shape: tuple):
    """(H, W) float32 in [0, 1] from a PNG/JPG (scaled whole to `shape`) or IMAGES.npz:split:index."""
    from sketchtool.formats import parse_reference

    path, split, index = parse_reference(ref)
    if split is not None or path.suffix.lower() == ".npz":
        from sketchtool.images import dataset_kind, load_image_dataset

        if index is None:
            raise SketchtoolError(f"{ref}: name one image, as IMAGES.npz:split:index")
        if dataset_kind(path) != "images":
            raise SketchtoolError(f"{path}: holds strokes; this model completes images (make some with rasterize)")
        images = load_image_dataset(path).images(split)
        if index >= len(images):
            raise SketchtoolError(f"{ref}: index {index} out of range; split {split!r} has {len(images)} images")
        if images.shape[1:] != shape:
            raise SketchtoolError(f"{ref}: images are {images.shape[2]}x{images.shape[1]}, the model's "
                                  f"{shape[1]}x{shape[0]}")
        return images[index]
    from sketchtool.image_build import load_image_resized

    _require_image_file(path, "INPUT")
    return load_image_resized(path, shape).astype("float32") / 255


def _require_image_file(path, what: str, dataset_ok: bool = True) -> None:
    from sketchtool.image_build import IMAGE_SUFFIXES

    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise SketchtoolError(f"{what} {path}: give a {', '.join(IMAGE_SUFFIXES)} image"
                              + (" or IMAGES.npz:split:index" if dataset_ok else ""))
    if not path.is_file():
        raise SketchtoolError(f"{path}: no such file")


def _complete_in_place(run: _Run, input_ref: str, n: int, placement: str) -> int:
    """Complete an SVG and write the endings in the SVG's own coordinates (the Inkscape contract); returns how
    many endings add nothing."""
    from sketchtool.formats.completion_svg import write_completion_svg
    from sketchtool.formats.svg_reader import read_svg
    from sketchtool.prepare import complete_polylines

    drawing = read_svg(input_ref, tolerance=run.svg_options().get("tolerance"))
    result = complete_polylines(drawing.polylines, run.model, run.info, n, run.options, _progress(), name=input_ref)
    run.warn_if_simplified(input_ref, result.prepared.epsilon)
    write_completion_svg(run.out, result.given, result.endings, viewbox=drawing.viewbox, width=drawing.width,
                         height=drawing.height, placement=placement, stroke_width=run.params["stroke_width"],
                         preserve_aspect_ratio=drawing.preserve_aspect_ratio)
    return sum(not any(len(p) for p in ending) for ending in result.endings)


@click.command("interpolate")
@click.argument("refs", nargs=-1, required=True, metavar="A B [C ...]")
@click.option("--steps", type=STEPS, default=8, show_default=True,
              help=f"Drawings per pair, both ends included, 2 to {MAX_STEPS:,}.")
@click.option("--linear", is_flag=True, help="Interpolate linearly instead of spherically (slerp).")
@click.option("--with-inputs", is_flag=True, help="Page outputs: start each row with its two inputs (blue).")
@_sampling_options
def interpolate_command(refs, steps, linear, with_inputs, **params):
    """Morph between drawings through the model's latent space: one row per consecutive pair.

    Each of A, B, ... is an SVG file or DATASET.npz:split:index. Needs a model with an encoder.

    \b
    Example:
      sketchtool interpolate a.svg b.svg --steps 10 --out morph.svg
    """
    from sketchtool.sampling import check_interpolation, interpolate, require_encoder

    check_interpolation(len(refs), steps)
    _check_total((len(refs) - 1) * steps, f"{len(refs) - 1} pair(s) x --steps {steps}")
    run = _Run(params, inputs=refs)
    require_encoder(run.model, run.info)
    drawings = [run.read_one(ref) for ref in refs]
    rows = interpolate(run.model, run.info, drawings, steps, run.options, method="linear" if linear else "slerp",
                       on_progress=_progress())
    if with_inputs and not accepts("dataset", run.out):
        cells, given = [], []
        for i, row in enumerate(rows):
            row_cells, row_given = _with_inputs(drawings[i:i + 2], row)
            cells += row_cells
            given += row_given
        run.write(cells, row=steps + 2, given_points=given)
    else:
        run.write([d for row in rows for d in row], row=steps)
    run.done(f"{counted(len(rows), 'row')} of {steps}")


@click.command("analogy")
@click.argument("refs", nargs=3, metavar="A B C")
@click.option("--n", "n", type=COUNT, default=4, show_default=True, help=f"Number of samples, 1 to {MAX_DRAWINGS:,}.")
@click.option("--with-inputs", is_flag=True, help="Page outputs: show A, B, C (blue) before the samples.")
@_sampling_options
def analogy_command(refs, n, with_inputs, **params):
    """Decode z(A) - z(B) + z(C): "A is to B as ? is to C" (the paper's sketch drawing analogies).

    \b
    Example:
      sketchtool analogy cat_head.svg pig_head.svg pig_body.svg --n 4 --out cat_body.svg
    """
    from sketchtool.sampling import analogy, require_encoder

    run = _Run(params, inputs=refs)
    require_encoder(run.model, run.info)
    a, b, c = (run.read_one(ref) for ref in refs)
    samples = analogy(run.model, run.info, a, b, c, n, run.options, on_progress=_progress())
    if with_inputs and not accepts("dataset", run.out):
        cells, given = _with_inputs([a, b, c], samples)
        run.write(cells, row=len(cells), given_points=given)
    else:
        run.write(samples)
    run.done(counted(len(samples), "sample") + " of the analogy")


@click.command("reconstruct")
@click.argument("refs", nargs=-1, required=True, metavar="INPUT [INPUT ...]")
@click.option("--n", "n", type=COUNT, default=1, show_default=True,
              help=f"Reconstructions per input, 1 to {MAX_DRAWINGS:,}.")
@click.option("--with-inputs", is_flag=True, help="Page outputs: start each row with its input (blue).")
@_sampling_options
def reconstruct_command(refs, n, with_inputs, **params):
    """Encode drawings and decode them again, to see what a model has learned.

    Each INPUT is an SVG file, DATASET.npz:split:index, or DATASET.npz:split for a whole split.

    \b
    Example:
      sketchtool reconstruct sheep.npz:test:0 sheep.npz:test:1 --n 4 --with-inputs --out recon.png
    """
    from sketchtool.sampling import reconstruct, require_encoder

    _check_total(len(refs) * n, f"{len(refs)} input(s) x --n {n}")  # before reading: each gives one drawing or more
    run = _Run(params, inputs=refs)
    require_encoder(run.model, run.info)
    drawings = [d for ref in refs for d in run.read(ref)]
    _check_total(len(drawings) * n, f"{len(drawings)} input(s) x --n {n}")
    rows = reconstruct(run.model, run.info, drawings, n, run.options, on_progress=_progress())
    if with_inputs and not accepts("dataset", run.out):
        cells, given = [], []
        for drawing, row in zip(drawings, rows):
            row_cells, row_given = _with_inputs([drawing], row)
            cells += row_cells
            given += row_given
        run.write(cells, row=n + 1, given_points=given)
    else:
        run.write([d for row in rows for d in row], row=n if n > 1 else None)
    run.done(counted(len(drawings) * n, "reconstruction"))


@click.command("models")
@click.option("--all", "show_all", is_flag=True, help="Also list every registered model family (train --model NAME).")
def models_command(show_all):
    """List the embedded models (dataset, licence, file size, test loss) and, with --all, the model families.

    \b
    Examples:
      sketchtool models
      sketchtool models --all
    """
    from sketchtool.pretrained import DEFAULT_MODEL, EMBEDDED, model_summary

    if show_all:
        from sketchtool.models import available_models, get_model_class

        click.echo("Model families (train --model NAME):")
        for name in available_models():
            cls = get_model_class(name)
            can = (f"can {', '.join(sorted(cls.capabilities))}" if cls.capabilities else
                   "a part other models train with")
            presets = ", ".join(cls.PRESETS)
            click.echo(f"  {name}: {cls.input_kind} -> {cls.output_kind}; {can}; presets {presets}")
        click.echo("Embedded models:")

    for model in EMBEDDED.values():
        default = " (default)" if model.name == DEFAULT_MODEL else ""
        if not model.available:
            click.echo(f"{model.name}{default}: not included in this installation")
            continue
        summary = model_summary(model)
        click.echo(f"{model.name}{default}: {summary}")
        click.echo(f"  data: {model.dataset}")
        click.echo(f"  licence: {model.licence}")
        click.echo(f"  card: {model.card_path}")


COMMANDS = [generate_command, complete_command, interpolate_command, analogy_command, reconstruct_command,
            models_command]
