"""Image-dataset commands: `rasterize` (a stroke-3 dataset or a folder of PNG/JPG line drawings -> image .npz)."""

from __future__ import annotations

from pathlib import Path

import click

from sketchtool.cli.options import SEED, given_options
from sketchtool.cli.progress import progress_bar

__all__ = ["COMMANDS"]


@click.command("rasterize")
@click.argument("source", type=click.Path(exists=True))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Output image dataset (.npz).")
@click.option("--size", default=64, show_default=True, type=int, help="Image width and height in pixels.")
@click.option("--line-width", default=None, type=float,
              help="Stroke width in output pixels [default: 1.5]. For a folder: keep the lines of pictures scaled "
                   "down more than 2x this wide at full ink [default: as scaling leaves them, which fades thin "
                   "lines of large scans].")
@click.option("--padding", default=2.0, show_default=True, type=float, help="Empty border in output pixels.")
@click.option("--antialias", default="fast", show_default=True, type=click.Choice(["fast", "best", "none"]),
              help="fast: 4x4 supersampled; best: exact coverage (slower); none: binary.")
@click.option("--limit", default=None, type=click.IntRange(min=1),
              help="At most this many drawings per split (a folder: this many files in all).")
@click.option("--split", "split_text", default=None,
              help="A folder's train,valid,test as ratios or counts [default: 0.9,0.05,0.05] (a stroke dataset keeps "
                   "its own splits).")
@click.option("--seed", default=0, show_default=True, type=SEED,
              help="Seed of a folder's train/valid/test shuffle, or of a turntable's transforms.")
@click.option("--turntable", "views", default=None, type=int, metavar="K",
              help="Draw every drawing at K angles with random transforms and stroke masks (the chairs "
                   "generator's data); --limit counts drawings, unseen angles go to valid and test.")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
def rasterize_command(source, out, size, line_width, padding, antialias, limit, split_text, seed, views, force):
    """Turn a stroke-3 dataset, or a folder of PNG/JPG line drawings, into an image dataset.

    Drawings are fitted to the image with their aspect kept. In a folder, sub-folder names are
    the classes; light backgrounds are detected and inverted (ink is always 255).

    \b
    Examples:
      sketchtool rasterize aaron_sheep.npz -o sheep64.npz --size 64
      sketchtool rasterize kanji.npz -o kanji28.npz --size 28 --line-width 1 --limit 1000
      sketchtool rasterize scans/ -o scans.npz --size 64 --split 0.8,0.1,0.1
      sketchtool rasterize aaron_sheep.npz -o turn.npz --size 32 --turntable 36 --limit 50
    """
    from sketchtool.errors import SketchtoolError
    from sketchtool.fileio import check_output_path
    from sketchtool.images import MAX_IMAGE_PIXELS, save_image_dataset
    from sketchtool.raster import RasterOptions

    if Path(out).suffix.lower() != ".npz":
        raise SketchtoolError(f"{out}: the image dataset must be an .npz file; give -o NAME.npz")
    check_output_path(out, inputs=[source], force=force)
    options = RasterOptions(size=size, line_width=1.5 if line_width is None else line_width, padding=padding,
                            antialias=antialias)
    if size * size > MAX_IMAGE_PIXELS:  # refused now, not when saving after all the work
        raise SketchtoolError(f"--size {size}: an image dataset holds images of at most {MAX_IMAGE_PIXELS:,} pixels "
                              f"({int(MAX_IMAGE_PIXELS ** 0.5)} x {int(MAX_IMAGE_PIXELS ** 0.5)})")
    if Path(source).is_dir():
        if views is not None or given_options("antialias"):
            flag = "--turntable" if views is not None else "--antialias"
            raise SketchtoolError(f"{flag} is for a stroke-3 dataset; a folder's pictures are drawn already")
        from sketchtool.build import parse_split
        from sketchtool.image_build import images_from_folder

        dataset = images_from_folder(source, size=options.size[0], padding=padding, line_width=line_width,
                                     split=parse_split(split_text or "0.9,0.05,0.05"), seed=seed, limit=limit,
                                     on_progress=progress_bar("image"),
                                     on_warning=lambda text: click.echo(f"Warning: {text}", err=True))
    else:
        from sketchtool.image_build import IMAGE_SUFFIXES

        if Path(source).suffix.lower() in IMAGE_SUFFIXES:
            raise SketchtoolError(f"{source}: one picture; rasterize reads a folder of pictures (give the folder it "
                                  "is in) or a stroke-3 dataset")
        if split_text is not None:
            raise SketchtoolError("--split is for a folder of pictures; a stroke-3 dataset keeps its own splits")
        if views is None and given_options("seed"):
            raise SketchtoolError("--seed is for a folder's shuffle or --turntable's transforms; a stroke-3 dataset "
                                  "is drawn as it is")
        from sketchtool.formats.npz import load_dataset
        from sketchtool.image_build import images_from_strokes
        from sketchtool.images import dataset_kind

        if dataset_kind(source) == "images":
            raise SketchtoolError(f"{source}: already an image dataset; give a stroke-3 dataset or a folder")
        strokes = load_dataset(source)
        if views is not None:
            from sketchtool.image_build import turntable_from_strokes

            dataset = turntable_from_strokes(strokes, options, views, limit=limit, seed=seed,
                                             source=Path(source).name, on_progress=progress_bar("image"))
        else:
            dataset = images_from_strokes(strokes, options, limit=limit, source=Path(source).name,
                                          on_progress=progress_bar("drawing"))
    counts = dataset.counts()
    if not sum(counts.values()):
        raise SketchtoolError(f"{source}: no drawings to rasterise; nothing written")
    save_image_dataset(out, dataset)
    h, w = dataset.image_shape
    click.echo(f"Wrote {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
               + f" images of {w}x{h} ({Path(out).stat().st_size / 1e6:.2f} MB)")


COMMANDS = [rasterize_command]
