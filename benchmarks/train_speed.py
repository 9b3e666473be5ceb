"""Training speed of Sketch-RNN at magenta's reference defaults (batch 100, enc 256 / dec 512, M 20, max_seq_len 250)
on aaron_sheep: steps/s and peak memory for each decoder cell, fp32 and bf16, against a naive implementation in the
same run that computes like the reference trainers (all 250 steps of every sequence, encoder included, and one
[x; h]·W matmul per step).

    OMP_NUM_THREADS=1 python benchmarks/train_speed.py --steps 3 [--device cuda] [--threads 1] [--batch-size 100]
        [--json out.json]

On CUDA it also times the step captured in a CUDA graph (`train --cuda-graph`).

Each configuration runs in its own process so peak memory (RSS, or CUDA max allocated) is its own. On a shared
host, CPU seconds per step (one thread) say more than wall-clock seconds; both are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"
CONFIGS = [("naive", "lstm", "fp32"), ("fast", "lstm", "fp32"), ("fast", "lstm", "bf16"),
           ("fast", "layer_norm", "bf16"), ("fast", "hyper", "bf16")]
# the same step captured in a CUDA graph and replayed (`train --cuda-graph`, sketchtool/cuda_graph.py): GPU only
GRAPH_CONFIGS = [("graph", "lstm", "fp32"), ("graph", "lstm", "bf16"), ("graph", "layer_norm", "bf16")]


def naive_loss(model, batch):
    """The same loss computed the way the reference trainers do: every cell step over all max_seq_len steps
    (encoder reads the padding), inputs concatenated with h and multiplied by the full [W_xh; W_hh] each step."""
    import torch

    from sketchtool.models.mixture import offset_nll, pen_cross_entropy, split_output

    def run(cell, x, state):
        w_full = torch.cat([cell.W_xh, cell.W_hh], 0)
        outs = []
        for t in range(x.shape[1]):
            gates = torch.cat([x[:, t], state[0]], -1) @ w_full + cell.bias
            i, j, f, o = gates.chunk(4, -1)
            c = state[1] * torch.sigmoid(f + 1.0) + torch.sigmoid(i) * cell._candidate(j)
            h = torch.tanh(c) * torch.sigmoid(o)
            state = (h, c)
            outs.append(h)
        return torch.stack(outs, 1), state

    x = batch.strokes5
    b = x.shape[0]
    zeros = lambda n: (x.new_zeros(b, n), x.new_zeros(b, n))
    _, (h_fw, _) = run(model.enc_fw, x[:, 1:], zeros(model.hps.enc_rnn_size))
    _, (h_bw, _) = run(model.enc_bw, x[:, 1:].flip(1), zeros(model.hps.enc_rnn_size))
    last = torch.cat([h_fw, h_bw], -1)
    mu, sigma_hat = model.enc_mu(last), model.enc_presig(last)
    z = mu + torch.exp(sigma_hat / 2) * torch.randn_like(mu)
    state = model._initial_state(z, b, x)
    inputs = torch.cat([x[:, :-1], z[:, None].expand(-1, x.shape[1] - 1, -1)], -1)
    outs, _ = run(model.dec, inputs, state)
    p = split_output(model.output(outs), model.hps.num_mixture)
    target = x[:, 1:]
    mask = 1 - target[..., 4]
    l_r = (offset_nll(p, target[..., 0], target[..., 1]) * mask + pen_cross_entropy(p, target[..., 2:])).mean()
    l_kl = -0.5 * torch.mean(1 + sigma_hat - mu**2 - torch.exp(sigma_hat))
    return l_r + 0.5 * torch.clamp(l_kl, min=0.2)


def run_one(impl: str, cell: str, precision: str, steps: int, data: Path, device: str, threads: int,
            batch_size: int = 100) -> dict:
    import numpy as np
    import torch

    from sketchtool.batching import BatchSource, prepare_drawings
    from sketchtool.device import autocast
    from sketchtool.formats.npz import load_dataset
    from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams
    from sketchtool.strokes import scale_factor

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dev = torch.device(device)
    hps = SketchRNNHParams(dec_model=cell, batch_size=batch_size)
    drawings, _ = prepare_drawings(load_dataset(data).splits["train"], hps.max_seq_len)
    source = BatchSource(drawings, np.zeros(len(drawings)), scale_factor=scale_factor(drawings), max_seq_len=250,
                         batch_size=hps.batch_size, random_scale_factor=0.15, augment_stroke_prob=0.1)
    model = SketchRNN(hps).to(dev).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    captured = None
    if impl == "graph":
        from sketchtool.cuda_graph import WARMUP_STEPS, CapturedStep

        captured = CapturedStep(model, optimizer, precision)
        for k in range(WARMUP_STEPS + 1):  # eager warm-up steps, then the capture and its first replay
            captured.step(source.random_batch().to(dev), k)
    times, cpu_times = [], []
    for step in range(steps + 1):  # the first step warms up allocators and kernels
        batch = source.random_batch().to(dev)
        start, cpu_start = time.perf_counter(), time.process_time()
        if captured is not None:
            captured.step(batch, step)
        else:
            with autocast(dev, precision):
                loss = naive_loss(model, batch) if impl == "naive" else model.loss(batch)["loss"]
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
            optimizer.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    sec = float(np.median(times))
    return {"impl": impl, "cell": cell, "precision": precision, "device": device, "threads": threads,
            "batch_size": batch_size,
            "s_per_step": sec, "steps_per_s": 1 / sec, "cpu_s_per_step": float(np.median(cpu_times)),
            "peak_mib": peak, "steps": steps, "load_average": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100, help="magenta's is 100; a GPU has room for more")
    parser.add_argument("--only", help="impl,cell,precision: run one configuration in this process")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.only:
        impl, cell, precision = args.only.split(",")
        print(json.dumps(run_one(impl, cell, precision, args.steps, args.data, args.device, args.threads,
                                    args.batch_size)))
        return
    results = []
    for config in CONFIGS + (GRAPH_CONFIGS if args.device.startswith("cuda") else []):
        cmd = [sys.executable, __file__, "--only", ",".join(config), "--steps", str(args.steps), "--data",
               str(args.data), "--device", args.device, "--threads", str(args.threads),
               "--batch-size", str(args.batch_size)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE"}
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        r = results[-1]
        print(f"{r['impl']:5s} {r['cell']:10s} {r['precision']:4s}  {r['s_per_step']:7.2f} s/step wall  "
              f"{r['cpu_s_per_step']:7.2f} s/step CPU  peak {r['peak_mib']:7.0f} MiB  load {r['load_average']:.1f}",
              flush=True)
    base, base_cpu = results[0]["s_per_step"], results[0]["cpu_s_per_step"]
    for r in results[1:]:
        print(f"speed-up {r['cell']}/{r['precision']} vs naive lstm fp32: {base / r['s_per_step']:.2f}x wall, "
              f"{base_cpu / r['cpu_s_per_step']:.2f}x CPU time")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
