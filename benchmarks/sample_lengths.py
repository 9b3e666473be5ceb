"""Do sampled drawings end by themselves? Lengths of generated drawings at several temperatures against the
lengths of the dataset's test drawings: a model that has not learnt when a drawing is finished runs on to
max_seq_len and scribbles. Each temperature τ is sampled twice: with the default pen-state temperature (magenta-js's
0.5 + 0.5·τ) and with τ itself (magenta's Python sampler, the paper), where a
less-than-certain end-of-drawing state fades at low τ.

    OMP_NUM_THREADS=1 python benchmarks/sample_lengths.py [--model sheep] [--data ../shared/data/aaron_sheep.npz]
        [--n 500] [--temperatures 0.2,0.4,0.7,1.0] [--seed 1]

Prints a markdown table (points per drawing; "hit max" = share that reached max_seq_len without ending).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"


def row(name: str, lengths: np.ndarray, max_len: int) -> str:
    return (f"| {name} | {lengths.mean():.0f} | {np.median(lengths):.0f} | {np.percentile(lengths, 95):.0f} "
            f"| {np.mean(lengths >= max_len):.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sheep", help="run dir, checkpoint or embedded name")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dataset whose test split is the reference")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--temperatures", default="0.2,0.4,0.7,1.0")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import torch

    from sketchtool.checkpoint import load_model
    from sketchtool.formats.npz import load_dataset
    from sketchtool.pretrained import resolve_model
    from sketchtool.sampling import SampleOptions, generate

    torch.set_num_threads(1)
    model, info = load_model(resolve_model(args.model))
    max_len = int(model.hps.max_seq_len)
    print(f"model {args.model}, max_seq_len {max_len}, {args.n} drawings per temperature, seed {args.seed}\n")
    print("| drawings | mean points | median | p95 | hit max |\n|---|---|---|---|---|")
    if args.data.exists():
        test = load_dataset(args.data).splits["test"]
        print(row(f"{args.data.name} test split", np.array([len(d) for d in test]), max_len))
    for tau in (float(t) for t in args.temperatures.split(",")):
        for label, pen in (("default pen temperature", None), ("pen temperature = τ", tau)):
            drawings = generate(model, info, args.n, SampleOptions(seed=args.seed, temperature=tau,
                                                                   pen_temperature=pen))
            print(row(f"generated, τ = {tau:g}, {label}", np.array([len(d) for d in drawings]), max_len))


if __name__ == "__main__":
    main()
