"""The GRAN study: T in {1, 3, 5} (T = 1 is the DCGAN-like ablation) over several seeds, at equal steps or at
equal wall time, compared by GAM battles between every pair of step counts (per seed) and by the pixel moment
mismatch of samples against held-out data (the model's validation "loss").

    python benchmarks/gran_study.py DATA.npz [--T 1 3 5] [--seeds 0 1 2] [--steps 600 | --minutes 1.5]
        [--hold-out 1000] [--split valid] [--n 1000] [--work /tmp/gran-study]

An image dataset without a valid split (examples/mnist's mnist.npz) gets its last `--hold-out` training images
moved to valid (a copy in --work; grey, like the training images; mnist.npz's test split is binarised, which
no GAN trained on grey digits has seen). Battles use `--split`. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import time
from pathlib import Path

STUDY = {"num_z": 32, "ckern": 8, "nkerns": [4, 2], "dis_ckern": 16, "conv_num_hid": 64, "batch_size": 64,
         "epsilon_gen": 2e-4, "epsilon_dis": 1e-4}


def held_out(path: Path, work: Path, count: int) -> Path:
    from sketchtool.images import ImageDataset, load_image_dataset, save_image_dataset

    ds = load_image_dataset(path)
    if len(ds.splits["valid"]):
        return path
    train, labels = ds.splits["train"], ds.labels_of("train")
    out = work / f"{path.stem}-holdout.npz"
    save_image_dataset(out, ImageDataset(splits={"train": train[:-count], "valid": train[-count:],
                                                 "test": ds.splits["test"]},
                                         labels={"train": labels[:-count], "valid": labels[-count:],
                                                 "test": ds.labels_of("test")},
                                         class_names=ds.class_names, meta=ds.meta))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--T", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--minutes", type=float, default=None, help="equal wall time instead of equal steps")
    parser.add_argument("--hold-out", type=int, default=1000)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gran-study"))
    args = parser.parse_args()

    import torch

    from sketchtool.checkpoint import load_model
    from sketchtool.gam import battle
    from sketchtool.images import load_image_dataset
    from sketchtool.train import TrainOptions, evaluate, resolve_hparams, train

    args.work.mkdir(parents=True, exist_ok=True)
    data = held_out(args.data, args.work, args.hold_out)
    tag = f"{args.data.stem}-{'%gmin' % args.minutes if args.minutes else '%dsteps' % args.steps}-{int(time.time())}"
    runs, record = {}, {"runs": [], "battles": []}
    for T, seed in itertools.product(args.T, args.seeds):
        run = args.work / tag / f"T{T}-seed{seed}"
        options = TrainOptions(steps=10**7 if args.minutes else args.steps, save_every=10**7 if args.minutes else
                               args.steps, max_minutes=args.minutes, seed=seed, log_every=50)
        wall, cpu = time.perf_counter(), time.process_time()
        result = train(data, run, model="gran", hps=resolve_hparams("gran", overrides={**STUDY, "T": T}),
                       options=options)
        runs[T, seed] = run / "latest.pt"
        record["runs"].append({"T": T, "seed": seed, "steps": result.step,
                               "wall_s": round(time.perf_counter() - wall, 1),
                               "cpu_s": round(time.process_time() - cpu, 1),
                               "moment_mismatch": round(evaluate(run / "latest.pt", split="valid")["loss"], 5)})
        print(json.dumps(record["runs"][-1]), flush=True)
    test = load_image_dataset(data).images(args.split)
    for seed in args.seeds:
        for t_a, t_b in itertools.combinations(args.T, 2):
            a, b = load_model(runs[t_a, seed])[0], load_model(runs[t_b, seed])[0]
            r = battle(a, b, test, n_samples=args.n, seed=seed)
            row = {"seed": seed, "A": f"T{t_a}", "B": f"T{t_b}", "winner": r.winner,
                   "winner_T": {"A": t_a, "B": t_b}.get(r.winner), "gate": r.gate_passed,
                   "r_test": round(r.r_test.value, 4), "r_sample": round(r.r_sample.value, 4),
                   "err_test_A": r.test_a.rate, "err_test_B": r.test_b.rate,
                   "err_A_on_GB": r.sample_a.rate, "err_B_on_GA": r.sample_b.rate}
            record["battles"].append(row)
            print(json.dumps(row), flush=True)
    record.update({"data": str(args.data), "split": args.split, "hparams": STUDY,
                   "budget": {"minutes": args.minutes} if args.minutes else {"steps": args.steps},
                   "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                              f"{torch.get_num_threads()} thread(s), shared with other jobs"})
    print(json.dumps(record))


if __name__ == "__main__":
    main()
