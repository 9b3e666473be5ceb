"""`sketchtool battle`: the Generative Adversarial Metric between two trained image models (`sketchtool.gam`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sketchtool.cli.options import SEED

__all__ = ["COMMANDS"]


@click.command("battle")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--data", "data_ref", required=True, metavar="DATA.npz[:SPLIT]",
              help="The image dataset both models were trained on; its test split by default.")
@click.option("--n", "n", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Samples each generator draws.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of both generators' noise.")
@click.option("--tolerance", type=float, default=0.2, show_default=True,
              help="The r_test gate: r_test's 95% interval must reach within a factor 1 + this of 1 for a verdict.")
@click.option("--smoothing", type=float, default=1.0, show_default=True,
              help="Additive smoothing of error counts, used where a raw ratio is 0/0 or k/0.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the full result as JSON to this file.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--force", is_flag=True, help="Overwrite an existing --json file.")
def battle_command(run_a, run_b, data_ref, n, seed, tolerance, smoothing, json_out, device, force):
    """Battle two models (GAM, Im et al. 2016): each discriminator judges the other's samples and the test split.

    RUN_A and RUN_B are run directories or checkpoints of models that can generate and discriminate (gran).
    Prints the raw error rates, r_test and r_sample (smoothed where a raw ratio is 0/0), the r_test gate and
    the winner: A wins when r_sample < 1 and r_test is about 1.

    \b
    Examples:
      sketchtool battle runs/gran-t3 runs/gran-t1 --data mnist-v2.npz
      sketchtool battle runs/a runs/b --data mnist-v2.npz:valid --n 2000 --json battle.json
    """
    from sketchtool.checkpoint import load_model
    from sketchtool.device import resolve_device
    from sketchtool.errors import SketchtoolError
    from sketchtool.fileio import atomic_write, check_output_path
    from sketchtool.gam import battle, check_settings
    from sketchtool.images import load_image_dataset

    path, _, split = data_ref.partition(":")
    split = split or "test"
    if split not in ("train", "valid", "test"):
        raise SketchtoolError(f"--data {data_ref}: split {split!r}; use train, valid or test")
    check_settings(tolerance, smoothing)
    if json_out is not None:
        if Path(json_out).suffix.lower() != ".json":
            raise SketchtoolError(f"--json {json_out}: the report is JSON; give a .json file")
        check_output_path(json_out, inputs=[path, run_a, run_b], force=force)
    dev = str(resolve_device(device))
    images = load_image_dataset(path).images(split)
    if not len(images):
        raise SketchtoolError(f"--data {data_ref}: the {split} split is empty; a battle needs real images to judge")
    model_a, _ = load_model(run_a, device=dev)
    model_b, _ = load_model(run_b, device=dev)
    result = battle(model_a, model_b, images, n_samples=n, seed=seed, tolerance=tolerance, smoothing=smoothing)
    for label, err in ((f"D_A on {split}", result.test_a), (f"D_B on {split}", result.test_b),
                       ("D_A on G_B samples", result.sample_a), ("D_B on G_A samples", result.sample_b)):
        click.echo(f"{label:<20} error {err.rate:.4f} ({err.errors}/{err.n})")
    for name, r in (("r_test", result.r_test), ("r_sample", result.r_sample)):
        raw = "0/0" if r.raw is None else f"{r.raw:.4g}"
        note = " (smoothed value used)" if r.smoothed_used else ""
        click.echo(f"{name:<9} raw {raw}, smoothed {r.smoothed:.4g}{note}, 95% interval {r.low:.3g} to {r.high:.3g}")
    click.echo(f"gate: r_test's interval reaches within a factor {1 + tolerance:g} of 1: "
               f"{'passed' if result.gate_passed else 'failed'}")
    click.echo(f"verdict: {result.reason}")
    if json_out is not None:
        with atomic_write(json_out, "w") as f:
            json.dump({"a": str(run_a), "b": str(run_b), "data": data_ref, "n": n, "seed": seed,
                       **result.to_dict()}, f, indent=2)


COMMANDS = [battle_command]
