"""`sketchtool vectorize`: pictures of line art (PNG/JPG, or an image dataset) -> ordered single-line pen strokes."""

from __future__ import annotations

from pathlib import Path

import click

from sketchtool.cli.options import refuse_unseen_look
from sketchtool.cli.progress import progress_bar

__all__ = ["COMMANDS"]


@click.command("vectorize")
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="Output: .svg/.png/.gcode/.hpgl (one picture: its own size; several: a grid) or .npz (stroke-3).")
@click.option("--method", type=click.Choice(["agent", "skeleton"]), default=None,
              help="agent: a StrokeNet agent (--model, or the embedded vectorizer); skeleton: thin and trace "
                   "(the default unless --model or --refine asks for the agent).")
@click.option("--model", "model_ref", default=None,
              help="A trained strokenet-agent run or checkpoint (default for --method agent: the embedded vectorizer).")
@click.option("--strokes", type=int, default=None, help="Strokes the agent draws per picture (default: as trained).")
@click.option("--refine", type=int, default=0, show_default=True,
              help="Then fit the agent's strokes to each picture for this many steps through its renderer and "
                   "tidy them against it (slower, closer; 30 is a good start, kanji want --strokes 4 --refine 60).")
@click.option("--size", type=int, default=None, help="Canvas the skeleton tracer works on (default 128 pixels).")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "valid", "test"]),
              help="Split of an image dataset to vectorize.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many pictures of a dataset.")
@click.option("--stroke-width", type=float, default=1.5, show_default=True, help="Line width of SVG/PNG previews.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def vectorize_command(images, out, method, model_ref, strokes, refine, size, split, limit, stroke_width, force):
    """Turn pictures of line drawings into ordered single-line pen strokes.

    Each picture's drawing is found, fitted to the canvas, traced, and mapped back to the
    picture's own pixels: an SVG of one picture has its width and height.

    \b
    Examples:
      sketchtool vectorize scan.png -o scan.svg
      sketchtool vectorize scan.jpg -o scan.gcode --method skeleton
      sketchtool vectorize scan.png -o scan.svg --method agent
      sketchtool vectorize a.png b.png -o both.svg --model runs/agent --strokes 8
      sketchtool vectorize kanji.png -o kanji.svg --strokes 4 --refine 60
      sketchtool vectorize sheep.png -o sheep.gcode --strokes 2 --refine 30
      sketchtool vectorize digits.npz --split test --limit 64 -o digits.npz --model runs/agent
    """
    import math

    from sketchtool.errors import SketchtoolError
    from sketchtool.fileio import check_output_path
    from sketchtool.formats import OutputOptions, require_output
    from sketchtool.vectorize import fitted_canvas_size, vectorize

    require_output("drawings", out)
    if not (math.isfinite(stroke_width) and 0 < stroke_width <= 1000):
        raise SketchtoolError(f"--stroke-width {stroke_width}: give a width above 0 and at most 1000")
    refuse_unseen_look(out)
    check_output_path(out, inputs=list(images), force=force)
    method = method or ("agent" if model_ref or refine else "skeleton")
    model = None
    if method == "agent":
        from sketchtool.checkpoint import load_model
        from sketchtool.pretrained import DEFAULT_VECTORIZER, resolve_model

        model, _ = load_model(resolve_model(model_ref, default=DEFAULT_VECTORIZER))
        model.require("vectorize", "vectorize")
    elif model_ref:
        raise SketchtoolError("--model is for --method agent; the skeleton tracer needs no model")
    canvas = fitted_canvas_size(method, model=model, size=size, strokes=strokes, refine=refine)
    pictures, source = _fitted_pictures(images, split, limit, canvas)
    results = vectorize(pictures, method=method, model=model, size=canvas, strokes=strokes, refine=refine,
                        on_progress=progress_bar("picture"))
    options = OutputOptions(stroke_width=stroke_width)
    if len(results) == 1 and Path(out).suffix.lower() != ".npz":
        from sketchtool.formats import write_page
        from sketchtool.layout import Page, PageStroke

        r = results[0]
        write_page(out, Page(width=float(r.size[0]), height=float(r.size[1]),
                             strokes=[PageStroke(p, 0, i) for i, p in enumerate(r.polylines)]), options)
    else:
        from sketchtool.formats import write_drawings
        from sketchtool.strokes import polylines_to_stroke3

        drawings = [polylines_to_stroke3(r.polylines) for r in results]
        if source is not None and Path(out).suffix.lower() == ".npz":  # one image dataset: its split and classes
            from sketchtool.formats.npz import save_drawings

            dataset, labels = source
            save_drawings(out, drawings, {"source": str(images[0]), "pictures": method}, split=split,
                          labels=labels, class_names=dataset.class_names)
        else:
            write_drawings(out, drawings, options)
    total = sum(len(r.polylines) for r in results)
    click.echo(f"Wrote {out}: {len(results)} picture(s), {total} strokes ({method})")


def _fitted_pictures(paths, split: str, limit: int | None, canvas: int):
    """Each PNG/JPG, or the `split` of an image dataset (.npz), read and fitted to the canvas one at a time: only
    the canvases are kept, so a folder of large scans costs one scan's memory, not all of them. Also, when the
    one input is an image dataset, (that dataset, the labels of the pictures taken), else None."""
    import numpy as np

    from sketchtool.cli.options import given_options
    from sketchtool.errors import SketchtoolError
    from sketchtool.image_build import INK_THRESHOLD
    from sketchtool.vectorize import fit_line_art, read_picture

    unseen = given_options("split", "limit") if not any(Path(p).suffix.lower() == ".npz" for p in paths) else []
    if unseen:
        raise SketchtoolError(f"{', '.join(unseen)}: for an image dataset (.npz); pictures are read whole")

    fitted, inked, source = [], 0, None
    for path in paths:
        if Path(path).suffix.lower() in (".svg", ".svgz"):
            raise SketchtoolError(f"{path}: an SVG is vectors already; vectorize reads PNG/JPG pictures or an image "
                                  "dataset (.npz)")
        if Path(path).suffix.lower() == ".npz":
            from sketchtool.images import dataset_kind, load_image_dataset

            if dataset_kind(path) != "images":
                from sketchtool.formats.npz import load_dataset

                load_dataset(path)  # a damaged file: its own error, not "already strokes"
                raise SketchtoolError(f"{path}: a stroke dataset is already strokes; give pictures or an image dataset")
            dataset = load_image_dataset(path)
            if split not in dataset.splits:
                raise SketchtoolError(f"--split {split}: use train, valid or test")
            images = dataset.splits[split][:limit]  # uint8: each becomes float on its own
            if not len(images):
                raise SketchtoolError(f"{path}: split {split!r} holds no images")
            if len(paths) == 1:
                source = dataset, dataset.labels_of(split)[:limit]
            for image in images:
                ink = image.astype(np.float32) / np.float32(255)
                inked += bool((ink > INK_THRESHOLD).any())
                fitted.append(fit_line_art(ink, canvas))
        else:
            fitted.append(fit_line_art(read_picture(path), canvas))  # refuses a blank picture
            inked += 1
    if not inked:
        raise SketchtoolError("no ink in any picture; nothing to vectorize")
    return fitted, source


COMMANDS = [vectorize_command]
