"""`sketchtool train`, `eval` and `curves`: parse options, call sketchtool.train, print a short summary."""

from __future__ import annotations

import os
import signal

import click

__all__ = ["COMMANDS", "curves_command", "eval_command", "train_command"]


@click.command("train")
@click.argument("dataset", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory (created; refused if it exists unless --resume).")
@click.option("--model", default="sketch-rnn", show_default=True, help="Registered model name.")
@click.option("--preset", default=None, help="Hparam preset: reference (magenta defaults) or small (CPU, ~1 hour).")
@click.option("--config", type=click.Path(dir_okay=False, exists=True), help="JSON file of hparams.")
@click.option("--hparams", default="", help='Overrides, e.g. "dec_model=layer_norm,dec_rnn_size=512".')
@click.option("--steps", type=int, help="Training steps (default: hparam num_steps).")
@click.option("--save-every", type=int, help="Validate and checkpoint every N steps (default: hparam save_every).")
@click.option("--minutes", type=float, help="Stop (saving) after this many minutes of training.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--precision", default="auto", show_default=True, help="auto, fp32 or bf16 (bf16 matmuls).")
@click.option("--threads", type=int, help="CPU threads (default 1 on hosts with <= 2 cores).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its latest checkpoint (its hparams; --steps may extend it).")
def train_command(dataset, run_dir, model, preset, config, hparams, steps, save_every, minutes, device, precision,
                  threads, seed, resume):
    """Train a model on a stroke-3 DATASET (.npz).

    \b
    Examples:
      sketchtool train sheep.npz -o runs/sheep --preset small
      sketchtool train sheep.npz -o runs/sheep --resume --steps 8000
      torchrun --nproc-per-node 2 -m sketchtool train sheep.npz -o runs/ddp
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read when torch loads OpenMP, so before any torch import
    from tqdm import tqdm

    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, resolve_hparams, train

    hps = None if resume else resolve_hparams(model, preset=preset, config=config, overrides=parse_hparams(hparams))
    options = TrainOptions(steps=steps, save_every=save_every, device=device, precision=precision, threads=threads,
                           seed=seed, max_minutes=minutes)
    bar = tqdm(unit="step", dynamic_ncols=True, disable=None)
    last_valid: dict[str, str] = {}

    def progress(info):
        if bar.total != info["total"]:
            bar.reset(total=info["total"])
            bar.update(info["step"] - 1)
        if info["valid"]:
            last_valid["valid"] = f"{info['valid']['loss']:.3f}"
        terms = {k: f"{info['train'][k]:.3f}" for k in ("loss", "L_R", "L_KL")}
        bar.set_postfix({**terms, **last_valid}, refresh=False)
        bar.update(1)

    _save_on_termination()
    try:
        result = train(dataset, run_dir, model=model, hps=hps, options=options, resume=resume, on_progress=progress)
    finally:
        bar.close()
    m = result.metrics
    click.echo(f"{result.run_dir}: step {result.step} ({result.stopped}); valid loss {m.get('loss', float('nan')):.4f} "
               f"L_R {m.get('L_R', float('nan')):.4f} L_KL {m.get('L_KL', float('nan')):.4f}; best {result.best_valid:.4f}")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _save_on_termination() -> None:
    """`kill` (SIGTERM, as job schedulers send) saves like Ctrl-C does; SIGINT is restored for runs started in the
    background, where shells ignore it."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)


@click.command("eval")
@click.argument("run", type=click.Path())
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "valid", "test"]))
@click.option("--dataset", type=click.Path(dir_okay=False), help="Dataset (default: the one the model was trained on).")
@click.option("--device", default="cpu", show_default=True)
def eval_command(run, split, dataset, device):
    """Print L_R, L_KL and the total loss of a trained RUN (directory or .pt) on a dataset split."""
    from sketchtool.train import evaluate

    m = evaluate(run, split=split, dataset=dataset, device=device)
    click.echo(f"{split} ({m['drawings']} drawings): L_R {m['L_R']:.4f}  L_KL {m['L_KL']:.4f}  total {m['loss']:.4f}")


@click.command("curves")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Image file (.png, .svg, .pdf).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def curves_command(run_dir, out, force):
    """Draw the training and validation curves of RUN_DIR."""
    from sketchtool.curves import plot_curves

    plot_curves(run_dir, out, force=force)
    click.echo(f"wrote {out}")


COMMANDS = [train_command, eval_command, curves_command]
