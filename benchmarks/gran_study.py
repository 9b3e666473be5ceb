"""The GRAN study: T in {1, 3, 5} (T = 1 is the DCGAN-like ablation) over several seeds, at equal steps and at
equal compute, compared by GAM battles between every pair of step counts (per seed) and by `score`'s judge
(Fréchet distance, precision, recall, recognition) against held-out images.

    python benchmarks/gran_study.py DATA.npz [--T 1 3 5] [--seeds 0 1 2] [--steps 3000] [--equal-time]
        [--hold-out 1000] [--split valid] [--n 1000] [--work /tmp/gran-study] [--json study.json]
    python benchmarks/gran_study.py --report study.json     # the record as the Markdown tables of BENCHMARKS.md

Equal steps: every run trains `--steps`. `--equal-time` then adds a second phase in which every T gets the CPU
seconds the median T used for `--steps` (mean over seeds), converted to steps with each T's own measured CPU cost
per step. Compute is measured as process CPU time, not wall time, so other jobs on a shared host do not tilt it;
pin the study to a core of its own (`taskset -c 0`) all the same.

An image dataset without a valid split (examples/mnist's mnist.npz) gets a random `--hold-out` of its training
images (seed 0; mnist.npz's train split is in class order) moved to valid (a copy in --work; grey, like the
training images; mnist.npz's test split is binarised, which no GAN trained on grey digits has seen). Battles and
scores use `--split`. Samples are drawn at temperature 1 (the trained noise distribution). Prints one JSON line
per run and battle, then the whole record.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from pathlib import Path

STUDY = {"num_z": 32, "ckern": 8, "nkerns": [4, 2], "dis_ckern": 16, "conv_num_hid": 64, "batch_size": 64,
         "epsilon_gen": 2e-4, "epsilon_dis": 1e-4}


def held_out(path: Path, work: Path, count: int) -> Path:
    from sketchtool.images import load_image_dataset, save_image_dataset, with_random_valid

    ds = load_image_dataset(path)
    if len(ds.splits["valid"]):
        return path
    out = work / f"{path.stem}-holdout.npz"
    save_image_dataset(out, with_random_valid(ds, count, seed=0))  # mnist.npz's train is in class order
    return out


def train_run(data: Path, run: Path, T: int, seed: int, steps: int) -> dict:
    from sketchtool.train import TrainOptions, evaluate, resolve_hparams, train

    wall, cpu = time.perf_counter(), time.process_time()
    result = train(data, run, model="gran", hps=resolve_hparams("gran", overrides={**STUDY, "T": T}),
                   options=TrainOptions(steps=steps, save_every=steps, seed=seed, log_every=100))
    return {"T": T, "seed": seed, "steps": result.step, "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "moment_mismatch": round(evaluate(run / "latest.pt", split="valid")["loss"], 5)}


def judge_figures(checkpoint: Path, reference, train_images, judge, n: int, seed: int) -> dict:
    """`score`'s figures for n samples of one run at temperature 1 (and the floor and noise baseline rows)."""
    from sketchtool.checkpoint import load_model
    from sketchtool.sampling import SampleOptions, generate
    from sketchtool.score import ScoreOptions, score_samples

    model, info = load_model(checkpoint)
    images = generate(model, info, n, SampleOptions(temperature=1.0, seed=seed)).images
    return score_samples(images, reference, train_images, judge, ScoreOptions(seed=0))


def battles(runs: dict, Ts: list[int], seeds: list[int], test, n: int) -> list[dict]:
    from sketchtool.checkpoint import load_model
    from sketchtool.gam import battle

    rows = []
    for seed in seeds:
        for t_a, t_b in itertools.combinations(Ts, 2):
            r = battle(load_model(runs[t_a, seed])[0], load_model(runs[t_b, seed])[0], test, n_samples=n, seed=seed)
            rows.append({"seed": seed, "A": f"T{t_a}", "B": f"T{t_b}", "winner": r.winner,
                         "winner_T": {"A": t_a, "B": t_b}.get(r.winner), "gate": r.gate_passed,
                         "r_test": round(r.r_test.value, 4), "r_test_95": [round(r.r_test.low, 3),
                                                                           round(r.r_test.high, 3)],
                         "r_sample": round(r.r_sample.value, 4), "r_sample_smoothed": r.r_sample.smoothed_used,
                         "err_test_A": r.test_a.rate, "err_test_B": r.test_b.rate,
                         "err_A_on_GB": r.sample_a.rate, "err_B_on_GA": r.sample_b.rate})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def run_phase(name: str, steps_of: dict, args, data: Path, work: Path, test, train_images, judge,
              done: dict | None = None) -> tuple[dict, dict]:
    """Train and score every (T, seed) for steps_of[T], then battle them: ({"runs", "battles"}, the runs by
    (T, seed) as (checkpoint, row, score report)). A run already `done` at those steps (training is deterministic
    for a seed) is reused, not repeated."""
    runs = {}
    for T, seed in itertools.product(args.T, args.seeds):
        earlier = (done or {}).get((T, seed))
        if earlier is not None and earlier[1]["steps"] == steps_of[T]:
            runs[T, seed] = earlier
            print(json.dumps(earlier[1]), flush=True)
            continue
        run = work / name / f"T{T}-seed{seed}"
        row = train_run(data, run, T, seed, steps_of[T])
        report = judge_figures(run / "latest.pt", test, train_images, judge, args.n, seed)
        row["score"] = _figures(report["samples"])
        runs[T, seed] = (run / "latest.pt", row, report)
        print(json.dumps(row), flush=True)
    checkpoints = {key: checkpoint for key, (checkpoint, _, _) in runs.items()}
    return {"runs": [row for _, row, _ in runs.values()],
            "battles": battles(checkpoints, args.T, args.seeds, test, args.n)}, runs


def _figures(row: dict) -> dict:
    return {k: round(row[k], 4) for k in ("frechet", "precision", "recall", "recognition")}


def markdown(record: dict) -> str:
    """Per phase: one row per run (compute, moment mismatch, judge figures), then one per battle."""
    out = []
    for phase in ("equal_steps", "equal_time"):
        if phase not in record:
            continue
        block = record[phase]
        out += [f"**{phase.replace('_', ' ')}**" + (f" (CPU budget {block['cpu_s_budget']} s, T = "
                                                     f"{block['budget_of_T']}'s)" if "cpu_s_budget" in block else ""),
                "", "| T | seed | steps | CPU s | moment mismatch | Fréchet | precision | recall | recognised |",
                "|---|---|---|---|---|---|---|---|---|"]
        out += [f"| {r['T']} | {r['seed']} | {r['steps']:,} | {r['cpu_s']:.0f} | {r['moment_mismatch']:.4f} | "
                f"{r['score']['frechet']:.1f} | {r['score']['precision']:.3f} | {r['score']['recall']:.3f} | "
                f"{100 * r['score']['recognition']:.1f}% |" for r in block["runs"]]
        for name in ("floor", "baseline"):
            f = record.get(name) or block[name]
            out.append(f"| {name} | | | | | {f['frechet']:.1f} | {f['precision']:.3f} | {f['recall']:.3f} | "
                       f"{100 * f['recognition']:.1f}% |")
        out += ["", "| seed | A vs B | ε D_A(test) | ε D_B(test) | ε D_A(G_B) | ε D_B(G_A) | r_test (95%) | "
                "r_sample | gate | winner |", "|---|---|---|---|---|---|---|---|---|---|"]
        out += [f"| {b['seed']} | {b['A']} vs {b['B']} | {b['err_test_A']:.3f} | {b['err_test_B']:.3f} | "
                f"{b['err_A_on_GB']:.3f} | {b['err_B_on_GA']:.3f} | {b['r_test']:.2f} ({b['r_test_95'][0]:.2f}–"
                f"{b['r_test_95'][1]:.2f}) | {b['r_sample']:.3g} | {'passed' if b['gate'] else 'failed'} | "
                f"{'**T%d**' % b['winner_T'] if b['winner_T'] else (b['winner'] or 'none')} |"
                for b in block["battles"]]
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?")
    parser.add_argument("--report", type=Path, help="print a saved record (--json) as Markdown tables and stop")
    parser.add_argument("--T", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--equal-time", action="store_true",
                        help="a second phase at the CPU time the median T took for --steps")
    parser.add_argument("--hold-out", type=int, default=1000)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/gran-study"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return
    if args.data is None:
        parser.error("give DATA.npz (or --report study.json)")

    import torch

    from sketchtool.images import load_image_dataset
    from sketchtool.judge import load_judge

    args.work.mkdir(parents=True, exist_ok=True)
    data = held_out(args.data, args.work, args.hold_out)
    work = args.work / f"{args.data.stem}-{args.steps}steps-{int(time.time())}"
    ds = load_image_dataset(data)
    test, train_images, judge = ds.images(args.split), ds.images("train"), load_judge()
    equal_steps, done = run_phase("equal-steps", {T: args.steps for T in args.T}, args, data, work, test,
                                  train_images, judge)
    reference = done[args.T[0], args.seeds[0]][2]  # every report has the same floor and baseline rows
    record = {"data": str(args.data), "split": args.split, "hparams": STUDY, "n": args.n,
              "floor": _figures(reference["floor"]), "baseline": _figures(reference["baseline"]),
              "equal_steps": equal_steps}
    if args.equal_time:
        cpu_per_step = {T: statistics.mean(r["cpu_s"] / r["steps"] for r in equal_steps["runs"] if r["T"] == T)
                        for T in args.T}
        budget_T = sorted(args.T)[len(args.T) // 2]
        budget_s = cpu_per_step[budget_T] * args.steps
        steps_of = {T: max(1, round(budget_s / cpu_per_step[T])) for T in args.T}
        record["equal_time"] = {"cpu_s_budget": round(budget_s, 1), "budget_of_T": budget_T, "steps": steps_of,
                                **run_phase("equal-time", steps_of, args, data, work, test, train_images, judge,
                                            done)[0]}
    record["machine"] = (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} thread(s)")
    print(json.dumps(record))
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
