"""`vectorize` pictures per second on one CPU thread at 64 x 64, the agent (batched) and the skeleton tracer in the
same run (their ratio is what carries across machines); a GPU line when one is available.

    python benchmarks/strokenet_speed.py --n 512 [--model vectorizer] [--save-pictures P.npy | --pictures P.npy]

Agents: single-step (`agent1`) and recurrent with 3 strokes (`agent`), the default architecture (16 points, VGG blocks 16..128, FC 1024/256) with untrained weights: speed
does not depend on them; `--model REF` (repeatable) adds a trained agent, e.g. the embedded vectorizer, which fits
the pictures to its own canvas. Pictures: sheep test drawings rasterised at 64 x 64 (`--save-pictures` keeps them
for a machine without cairo, such as a rented GPU, to read with `--pictures`).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--data", default="../shared/data/aaron_sheep.npz")
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--pictures", help="read the pictures from this .npy instead of rasterising them")
    parser.add_argument("--save-pictures", help="write the pictures to this .npy and stop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from sketchtool.dataspec import DataSpec
    from sketchtool.models.strokenet import StrokeRenderer, StrokeRendererHParams
    from sketchtool.models.strokenet_agent import StrokeAgent, StrokeAgentHParams
    from sketchtool.checkpoint import load_model
    from sketchtool.pretrained import resolve_model
    from sketchtool.vectorize import vectorize

    if args.pictures:
        pictures = list(np.load(args.pictures)[:args.n])
    else:
        from sketchtool.formats.npz import load_dataset
        from sketchtool.raster import rasterize_batch

        drawings = load_dataset(args.data).splits["test"]
        pictures = list(rasterize_batch([drawings[i % len(drawings)] for i in range(args.n)], size=64, line_width=1.5))
    if args.save_pictures:
        np.save(args.save_pictures, np.stack(pictures))
        return
    spec = DataSpec(kind="images", image_shape=(64, 64))
    renderer = StrokeRenderer(StrokeRendererHParams(), spec)
    agents = {k: StrokeAgent(StrokeAgentHParams(renderer_hparams=json.dumps(renderer.hparams_dict()), steps=k),
                             spec).eval() for k in (1, 3)}
    agent = agents[3]
    out = {"pictures": args.n, "canvas": 64, "threads": torch.get_num_threads()}
    vectorize(pictures[:8], method="agent", model=agent)  # warm-up
    for name, kw in (("agent1", {"method": "agent", "model": agents[1]}), ("agent", {"method": "agent", "model": agent}),
                     ("skeleton", {"method": "skeleton", "size": 64})):
        started = time.perf_counter()
        vectorize(pictures, **kw)
        out[f"{name}_per_s"] = round(args.n / (time.perf_counter() - started), 1)
    out["agent1_over_skeleton"] = round(out["agent1_per_s"] / out["skeleton_per_s"], 2)
    out["agent_over_skeleton"] = round(out["agent_per_s"] / out["skeleton_per_s"], 2)
    learned = {"agent1": agents[1], "agent": agent}
    for ref in args.model:
        learned[ref] = model = load_model(resolve_model(ref))[0].eval()
        vectorize(pictures[:8], method="agent", model=model)
        started = time.perf_counter()
        vectorize(pictures, method="agent", model=model)
        out[f"{ref}_per_s"] = round(args.n / (time.perf_counter() - started), 1)
        out[f"{ref}_over_skeleton"] = round(out[f"{ref}_per_s"] / out["skeleton_per_s"], 2)
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
        for name, model in learned.items():
            model = model.cuda()
            vectorize(pictures[:8], method="agent", model=model)
            torch.cuda.synchronize()
            started = time.perf_counter()
            vectorize(pictures, method="agent", model=model)
            torch.cuda.synchronize()
            out[f"{name}_gpu_per_s"] = round(args.n / (time.perf_counter() - started), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
