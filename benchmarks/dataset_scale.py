"""QuickDraw-size datasets: `info` and the data side of `train` (read, fit the spec, build the train and valid batch
sources: everything before the first step) on a synthetic set of N drawings, with this checkout and optionally an
older one (`--before`, the root of another checkout), each step in its own process, interleaved.

    python benchmarks/dataset_scale.py [--drawings 300000] [--before /tmp/old-checkout] [--json scale.json]

The set is the aaron_sheep drawings tiled to N train drawings (N/30 valid and test), a fifth of their offsets moved
by one unit, int16 object arrays as Google's files store them. Wall seconds and peak RSS (the child's ru_maxrss)
per step; for train also the scale factor, max_seq_len, the sources' sizes and a digest of the first three random
batches, which must be equal across versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "aaron_sheep.npz"

_MEASURE = """
import json, resource, sys, time
started = time.perf_counter()
result = {{}}
{body}
result.update(wall_s=round(time.perf_counter() - started, 2),
              peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
print("RESULT " + json.dumps(result), file=sys.stderr)
"""

_INFO = """
import contextlib, io, runpy
sys.argv = ["sketchtool", "info", {path!r}, "--json"]
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    runpy.run_module("sketchtool", run_name="__main__")
result["scale_factor"] = json.loads(out.getvalue())["scale_factor"]
"""

_TRAIN_DATA = """
import hashlib
from sketchtool.dataspec import DataSpec
from sketchtool.formats.npz import load_dataset
from sketchtool.models.sketch_rnn import SketchRNN
from sketchtool.train import resolve_hparams
data = load_dataset({path!r})
hps, spec = SketchRNN.fit_data(resolve_hparams("sketch-rnn", preset="small"), data, DataSpec())
sources = {{s: SketchRNN.batch_source(hps, spec, data, s, train=s == "train", seed=0) for s in ("train", "valid")}}
del data
digest = hashlib.sha256()
for _ in range(3):
    batch = sources["train"].random_batch()
    digest.update(batch.strokes5.numpy().tobytes() + batch.lengths.numpy().tobytes())
result.update(scale_factor=spec.scale_factor, max_seq_len=hps.max_seq_len, train=len(sources["train"]),
              valid=len(sources["valid"]), batches_sha256=digest.hexdigest()[:16])
"""


def make_set(source: Path, n: int, out: Path) -> None:
    """N train and N/30 valid and test drawings tiled from `source`, a fifth of the offsets moved by one unit."""
    with np.load(source, allow_pickle=True, encoding="latin1") as f:  # our own test data
        pool = [np.asarray(d, dtype=np.int16) for k in ("train", "valid", "test") for d in f[k]]
    rng = np.random.default_rng(0)

    def split(count: int) -> np.ndarray:
        out = np.empty(count, dtype=object)
        for i, j in enumerate(rng.integers(0, len(pool), count)):
            d = pool[j].copy()
            d[:, :2] += (rng.integers(-1, 2, (len(d), 2)) * (rng.random((len(d), 2)) < 0.2)).astype(np.int16)
            out[i] = d
        return out

    np.savez(out, train=split(n), valid=split(max(1, n // 30)), test=split(max(1, n // 30)))


def measure(checkout: Path, body: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _MEASURE.format(body=body)], capture_output=True, text=True,
                          env=env, cwd=tempfile.gettempdir(), check=True)
    return json.loads(done.stderr.rsplit("RESULT ", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--drawings", type=int, default=300_000)
    parser.add_argument("--before", default=None, help="Root of an older checkout to compare with.")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    versions = {"after": ROOT, **({"before": Path(args.before)} if args.before else {})}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.npz"
        make_set(Path(args.data), args.drawings, path)
        report = {"drawings": args.drawings, "file_mb": round(path.stat().st_size / 1e6, 1)}
        for step, body in (("info", _INFO), ("train_data", _TRAIN_DATA)):
            for name in reversed(versions):  # before first: the page cache is warm for both
                report.setdefault(step, {})[name] = measure(versions[name], body.format(path=str(path)))
    for step in ("info", "train_data"):
        if "before" in report[step]:
            before, after = report[step]["before"], report[step]["after"]
            report[step]["ratio"] = {"wall": round(before["wall_s"] / after["wall_s"], 2),
                                     "peak_rss": round(before["peak_rss_mb"] / after["peak_rss_mb"], 2)}
            report[step]["same_results"] = {k: v for k, v in before.items() if k not in ("wall_s", "peak_rss_mb")} \
                == {k: v for k, v in after.items() if k not in ("wall_s", "peak_rss_mb")}
    report["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    report["load_average"] = os.getloadavg()
    text = json.dumps(report, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()
