"""`sketchtool train`, `eval` and `curves`: parse options, call sketchtool.train, print what the model reports.

Printers show whatever loss terms a model returns ("loss" first), so no command knows one model's terms.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import click

from sketchtool.cli.options import PRECISION, SEED

__all__ = ["COMMANDS", "curves_command", "eval_command", "train_command"]

REPORT_EVERY_S = 10.0  # off a terminal (nohup, CI, a log file): one progress line this often
MAX_SEED = 2**63 - 1  # train's: leaves room for seed + process rank (each torchrun process seeds with both)


def format_terms(terms: dict, digits: int = 4) -> str:
    """'loss 0.1234  L_R ...': "loss" first, then the model's terms in the order it returned them."""
    keys = (["loss"] if "loss" in terms else []) + [k for k in terms if k != "loss"]
    return "  ".join(f"{k} {terms[k]:.{digits}f}" for k in keys if isinstance(terms[k], (int, float)))


@click.command("train")
@click.argument("dataset", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "run_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory (created; refused if it exists unless --resume).")
@click.option("--model", default="sketch-rnn", show_default=True,
              help="Registered model name (`sketchtool models --all` lists them).")
@click.option("--preset", default=None,
              help="Hparam preset of the model; sketch-rnn: reference (magenta defaults) or small (CPU: 1.1 steps/s "
                   "measured, so its 10k steps take about 2.5 h).")
@click.option("--config", type=click.Path(dir_okay=False, exists=True), help="JSON file of hparams.")
@click.option("--hparams", default="", help='Overrides, e.g. "dec_model=layer_norm,dec_rnn_size=512".')
@click.option("--steps", type=click.IntRange(min=1), help="Training steps (default: hparam num_steps).")
@click.option("--save-every", type=click.IntRange(min=1),
              help="Validate and checkpoint every N steps (default: hparam save_every).")
@click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True,
              help="Write the mean training losses to metrics.jsonl every N steps.")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True),
              help="Stop (saving) after this many minutes of training.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or mps.")
@click.option("--precision", type=PRECISION, default="auto", show_default=True,
              help="auto: bf16 matmuls where the hardware does them natively; fp32; bf16.")
# hidden until a GPU session has measured it (benchmarks/gpu_session.sh; docs/BENCHMARKS.md "GPU")
@click.option("--cuda-graph", is_flag=True, hidden=True,
              help="Replay each training step as one CUDA graph: on a GPU a Sketch-RNN step is otherwise the host "
                   "launching ~36,000 small kernels. One process, --device cuda.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: 1 on hosts with <= 2 cores, else half the cores, at most 8).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its latest checkpoint (its hparams; --steps may extend it).")
@click.option("--init", "init", metavar="MODEL",
              help="Start from this model's weights (run dir, checkpoint or embedded name, e.g. sheep): its "
                   "hparams (--hparams may change training ones) and units, fresh optimisers from step 0.")
@click.option("--new-dataset", is_flag=True,
              help="With --resume: continue on a different dataset file on purpose (best.pt starts afresh).")
def train_command(dataset, run_dir, model, preset, config, hparams, steps, save_every, log_every, minutes, device,
                  precision, cuda_graph, threads, seed, resume, init, new_dataset):
    """Train a model on a DATASET (.npz of strokes or images).

    Ctrl-C or SIGTERM finishes the current step, saves it and exits; a second one stops at once (the run
    then resumes from its last checkpoint).

    \b
    Examples:
      sketchtool train sheep.npz -o runs/sheep --preset small
      sketchtool train sheep.npz -o runs/sheep --resume --steps 8000
      sketchtool train my_sheep.npz -o runs/mine --init sheep --steps 2000
      torchrun --nproc-per-node 2 -m sketchtool train sheep.npz -o runs/ddp
    """
    from sketchtool.device import configure_threads

    configure_threads(threads)  # before torch loads, so its OpenMP workers wait passively
    from click.core import ParameterSource

    from sketchtool.errors import SketchtoolError
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, init_hparams, resolve_hparams, resume_conflicts, train

    model_given = click.get_current_context().get_parameter_source("model") != ParameterSource.DEFAULT
    given_model = model if model_given else None  # --model as typed; None when left at its default
    if new_dataset and not resume:
        raise SketchtoolError("--new-dataset lets --resume continue on another dataset; a new run takes any dataset "
                              "without it")
    if init is not None:
        clash = [flag for flag, given in (("--resume", resume), ("--preset", preset), ("--config", config)) if given]
        if clash:
            raise SketchtoolError(f"--init takes the model and hparams of {init}; drop {', '.join(clash)}")
        model, hps = init_hparams(init, parse_hparams(hparams))
        if given_model not in (None, model):
            raise SketchtoolError(f"--init {init} is a {model} model, not --model {given_model}; drop --model")
    elif resume:  # the same command with --resume added is fine; a changed model or hparam is refused, not ignored
        conflicts = resume_conflicts(run_dir, given_model, dataset, preset=preset, config=config,
                                     overrides=parse_hparams(hparams))
        if conflicts:
            raise SketchtoolError(f"--resume continues with the run's own model and hparams, not "
                                  f"{'; '.join(conflicts)}; start a new run (or --init it) to change them")
        hps = None
    else:
        hps = resolve_hparams(model, preset=preset, config=config, overrides=parse_hparams(hparams))
    stop = threading.Event()
    options = TrainOptions(steps=steps, save_every=save_every, device=device, precision=precision, seed=seed,
                           log_every=log_every, max_minutes=minutes, new_dataset=new_dataset, init=init,
                           cuda_graph=cuda_graph, stop=stop)
    progress = _TrainProgress()
    with _stop_on_signals(stop):
        try:
            result = train(dataset, run_dir, model=model, hps=hps, options=options, resume=resume,
                           on_progress=progress, on_start=lambda line: click.echo(f"Training {line}", err=True))
        finally:
            progress.close()
    valid = format_terms(result.metrics) or "not measured"
    best = f"{result.best_valid:.4f}" if result.best_valid != float("inf") else "none yet"  # stopped before validating
    if result.main:  # under torchrun, rank 0 speaks for the run
        click.echo(f"{result.run_dir}: step {result.step} ({result.stopped}); valid {valid}; best loss {best}")
    if result.stopped == "interrupted":
        if result.main:
            click.echo(f"Interrupted: step {result.step} is saved in {result.run_dir}/latest.pt; continue with "
                       f"`sketchtool train {dataset} -o {result.run_dir} --resume`", err=True)
        sys.exit(130)


class _TrainProgress:
    """A tqdm bar on a terminal; elsewhere one line every REPORT_EVERY_S seconds and at each validation (step,
    losses, steps/s, ETA), so a run under nohup or CI shows it is alive."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.last_line = 0.0
        self.valid: dict = {}
        self.valid_step = 0

    def __call__(self, info: dict) -> None:
        if info["valid"]:
            self.valid, self.valid_step = info["valid"], info["step"]
        if self.tty:
            self._bar(info)
        elif info["valid"] or time.monotonic() - self.last_line >= REPORT_EVERY_S:
            self.last_line = time.monotonic()
            left = (info["total"] - info["step"]) / info["steps_per_s"] if info["steps_per_s"] > 0 else float("nan")
            # the last validation, marked with its step where it is not this one's
            at = "" if self.valid_step == info["step"] else f" (at step {self.valid_step})"
            valid = f"; valid{at} {format_terms(self.valid, 3)}" if self.valid else ""
            click.echo(f"step {info['step']}/{info['total']}  {format_terms(info['train'], 3)}{valid}  "
                       f"{info['steps_per_s']:.2f} steps/s  ETA {_duration(left)}", err=True)

    def _bar(self, info: dict) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=info["total"], initial=info["step"] - 1, unit="step", dynamic_ncols=True,
                            file=sys.stderr)
        shown = dict(list(info["train"].items())[:3])
        postfix = {k: f"{v:.3f}" for k, v in shown.items()}
        if self.valid:
            postfix["valid"] = f"{self.valid.get('loss', float('nan')):.3f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class _stop_on_signals:
    """SIGINT and SIGTERM (as job schedulers send) ask the trainer to stop after the current step, saved; a second
    one raises KeyboardInterrupt at once. SIGINT is also handled in runs started in the background, where shells
    ignore it. Handlers are restored on exit."""

    def __init__(self, stop: threading.Event):
        self.stop = stop
        self.previous: dict = {}

    def _handle(self, signum, frame):
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        if os.environ.get("RANK", "0") == "0":  # torchrun signals every rank; rank 0 speaks for the run
            click.echo("Stopping after this step (again to stop at once)...", err=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


@click.command("eval")
@click.argument("run", type=click.Path())
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "valid", "test"]),
              help="The dataset split to score.")
@click.option("--dataset", type=click.Path(dir_okay=False), help="Dataset (default: the one the model was trained on).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, mps or auto.")
@click.option("--precision", type=PRECISION, default="fp32", show_default=True,
              help="fp32 by default so that figures compare across machines (auto and bf16 as for train).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of the evaluation noise (e.g. Sketch-RNN's z samples); the same seed, the same figures.")
def eval_command(run, split, dataset, device, precision, seed):
    """Print the loss terms of a trained RUN (run directory, .pt file or embedded model name) on a dataset split.

    \b
    Example:
      sketchtool eval sheep --dataset aaron_sheep.npz --split test
    """
    from sketchtool.device import configure_threads

    configure_threads(None)
    from sketchtool.checkpoint import resolve_checkpoint
    from sketchtool.pretrained import EMBEDDED, resolve_model
    from sketchtool.train import evaluate

    checkpoint = resolve_checkpoint(resolve_model(run, option="model"))  # a run directory: best.pt, else latest.pt
    m = evaluate(checkpoint, split=split, dataset=dataset, device=device, precision=precision, seed=seed)
    items, total, step = m.pop("items"), m.pop("split_items"), m.pop("step")
    embedded = {model.path: name for name, model in EMBEDDED.items()}
    click.echo(f"{'embedded ' + embedded[checkpoint] if checkpoint in embedded else checkpoint} at step {step:,}")
    left_out = f" of {total:,}; the rest are longer than the model takes" if total > items else ""
    click.echo(f"{split} ({items:,} items{left_out}): {format_terms(m)}")


@click.command("curves")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False), help="Image file (.png, .svg, .pdf).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def curves_command(run_dir, out, force):
    """Draw the training and validation curves of RUN_DIR, one panel per loss term the model logs.

    \b
    Example:
      sketchtool curves runs/my -o curves.png
    """
    from sketchtool.curves import plot_curves

    plot_curves(run_dir, out, force=force)
    click.echo(f"Wrote {out}")


COMMANDS = [train_command, eval_command, curves_command]
