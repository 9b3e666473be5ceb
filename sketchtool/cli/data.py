"""Dataset commands: `build-dataset` (SVG files -> stroke-3 .npz), `info` (what a dataset holds), `show` (a preview grid)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sketchtool.cli.options import (COMMON_SCALE, COUNT, FORCE, MAX_DRAWINGS, SEED, given_options, picture_look,
                                    picture_options, refuse_unseen_look)
from sketchtool.cli.progress import progress_bar
from sketchtool.formats import describe

__all__ = ["COMMANDS"]


def _format_stats(stats: dict) -> str:
    if not stats.get("count"):
        return "none"
    return (f"min {stats['min']}, median {stats['median']:g}, mean {stats['mean']:g}, "
            f"p95 {stats['p95']:g}, max {stats['max']}")


@click.command("build-dataset")
@click.argument("sources", nargs=-1, required=True)
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Output dataset (.npz).")
@click.option("--epsilon", default=2.0, show_default=True, type=float,
              help="RDP simplification tolerance, in units of the --size box.")
@click.option("--size", default=256.0, show_default=True, type=float, help="Scale each drawing's longer side to this.")
@click.option("--keep-units", is_flag=True, help="Keep the SVG's own units instead of scaling to --size.")
@click.option("--max-seq-len", default=250, show_default=True, type=int, help="Longest drawing kept, in points.")
@click.option("--adaptive", is_flag=True,
              help="Re-simplify drawings longer than --max-seq-len with a larger epsilon instead of dropping them.")
@click.option("--split", "split_text", default="0.9,0.05,0.05", show_default=True,
              help="train,valid,test as ratios (0.9,0.05,0.05 or 90%,5%,5%) or counts (10000,600,500); with "
                   "--labels folder each class is split in proportion.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the train/valid/test shuffle.")
@click.option("--labels", type=click.Choice(["none", "folder"]), default="none", show_default=True,
              help="'folder': each file's parent folder name is its class (two folders of one name make one class; "
                   "the build warns).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Parallel parsers [default: all cores].")
@click.option("--tolerance", type=float, default=None,
              help="Curve flattening tolerance in SVG user units [default: relative to each drawing's size].")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write a JSON report listing every input file's status.")
@click.option("--strict", is_flag=True, help="Fail (and write no dataset) if any file is unusable.")
@click.option("--pictures", type=click.Choice(["skeleton", "agent"]), default=None,
              help="Also read PNG/JPG line art in folders and patterns, vectorized this way (named picture "
                   "files are always read, by the skeleton tracer unless this says agent).")
@click.option("--vectorizer", default=None, help="The agent for --pictures agent (default: the embedded vectorizer).")
@click.option("--strokes", type=int, default=None,
              help="With --pictures agent: strokes it draws per picture (default: as trained; as vectorize).")
@click.option("--refine", type=int, default=0, show_default=True,
              help="With --pictures agent: fit its strokes to each picture for this many steps (as vectorize).")
@click.option("--force", is_flag=True, help="Overwrite an existing output (or report).")
def build_dataset_command(sources, out, epsilon, size, keep_units, max_seq_len, adaptive, split_text, seed, labels,
                          workers, tolerance, report_path, strict, pictures, vectorizer, strokes, refine,
                          force):
    """Turn SVG files (or pictures of line art) into a sketch-rnn stroke-3 dataset.

    SOURCES are folders (searched recursively), .svg/.svgz/.png/.jpg files or glob patterns.
    Document order is stroke order; pictures are vectorized first. Bad files are skipped with a reason.

    \b
    Examples:
      sketchtool build-dataset drawings/ -o my.npz
      sketchtool build-dataset 'icons/**/*.svg' -o icons.npz --labels folder --report report.json
      sketchtool build-dataset kanji/ -o kanji.npz --split 10000,600,500 --max-seq-len 100 --adaptive
      sketchtool build-dataset scans/ -o scans.npz --pictures skeleton
    """
    from sketchtool.build import BuildOptions, build_dataset, discover_svgs, parse_split
    from sketchtool.errors import SketchtoolError
    from sketchtool.fileio import atomic_write, check_output_path
    from sketchtool.formats import require_output
    from sketchtool.formats.npz import save_dataset

    require_output("dataset", out)
    if keep_units and given_options("size"):
        raise SketchtoolError("--size scales each drawing; --keep-units keeps the SVG's own units instead: give one")
    inputs = discover_svgs(sources, pictures=pictures is not None)  # the files read, not their folders
    check_output_path(out, inputs=inputs, force=force)
    if report_path:
        if Path(report_path).resolve() == Path(out).resolve():
            raise SketchtoolError(f"--report {report_path}: the same file as --out; give the report its own name")
        check_output_path(report_path, inputs=inputs, force=force)
    options = BuildOptions(epsilon=epsilon, size=size, keep_units=keep_units, max_seq_len=max_seq_len,
                           adaptive=adaptive, split=parse_split(split_text), seed=seed, labels=labels,
                           workers=workers, strict=strict, tolerance=tolerance, pictures=pictures,
                           vectorizer=vectorizer, strokes=strokes, refine=refine)
    dataset, report = build_dataset(sources, options, on_progress=progress_bar("file"))
    if report_path:
        with atomic_write(report_path, "w") as f:
            json.dump(report.to_dict(), f, indent=1)
    summary = report.summary()
    _echo_build_summary(summary)
    if not summary["kept"]:
        raise SketchtoolError(f"no usable drawings in {summary['files']} file(s); nothing written"
                              f"{' (see ' + report_path + ')' if report_path else '; pass --report r.json for details'}")
    if options.strict and report.failures():
        raise SketchtoolError(f"--strict: {report.failures()} file(s) unusable; nothing written")
    save_dataset(out, dataset)
    click.echo(f"Wrote {out} ({Path(out).stat().st_size / 1e6:.2f} MB)" + (f"; report {report_path}" if report_path else ""))


def _echo_build_summary(summary: dict) -> None:
    skipped = sum(summary["skipped"].values())
    reasons = ", ".join(f"{k} {v}" for k, v in summary["skipped"].items())
    warned = summary["files_with_warnings"]
    click.echo(f"Read {summary['files']} file(s): kept {summary['kept']}, skipped {skipped}"
               + (f" ({reasons})" if reasons else "") + (f"; {warned} with warnings (see --report)" if warned else ""))
    if summary["resimplified"]:
        click.echo(f"Re-simplified with a larger epsilon to fit --max-seq-len: {summary['resimplified']}")
    if summary["text_elements"]:
        click.echo(f"Left out {summary['text_elements']:,} <text> elements: text is not drawn as strokes (labels such "
                   "as KanjiVG's stroke numbers; fine to ignore)")
    click.echo("Splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()))
    click.echo(f"Points per drawing: {_format_stats(summary['points'])}")
    click.echo(f"Strokes per drawing: {_format_stats(summary['strokes'])}")
    for warning in summary["warnings"]:
        click.echo(f"Warning: {warning}", err=True)


@click.command("info")
@click.argument("dataset", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def info_command(dataset, as_json):
    """Show what a dataset (.npz) holds: splits, classes, lengths, scale factor, build settings
    (an image dataset: image shape, ink per image, how it was made).

    \b
    Example:
      sketchtool info kanji.npz
    """
    from sketchtool.dataset import describe_dataset
    from sketchtool.formats.npz import load_dataset
    from sketchtool.images import dataset_kind, describe_image_dataset, load_image_dataset

    if dataset_kind(dataset) == "images":
        info = {"path": dataset, **describe_image_dataset(load_image_dataset(dataset))}
        if as_json:
            click.echo(json.dumps(info, indent=1))
        else:
            _echo_image_info(info)
        return
    info = {"path": dataset, **describe_dataset(load_dataset(dataset))}
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    click.echo(f"{info['path']}: " + ", ".join(f"{k} {v}" for k, v in info["splits"].items())
               + f" drawings ({', '.join(info['dtype']) or 'empty'})")
    classes = next(iter(info["classes"].values()))
    if len(classes) > 1:
        click.echo(f"Classes ({len(classes)}):")
        for name in classes:
            click.echo(f"  {name}: " + ", ".join(f"{s} {c[name]}" for s, c in info["classes"].items()))
    for split in info["points"]:
        if info["points"][split]["count"]:
            click.echo(f"{split}: points {_format_stats(info['points'][split])}; "
                       f"strokes {_format_stats(info['strokes'][split])}")
    if info["scale_factor"] is not None:  # None: no drawing has a point
        click.echo(f"Scale factor (std of train offsets): {info['scale_factor']}")
    if info["settings"]:
        click.echo("Build settings: " + ", ".join(f"{k}={v}" for k, v in sorted(info["settings"].items())))


def _echo_image_info(info: dict) -> None:
    h, w = info["image_shape"]
    click.echo(f"{info['path']}: " + ", ".join(f"{k} {v}" for k, v in info["splits"].items()) + f" images of {w}x{h} (uint8)")
    classes = info["classes"]["train"]
    if len(classes) > 1:
        click.echo(f"Classes ({len(classes)}):")
        for name in classes:
            click.echo(f"  {name}: " + ", ".join(f"{s} {c[name]}" for s, c in info["classes"].items()))
    for split, stats in info["ink"].items():
        if stats["count"]:
            click.echo(f"{split}: ink per image {_format_stats(stats)}")
    meta = {k: v for k, v in info["meta"].items() if k not in ("kind", "image_shape")}
    click.echo("Made with: " + ", ".join(f"{k}={v}" for k, v in sorted(meta.items())))


@click.command("show")
@click.argument("dataset", type=click.Path(dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help=f"Preview file; its extension picks the format ({describe('drawings')}). Image datasets: "
                   f"{describe('images')}.")
@click.option("--n", "count", default=100, show_default=True, type=COUNT, help=f"Drawings to show, 1 to {MAX_DRAWINGS:,}.")
@click.option("--split", default="train", show_default=True, type=click.Choice(["train", "valid", "test"]))
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the random pick, 0 to 2^64-1.")
@click.option("--cols", default=None, type=click.IntRange(min=1), help="Grid columns [default: square grid].")
@click.option("--class", "class_name", default=None, help="Only drawings of this class.")
@click.option("--colour-by-order", is_flag=True, help="Colour strokes by their order in the drawing.")
@COMMON_SCALE
@picture_options
@FORCE
def show_command(dataset, out, count, split, seed, cols, class_name, colour_by_order, common_scale, stroke_width,
                 png_width, dpi, force):
    """Draw a random grid of a dataset's drawings (or images) into a preview file; --out's extension picks the
    format (an image dataset: .png or .npz).

    \b
    Example:
      sketchtool show kanji.npz -o preview.png --n 64 --split valid
    """
    import numpy as np

    from sketchtool.errors import SketchtoolError
    from sketchtool.fileio import check_output_path
    from sketchtool.formats import require_output, write_drawings
    from sketchtool.images import ImageDataset, load_any_dataset

    check_output_path(out, inputs=[dataset], force=force)
    ds = load_any_dataset(dataset, splits=(split,))
    require_output("images" if isinstance(ds, ImageDataset) else "drawings", out)
    refuse_unseen_look(out, images=isinstance(ds, ImageDataset))
    indices = np.arange(len(ds.splits[split]))
    if class_name is not None:
        if class_name not in ds.class_names:
            known = ", ".join(ds.class_names) or "none (single-class dataset)"
            raise SketchtoolError(f"--class {class_name!r}: not in {dataset}; classes: {known}")
        indices = np.flatnonzero(ds.labels_of(split) == ds.class_names.index(class_name))
    if len(indices) == 0:
        counts = load_any_dataset(dataset).counts()  # all splits, to say where the drawings are
        raise SketchtoolError(f"{dataset}: no drawings in split {split!r}" + (f" of class {class_name!r}" if class_name else "")
                              + f"; splits: {', '.join(f'{k} {v}' for k, v in counts.items())}")
    picked = np.sort(np.random.default_rng(seed).choice(indices, size=min(count, len(indices)), replace=False))
    look = picture_look(stroke_width=stroke_width, png_width=png_width, dpi=dpi, cols=cols,
                        colour_by_order=colour_by_order, common_scale=common_scale,
                        labels=ds.labels_of(split)[picked], class_names=ds.class_names)
    if isinstance(ds, ImageDataset):  # a grid of its pixels
        from sketchtool.formats import write_images

        write_images(out, ds.splits[split][picked] / np.float32(255), look)
        click.echo(f"Wrote {out}: {len(picked)} of {len(indices)} {split} images")
        return
    drawings = [ds.splits[split][i] for i in picked]
    write_drawings(out, drawings, look)
    click.echo(f"Wrote {out}: {len(drawings)} of {len(indices)} {split} drawings")


COMMANDS = [build_dataset_command, info_command, show_command]
