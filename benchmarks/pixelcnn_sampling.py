"""Gated PixelCNN sampling speed: samples/s of the incremental sampler (`GatedPixelCNN.sample`: one new row of every
vertical layer per row, one new column of every horizontal layer per pixel) against the full-recompute sampler
(`sample_naive`: H x W whole forward passes), in the same run, on the same model, with the same uniforms (the
script checks that both draw identical images).

    python benchmarks/pixelcnn_sampling.py [--model RUN_OR_CHECKPOINT] [--n 16 64] [--naive-n 16] [--threads 1]
                                           [--grid samples.png --per-class 10 --temperature 1]

Without --model a freshly initialised model of the default hparams on 28x28 images is timed (speed does not depend
on the weights). CPU seconds of the process are printed beside wall seconds: on a shared host other processes'
work shows up as wall time, not CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="run directory or checkpoint (default: fresh 28x28 model)")
    parser.add_argument("--n", type=int, nargs="+", default=[16, 64], help="batch sizes for the incremental sampler")
    parser.add_argument("--naive-n", type=int, default=16, help="batch size for the full-recompute sampler")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--grid", default=None, help="also write a PNG of --per-class samples of every class, a row each")
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=1.0, help="of the --grid samples")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from sketchtool.dataspec import DataSpec
    from sketchtool.models.pixelcnn import GatedPixelCNN, GatedPixelCNNHParams

    if args.model:
        from sketchtool.checkpoint import load_model

        model, _ = load_model(args.model, device=args.device)
    else:
        torch.manual_seed(0)
        spec = DataSpec(kind="images", class_names=[str(d) for d in range(10)], image_shape=(28, 28))
        model = GatedPixelCNN(GatedPixelCNNHParams(), spec).to(args.device)
    model.eval()

    def draw(sampler, n, seed=0):
        generator = torch.Generator(device=args.device).manual_seed(seed)
        labels = torch.arange(n, device=args.device) % model.num_classes if model.use_classes else None
        from sketchtool.models.base import Condition

        return sampler(n, generator=generator, temperature=1.0, condition=Condition(labels=labels)).images

    results = {"model": model.describe(), "image_shape": list(model.spec.image_shape), "threads": args.threads,
               "device": args.device, "machine": f"{platform.processor() or platform.machine()}, "
                                                 f"{os.cpu_count()} cores", "load_avg": os.getloadavg()[0]}
    fast, wall, cpu = _timed(lambda: draw(model.sample, args.naive_n))
    slow, naive_wall, naive_cpu = _timed(lambda: draw(model.sample_naive, args.naive_n))
    results["identical_samples"] = bool((fast == slow).all())
    results[f"naive n={args.naive_n}"] = {"samples_per_s": args.naive_n / naive_wall,
                                          "samples_per_cpu_s": args.naive_n / naive_cpu}
    results[f"incremental n={args.naive_n}"] = {"samples_per_s": args.naive_n / wall,
                                                "samples_per_cpu_s": args.naive_n / cpu}
    results["speedup_same_n"] = naive_wall / wall
    for n in args.n:
        if n == args.naive_n:
            continue
        _, wall, cpu = _timed(lambda: draw(model.sample, n))
        results[f"incremental n={n}"] = {"samples_per_s": n / wall, "samples_per_cpu_s": n / cpu}
    if args.grid:
        from sketchtool.formats import OutputOptions, write_images
        from sketchtool.models.base import Condition

        labels = torch.arange(model.num_classes, device=args.device).repeat_interleave(args.per_class)
        images = model.sample(len(labels), generator=torch.Generator(device=args.device).manual_seed(1),
                              temperature=args.temperature, condition=Condition(labels=labels)).images
        write_images(args.grid, images, OutputOptions(cols=args.per_class))
        results["grid"] = args.grid
    results["load_avg_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
