"""`score`: objective sample quality against a reference split (thin: `sketchtool.score` does the work)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sketchtool.cli.options import COUNT, SEED, given_options
from sketchtool.errors import SketchtoolError

__all__ = ["COMMANDS"]

DEFAULT_TEMPERATURE = 0.4  # = sketchtool.sampling.DEFAULT_TEMPERATURE (not imported here: it imports torch)


@click.command("score")
@click.argument("samples", required=False, metavar="[SAMPLES]")
@click.option("--ref", required=True, metavar="DATA.npz[:SPLIT]",
              help="Reference dataset and split [default split: test]; its train split gives the floor row.")
@click.option("--model", "model_ref", default=None, metavar="MODEL",
              help="Sample this run, checkpoint or embedded model first, instead of reading SAMPLES.")
@click.option("--n", type=COUNT, default=1000, show_default=True,
              help="Drawings to sample with --model (10 to 20,000).")
@click.option("--temperature", type=float, default=DEFAULT_TEMPERATURE, show_default=True,
              help="Sampling temperature with --model (> 0).")
@click.option("--pen-temperature", type=float, default=None, metavar="FLOAT",
              help="With --model: Sketch-RNN's pen-state temperature [default: 0.5 + 0.5 x --temperature].")
@click.option("--z-temperature", type=float, default=None, metavar="FLOAT",
              help="With --model: Sketch-RNN's random latents z ~ N(0, T²I) [default: 0.6; 1: the paper's prior].")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the samples (--model), the floor's train subset and the baseline.")
@click.option("--max-length", type=click.IntRange(min=1), default=None,
              help="The sampler's point cap, to count drawings that ended by themselves [default: the model's with "
                   "--model; for SAMPLES none, and ended shows -].")
@click.option("--intended", default=None, metavar="COLLECTION",
              help="Judge collection the samples should be recognised as [default: the reference's].")
@click.option("--k", type=click.IntRange(1, 100), default=3, show_default=True, help="Neighbours for precision/recall.")
@click.option("--judge", "judge_path", type=click.Path(dir_okay=False), default=None,
              help="Judge weights [default: the shipped judge].")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Also write the report here.")
@click.option("--force", is_flag=True, help="Overwrite an existing --json file.")
def score_command(samples, ref, model_ref, n, temperature, pen_temperature, z_temperature, seed, max_length, intended,
                  k, judge_path, json_out, force):
    """Score drawings or images against a reference split: Fréchet distance, precision and recall in the judge
    network's feature space, recognition by the judge, and for drawings the share that ended by themselves and
    how far their lengths and stroke counts are from the reference's. Beside each figure: the reference's train
    split (the floor a perfect model reaches) and a trivial baseline. See docs/score.md.

    \b
    Examples:
      sketchtool score samples.npz --ref aaron_sheep.npz:test --max-length 250
      sketchtool score --model sheep --n 1000 --temperature 0.3 --ref aaron_sheep.npz:test --json sheep.json
    """
    from sketchtool.device import configure_threads

    configure_threads(None)
    from sketchtool.checkpoint import resolve_checkpoint
    from sketchtool.fileio import atomic_write, check_output_path
    from sketchtool.formats import parse_reference
    from sketchtool.judge import load_judge
    from sketchtool.pretrained import resolve_model
    from sketchtool.score import MAX_SAMPLES, MIN_SAMPLES, ScoreOptions, score_samples

    if (samples is None) == (model_ref is None):
        raise SketchtoolError("give either SAMPLES (an .npz) or --model RUN to sample, not both and not neither")
    sampling_only = given_options("n", "temperature", "pen_temperature", "z_temperature")
    if samples is not None and sampling_only:
        raise SketchtoolError(f"{', '.join(sampling_only)}: for sampling with --model; SAMPLES are scored as they are")
    from sketchtool.sampling import SampleOptions

    sampling = SampleOptions(temperature=temperature, seed=seed, pen_temperature=pen_temperature,
                             z_temperature=z_temperature)
    sampling.validate()
    if model_ref is not None and not MIN_SAMPLES <= n <= MAX_SAMPLES:  # refused before minutes of sampling
        raise SketchtoolError(f"--n {n}: score needs {MIN_SAMPLES} to {MAX_SAMPLES:,} samples (1,000 gives stable "
                              "figures)")
    ref_path, split, index = parse_reference(ref)
    if index is not None:
        raise SketchtoolError(f"--ref {ref}: give a dataset split (DATA.npz:test), not one drawing")
    if json_out is not None:
        if Path(json_out).suffix.lower() != ".json":
            raise SketchtoolError(f"--json {json_out}: the report is JSON; give a .json file")
        inputs = (ref_path, samples and parse_reference(samples)[0], model_ref and resolve_model(model_ref),
                  judge_path)
        check_output_path(json_out, inputs=[str(p) for p in inputs if p], force=force)
    reference, train = _reference(ref_path, split or "test")
    if model_ref is not None and len(reference) > MAX_SAMPLES:
        raise SketchtoolError(f"--ref {ref}: {len(reference):,} drawings; score compares at most {MAX_SAMPLES:,} "
                              "(1,000 gives stable figures); pass a smaller split")
    if model_ref is None:
        drawings = _read_samples(samples)
        if max_length is not None and not isinstance(drawings, list):
            raise SketchtoolError(_IMAGES_HAVE_NO_LENGTH)
    else:
        model_path = resolve_checkpoint(resolve_model(model_ref))  # a wrong name fails before anything loads
    judge = load_judge(judge_path)
    if model_ref is not None:
        drawings, max_length = _sample(model_path, n, sampling, max_length)
    report = score_samples(drawings, reference, train, judge,
                           ScoreOptions(k=k, seed=seed, max_length=max_length, intended=intended))
    report["inputs"] = {"samples": samples, "model": model_ref, "temperature": temperature if model_ref else None,
                        "pen_temperature": pen_temperature if model_ref else None,
                        "z_temperature": z_temperature if model_ref else None,
                        "ref": f"{ref_path}:{split or 'test'}", "max_length": max_length}
    click.echo(format_report(report))
    for warning in report["warnings"]:
        click.echo(f"Warning: {warning}", err=True)
    if json_out is not None:
        with atomic_write(json_out, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        click.echo(f"Wrote {json_out}")


def format_report(report: dict) -> str:
    """The printed table: one row per set, the figures as columns."""
    columns = [("Fréchet", "frechet", "{:9.2f}"), ("precision", "precision", "{:9.3f}"),
               ("recall", "recall", "{:9.3f}"), ("recognised", "recognition", "{:10.3f}")]
    stroke_columns = [("ended", "ended_by_itself", "{:6.3f}"), ("points W1", "points_distance", "{:9.1f}"),
                      ("strokes W1", "strokes_distance", "{:10.2f}")]
    has_strokes = "strokes" in report["samples"]
    head = f"{'':10}" + " ".join(f"{c[0]:>{len(c[2].format(0))}}" for c in columns + (stroke_columns if has_strokes else []))
    lines = [f"{report['n']} samples against {report['inputs']['ref']} ({report['reference_n']}); "
             f"judge collection {report['intended']!r}, k={report['k']}, seed {report['seed']}", head]
    for name, label in (("samples", "samples"), ("floor", "floor"), ("baseline", "baseline")):
        row = report[name]
        cells = [fmt.format(row[key]) if key in row else f"{'-':>{len(fmt.format(0))}}" for _, key, fmt in columns]
        if has_strokes:
            stats = row.get("strokes", {})
            cells += [fmt.format(stats[key]) if key in stats else f"{'-':>{len(fmt.format(0))}}"
                      for _, key, fmt in stroke_columns]
        lines.append(f"{label:10}" + " ".join(cells))
    lines.append(f"floor: {report['floor_n']} train drawings against the same split; "
                 "baseline: random drawings with the reference's own steps and lengths (images: independent pixels)")
    return "\n".join(lines)


def _reference(path: Path, split: str):
    """(reference split, train split): lists of stroke-3 drawings, or float image arrays."""
    from sketchtool.images import ImageDataset, load_any_dataset

    ds = load_any_dataset(path, splits=(split, "train"))
    if isinstance(ds, ImageDataset):
        reference, train = ds.images(split), ds.images("train")
    else:
        reference, train = ds.splits[split], ds.splits["train"]
    if len(reference) == 0:
        raise SketchtoolError(f"{path}: split {split!r} is empty; give a split with drawings (--ref {path}:test)")
    return reference, train


_IMAGES_HAVE_NO_LENGTH = "--max-length: counts drawings that ended by themselves; images have no length, drop it"


def _read_samples(ref: str):
    """Drawings from a stroke .npz (all splits, or NAME.npz:split) or images from an image-dataset .npz."""
    import numpy as np

    from sketchtool.formats import parse_reference
    from sketchtool.images import ImageDataset, load_any_dataset

    path, split, index = parse_reference(ref)
    if path.suffix.lower() != ".npz":
        raise SketchtoolError(f"{ref}: samples must be an .npz (write them with `sketchtool generate --out X.npz`)")
    if index is not None:
        raise SketchtoolError(f"{ref}: give a whole file or split of samples, not one drawing")
    names = [split] if split else ["train", "valid", "test"]
    ds = load_any_dataset(path, splits=names)
    if isinstance(ds, ImageDataset):
        return np.concatenate([ds.images(s) for s in names])
    return [d for s in names for d in ds.splits[s]]


def _sample(model_path: Path, n: int, options, max_length: int | None):
    """n samples from a model, and its point cap (the drawings that reach it did not end by themselves)."""
    from sketchtool.checkpoint import load_model
    from sketchtool.cli.progress import progress_bar
    from sketchtool.sampling import generate

    model, info = load_model(model_path)
    if model.output_kind == "images" and max_length is not None:
        raise SketchtoolError(_IMAGES_HAVE_NO_LENGTH)
    result = generate(model, info, n, options, on_progress=progress_bar("drawing"))
    if model.output_kind == "images":
        return result.images, None
    return result, max_length or info.spec.max_length


COMMANDS = [score_command]
