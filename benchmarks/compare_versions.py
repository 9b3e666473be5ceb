"""Two installed versions of sketchtool side by side, through their own `sketchtool` commands only (so it works
across library API changes): do they draw the same bytes, and how fast is one against the other in the same run.

    # one venv per version, e.g. the commit before a refactor in its own worktree
    python benchmarks/compare_versions.py outputs --before /work/venv-before/bin/sketchtool \\
        --after /work/venv-regress/bin/sketchtool [--json outputs.json]
    python benchmarks/compare_versions.py speed --before ... --after ... [--repeats 5] [--n 1000] \\
        [--train-steps 20] [--data ../shared/data/aaron_sheep.npz] [--json speed.json]

`outputs` runs the same sampling command lines (generate, complete, interpolate, reconstruct, analogy; both embedded
models; several seeds, temperatures, --greedy; precision auto and fp32; .npz, .svg, .png) with each version and
compares the output files byte for byte; where .npz bytes differ it also says whether the drawings inside are equal.
The fp32 spelling (`float32` before issue 11, `fp32` after) and `--common-scale` (issue 10: grids fit each drawing to
its cell unless it is given) are read from each version's `--help`, so grids are compared in the old layout.

`speed` times whole commands, interleaved (before, after, after, before, ... so drift hits both sides alike), on one
thread: `generate --n N --out x.npz`, `generate --n 50 --out grid.svg`, and `train DATA --preset small --steps S`.
It reports medians of wall and CPU seconds (user + sys of the child: what the process itself used, robust to other
load) and after/before ratios: the ratio of medians and the spread of the per-repeat ratios. For training it also
reads steps/s from the run's metrics.jsonl and checks that both versions logged the same training losses.

`library` runs this checkout's in-process benchmarks with each version's Python and library, interleaved the same
way: `train_speed.py --only fast,lstm,bf16` (one reference-size training step, wall and CPU s/step) and
`generate_speed.py` (N drawings batched, auto and fp32; 20 one at a time; one whole `generate --n 50` command;
wall seconds), and the same sampling timed in CPU seconds (`--only "sampling CPU"` runs just that).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sampling"
# ../shared/data next to the main checkout; a worktree under wt/ looks one level further up
DEFAULT_DATA = next((p for p in (ROOT.parent / "shared" / "data" / "aaron_sheep.npz",
                                 ROOT.parent.parent / "shared" / "data" / "aaron_sheep.npz") if p.exists()),
                    ROOT.parent / "shared" / "data" / "aaron_sheep.npz")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class Version:
    """One installed `sketchtool` executable and the spellings its CLI understands."""

    def __init__(self, label: str, exe: str):
        self.label, self.exe = label, exe
        help_text = subprocess.run([exe, "generate", "--help"], capture_output=True, text=True, env=ENV).stdout
        if "Usage" not in help_text:
            sys.exit(f"{exe}: `generate --help` did not run")
        self.fp32 = "fp32" if "fp32" in help_text else "float32"
        self.common_scale = "--common-scale" in help_text

    def args(self, args: list[str]) -> list[str]:
        """The version's own spelling of a command line written in the new vocabulary."""
        out = [self.fp32 if a == "fp32" else a for a in args]
        suffix = Path(args[args.index("--out") + 1]).suffix if "--out" in args else ""
        if self.common_scale and suffix in (".svg", ".png"):
            out.append("--common-scale")
        return out

    def run(self, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
        """(process, wall seconds, CPU seconds of the child)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([self.exe, *self.args(args)], cwd=cwd, capture_output=True, text=True, env=ENV)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return proc, wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


# --- outputs ----------------------------------------------------------------------------------------------------

def _ratios(b: list[float], a: list[float]) -> dict:
    """Medians before and after, their ratio, and the spread of the per-repeat (interleaved pair) ratios."""
    pair = sorted(y / x for x, y in zip(b, a))
    return {"before_median": statistics.median(b), "after_median": statistics.median(a),
            "ratio_of_medians": statistics.median(a) / statistics.median(b),
            "pair_ratio_min": pair[0], "pair_ratio_median": statistics.median(pair),
            "pair_ratio_max": pair[-1], "before": b, "after": a}

def output_cases() -> list[list[str]]:
    """Command lines (new spelling, output file name last-but-one after --out) covering every sampling path."""
    a, b, start = (str(FIXTURES / f) for f in ("sheep_a.svg", "sheep_b.svg", "sheep_start.svg"))
    cases = []
    for model in ("sheep", "kanji"):
        m = ["--model", model, "--threads", "1"]
        for seed in ("0", "7", "123456"):
            for look in ([], ["--temperature", "0.1"], ["--temperature", "1.0"], ["--greedy"]):
                cases.append(["generate", *m, "--seed", seed, "--n", "16", *look, "--out", "gen.npz"])
            cases.append(["generate", *m, "--seed", seed, "--n", "16", "--precision", "fp32", "--out", "gen.npz"])
        for look in ([], ["--temperature", "1.0"], ["--greedy"]):
            cases.append(["generate", *m, "--seed", "0", "--n", "16", *look, "--out", "gen.svg"])
        cases.append(["generate", *m, "--seed", "0", "--n", "16", "--out", "gen.png"])
        # 64 drawings or more in one batch: "auto" multiplies in bfloat16 on CPUs that do that natively
        for seed in ("0", "1"):
            for precision in ("auto", "fp32"):
                cases.append(["generate", *m, "--seed", seed, "--n", "100", "--precision", precision, "--out",
                              "gen.npz"])
        for seed in ("0", "1"):
            for kind in ("npz", "svg"):
                cases.append(["complete", start, *m, "--seed", seed, "--n", "4", "--out", f"done.{kind}"])
        cases.append(["complete", start, *m, "--seed", "0", "--n", "4", "--greedy", "--out", "done.npz"])
        cases.append(["complete", start, *m, "--seed", "0", "--n", "4", "--precision", "fp32", "--out", "done.npz"])
        cases.append(["complete", start, *m, "--seed", "0", "--n", "4", "--out", "done.png"])
        for kind in ("npz", "svg"):
            cases.append(["interpolate", a, b, *m, "--seed", "0", "--steps", "6", "--out", f"interp.{kind}"])
            cases.append(["reconstruct", a, b, *m, "--seed", "0", "--n", "2", "--out", f"rec.{kind}"])
        cases.append(["interpolate", a, b, *m, "--seed", "0", "--steps", "6", "--linear", "--out", "interp.npz"])
        cases.append(["interpolate", a, b, *m, "--seed", "0", "--steps", "6", "--with-inputs", "--out", "interp.svg"])
        cases.append(["reconstruct", a, b, *m, "--seed", "3", "--n", "2", "--greedy", "--out", "rec.npz"])
        cases.append(["reconstruct", a, b, *m, "--seed", "3", "--n", "2", "--precision", "fp32", "--out", "rec.npz"])
        cases.append(["analogy", a, b, start, *m, "--seed", "0", "--n", "3", "--out", "analogy.npz"])
    return cases


def npz_contents_equal(x: Path, y: Path) -> bool:
    import numpy as np

    with np.load(x, allow_pickle=True) as p, np.load(y, allow_pickle=True) as q:
        if sorted(p.files) != sorted(q.files):
            return False
        for key in p.files:
            u, v = p[key], q[key]
            if u.dtype == object:
                if len(u) != len(v) or any(not np.array_equal(s, t) for s, t in zip(u, v)):
                    return False
            elif u.dtype != v.dtype or not np.array_equal(u, v):
                return False
    return True


def first_difference(x: Path, y: Path) -> str:
    if x.suffix == ".npz":
        names = lambda p: [(i.filename, i.CRC, i.file_size) for i in zipfile.ZipFile(p).infolist()]
        same = npz_contents_equal(x, y)
        return f"npz contents {'equal' if same else 'DIFFER'}; members {names(x)} vs {names(y)}"
    bx, by = x.read_bytes(), y.read_bytes()
    i = next((k for k in range(min(len(bx), len(by))) if bx[k] != by[k]), min(len(bx), len(by)))
    return f"sizes {len(bx)} vs {len(by)}; first differing byte {i}: {bx[max(0, i - 40):i + 40]!r} vs " \
           f"{by[max(0, i - 40):i + 40]!r}"


def compare_outputs(before: Version, after: Version, work: Path) -> list[dict]:
    results = []
    cases = output_cases()
    for k, case in enumerate(cases):
        out_name = case[case.index("--out") + 1]
        files = {}
        procs = {}
        for version in (before, after):
            cwd = work / version.label / str(k)
            cwd.mkdir(parents=True)
            procs[version.label] = version.run(case, cwd)[0]
            files[version.label] = cwd / out_name
        pb, pa = procs["before"], procs["after"]
        fb, fa = files["before"], files["after"]
        record = {"case": k, "command": "sketchtool " + " ".join(case), "before_rc": pb.returncode,
                  "after_rc": pa.returncode}
        if pb.returncode or pa.returncode:
            record["status"] = "both refused" if pb.returncode and pa.returncode else "ONE REFUSED"
            record["detail"] = f"before: {pb.stderr.strip()[-300:]} | after: {pa.stderr.strip()[-300:]}"
        elif fb.read_bytes() == fa.read_bytes():
            record["status"] = "identical"
            record["bytes"] = fb.stat().st_size
        else:
            record["status"] = "DIFFERENT"
            record["detail"] = first_difference(fb, fa)
        record["stdout_same"] = pb.stdout == pa.stdout
        results.append(record)
        print(f"[{k + 1}/{len(cases)}] {record['status']:>12}  {record['command']}"
              + (f"\n      {record['detail']}" if "detail" in record else ""), flush=True)
    return results


# --- speed ------------------------------------------------------------------------------------------------------
def speed_runs(before: Version, after: Version, args, work: Path) -> dict:
    benches = {
        f"generate --n {args.n} --out x.npz": lambda r: ["generate", "--n", str(args.n), "--seed", str(r),
                                                           "--threads", "1", "--out", "x.npz"],
        "generate --n 50 --out grid.svg": lambda r: ["generate", "--n", "50", "--seed", str(r), "--threads", "1",
                                                      "--out", "grid.svg"],
        f"train --preset small --steps {args.train_steps}": lambda r: [
            "train", str(Path(args.data).resolve()), "-o", "run", "--preset", "small", "--steps",
            str(args.train_steps), "--save-every", "100000", "--threads", "1", "--seed", "0"],
    }
    if args.skip_train:
        benches = {k: v for k, v in benches.items() if not k.startswith("train")}
    samples: dict[str, dict[str, list]] = {name: {"before": [], "after": []} for name in benches}
    losses: dict[str, list] = {"before": [], "after": []}
    for r in range(args.repeats):
        for name, make in benches.items():
            order = (before, after) if r % 2 == 0 else (after, before)
            for version in order:
                cwd = work / f"{version.label}-{r}-{len(samples[name][version.label])}-{abs(hash(name))}"
                cwd.mkdir(parents=True)
                load = os.getloadavg()[0]
                proc, wall, cpu = version.run(make(r), cwd)
                if proc.returncode:
                    sys.exit(f"{version.label}: {' '.join(make(r))} failed:\n{proc.stderr[-2000:]}")
                sample = {"wall": wall, "cpu": cpu, "load": load}
                metrics = cwd / "run" / "metrics.jsonl"
                if metrics.exists():
                    train = [json.loads(line) for line in metrics.read_text().splitlines()]
                    train = [t for t in train if t.get("split") == "train"]
                    sample["steps_per_s"] = train[-1]["steps_per_s"]
                    losses[version.label].append([(t["step"], t["loss"], t["L_R"], t["L_KL"]) for t in train])
                samples[name][version.label].append(sample)
                print(f"repeat {r + 1}/{args.repeats} {version.label:>6} {name}: wall {wall:.2f} s, CPU {cpu:.2f} s, "
                      f"load {load:.1f}" + (f", {sample['steps_per_s']:.3f} steps/s" if "steps_per_s" in sample
                                            else ""), flush=True)
    summary = {}
    for name, sides in samples.items():
        row = {}
        for key in ("wall", "cpu", "steps_per_s"):
            b = [s[key] for s in sides["before"] if key in s]
            a = [s[key] for s in sides["after"] if key in s]
            if not b or not a:
                continue
            row[key] = _ratios(b, a)
        row["load"] = [s["load"] for side in sides.values() for s in side]
        summary[name] = row
    if losses["before"]:
        summary["train_losses_identical"] = all(x == y for x in losses["before"] for y in losses["after"])
        summary["train_losses"] = {"before": losses["before"][0], "after": losses["after"][0]}
    return summary


# CPU seconds (process time: what this process used, whatever else runs) of sampling through the library functions
# both versions have; printed as one JSON line
SAMPLING_CPU = """
import json, sys, time, torch
from sketchtool.checkpoint import load_model
from sketchtool.pretrained import resolve_model
from sketchtool.sampling import SampleOptions, generate
torch.set_num_threads(1)
n, single, fp32 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
model, info = load_model(resolve_model("sheep"))
generate(model, info, 64, SampleOptions(seed=0))
t = time.process_time(); generate(model, info, n, SampleOptions(seed=1, chunk_size=n)); auto = time.process_time() - t
t = time.process_time(); generate(model, info, n, SampleOptions(seed=1, chunk_size=n, precision=fp32))
f32 = time.process_time() - t
t = time.process_time()
for i in range(single):
    generate(model, info, 1, SampleOptions(seed=100 + i))
one = time.process_time() - t
print(json.dumps({"batched_auto_cpu_s": auto, "batched_fp32_cpu_s": f32, "single_cpu_s": one}))
"""


def library_runs(before: Version, after: Version, args) -> dict:
    """The repository's own in-process benchmarks (this checkout's scripts, each version's library): one training
    step of the reference model (`train_speed.py --only fast,lstm,bf16`) and batched sampling of N drawings
    (`generate_speed.py`), interleaved like `speed`. Both scripts use only functions both versions have."""
    here = Path(__file__).resolve().parent
    benches = {
        "train_speed.py fast,lstm,bf16 (s/step)": (
            lambda py, v: [py, str(here / "train_speed.py"), "--only", "fast,lstm,bf16", "--steps", "3", "--data",
                        str(Path(args.data).resolve()), "--threads", "1"],
            lambda out: {"wall_s_per_step": out["s_per_step"], "cpu_s_per_step": out["cpu_s_per_step"]}),
        f"sampling CPU s, sheep, N = {args.n} and 20 one at a time": (
            lambda py, v: [py, "-c", SAMPLING_CPU, str(args.n), "20", v.fp32],
            lambda out: out),
        f"generate_speed.py --n {args.n} (batched s)": (
            lambda py, v: [py, str(here / "generate_speed.py"), "--n", str(args.n), "--single", "20", "--repeats", "1",
                        "--threads", "1"],
            lambda out: {"batched_auto_s": out["sampling"]["batched_s"],
                         "batched_fp32_s": out["sampling"]["batched_float32_s"],
                         "single_20_s": out["sampling"]["single_s"],
                         "cli_generate_50_s": out["cli_generate_50"]["median_wall_s"]}),
    }
    if args.only:
        benches = {k: v for k, v in benches.items() if args.only in k}
    samples: dict[str, dict[str, list]] = {name: {"before": [], "after": []} for name in benches}
    for r in range(args.repeats):
        for name, (make, read) in benches.items():
            for version in ((before, after) if r % 2 == 0 else (after, before)):
                bin_dir = Path(version.exe).parent
                env = {**ENV, "PATH": f"{bin_dir}{os.pathsep}{ENV.get('PATH', '')}", "OMP_WAIT_POLICY": "PASSIVE"}
                load = os.getloadavg()[0]
                proc = subprocess.run(make(str(bin_dir / "python"), version), capture_output=True, text=True, env=env,
                                      cwd=here.parent)
                if proc.returncode:
                    sys.exit(f"{version.label}: {name} failed:\n{proc.stderr[-2000:]}")
                text = proc.stdout.strip()
                out = json.loads(text if text.startswith("{") and text.endswith("}") and "\n{" not in text[1:]
                                 else text[text.index("{"):])
                sample = {**read(out), "load": load}
                samples[name][version.label].append(sample)
                print(f"repeat {r + 1}/{args.repeats} {version.label:>6} {name}: {sample}", flush=True)
    summary = {}
    for name, sides in samples.items():
        row = {}
        for key in sides["before"][0]:
            if key == "load":
                continue
            b, a = [s[key] for s in sides["before"]], [s[key] for s in sides["after"]]
            row[key] = _ratios(b, a)
        row["load"] = [s["load"] for side in sides.values() for s in side]
        summary[name] = row
    return summary


def print_speed(summary: dict) -> None:
    print("\nafter/before (< 1: after is faster; for steps/s > 1 is faster)")
    for name, row in summary.items():
        if not isinstance(row, dict) or "load" not in row:
            continue
        for key in [k for k in row if k != "load"]:
            s = row[key]
            print(f"  {name:<40} {key:<12} before {s['before_median']:8.3f}  after {s['after_median']:8.3f}  "
                  f"ratio of medians {s['ratio_of_medians']:.3f}  (per-repeat ratios {s['pair_ratio_min']:.3f}"
                  f"..{s['pair_ratio_max']:.3f}, median {s['pair_ratio_median']:.3f})")
        print(f"  {'':<40} load average {min(row['load']):.1f}..{max(row['load']):.1f}")
    if "train_losses_identical" in summary:
        print(f"  training losses logged by both versions identical: {summary['train_losses_identical']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["outputs", "speed", "library"])
    parser.add_argument("--before", required=True, help="the older version's `sketchtool` executable")
    parser.add_argument("--after", required=True, help="the newer version's `sketchtool` executable")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--only", help="library: run only the benchmarks whose name contains this")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--keep", help="keep the outputs in this folder (default: a temporary one)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    before, after = Version("before", args.before), Version("after", args.after)
    print(f"before: {before.exe} (fp32 spelled {before.fp32!r}, --common-scale {before.common_scale}); "
          f"after: {after.exe} (fp32 spelled {after.fp32!r}, --common-scale {after.common_scale})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.what == "outputs":
            results = compare_outputs(before, after, work)
            counts = {s: sum(r["status"] == s for r in results) for s in {r["status"] for r in results}}
            print(f"\n{len(results)} command lines: {counts}")
        else:
            results = speed_runs(before, after, args, work) if args.what == "speed" else \
                library_runs(before, after, args)
            print_speed(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"what": args.what, "before": before.exe, "after": after.exe,
                                               "results": results}, indent=1))


if __name__ == "__main__":
    main()
