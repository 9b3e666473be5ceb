"""How sure is a Sketch-RNN model that a drawing has ended? Under teacher forcing on a split (each step given the
true prefix, z the posterior mean, or a prior draw with --prior), the end-of-drawing probability at each drawing's
true end and at the pen lifts where the drawing goes on, at pen temperatures 1 (the model as trained), τ (the
paper's sampler) and 0.5 + 0.5·τ (magenta-js's). A model that gives its end state less than the other two states
at the true end never ends at a low pen temperature: drawings run on to max_seq_len.

    OMP_NUM_THREADS=1 python benchmarks/pen_state.py [--model sheep] [--data ../shared/data/aaron_sheep.npz]
        [--split test] [--temperature 0.4] [--prior]
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sheep")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test")
    parser.add_argument("--temperature", type=float, default=0.4)
    parser.add_argument("--prior", action="store_true", help="z ~ N(0, I) instead of the posterior mean")
    args = parser.parse_args()

    import torch

    from sketchtool.batching import default_batch_source
    from sketchtool.checkpoint import load_model
    from sketchtool.formats.npz import load_dataset
    from sketchtool.models.mixture import pen_temperature_for
    from sketchtool.pretrained import resolve_model

    torch.set_num_threads(1)
    model, info = load_model(resolve_model(args.model))
    source = default_batch_source(info.spec, load_dataset(args.data), args.split, batch_size=10_000)
    batch = next(iter(source.batches()))
    z = torch.randn(len(batch), model.hps.z_size, generator=torch.Generator().manual_seed(0)) if args.prior else None
    p = model.teacher_forced(batch, z)
    target, inputs = batch.strokes5[:, 1:], batch.strokes5[:, :-1]
    ends = batch.lengths < target.shape[1]  # a drawing of max_seq_len points has no end step to score
    rows, last = torch.arange(len(batch))[ends], batch.lengths[ends]
    going_on = (inputs[..., 3] > 0.5) & (target[..., 4] < 0.5)  # after a pen lift, and the drawing continues
    tau = args.temperature
    print(f"model {args.model}, {args.split} split: {len(rows)} drawings with an end step, "
          f"{int(going_on.sum())} pen lifts the drawing goes on after; z {'prior' if args.prior else 'posterior mean'}\n")
    print("| pen temperature | P(end) at the true end: mean | median | end is the likeliest state "
          "| P(end) at lifts that go on |\n|---|---|---|---|---|")
    for label, t in (("1 (as trained)", 1.0), (f"τ = {tau:g} (paper)", tau),
                     (f"0.5 + 0.5·τ = {pen_temperature_for(tau):g} (magenta-js)", pen_temperature_for(tau))):
        pen = torch.softmax(p.pen_logits / t, -1)
        at_end = pen[rows, last]
        print(f"| {label} | {at_end[:, 2].mean():.3f} | {at_end[:, 2].median():.3f} "
              f"| {(at_end.argmax(-1) == 2).float().mean():.0%} | {pen[..., 2][going_on].mean():.3f} |")


if __name__ == "__main__":
    main()
