"""The chairs generator on a sheep turntable: unseen-angle MSE beside the mean-image and nearest-seen-view
baselines and the seen-view MSE, mask IoU; writes a turntable strip and a morph grid for docs/chairs.md.

    python benchmarks/chairs_views.py [--data ../shared/data/aaron_sheep.npz] [--limit 50] [--views 36]
        [--size 32] [--minutes 5] [--work /tmp/chairs-bench] [--images docs/images]

Every sheep is one identity at `--views` angles with random transforms (`rasterize --turntable`); angles
k = 1 mod 4 are the test split, never seen in training (nor are the valid angles, k = 3 mod 8). Prints one
JSON object (figures, steps, wall and CPU seconds, machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "aaron_sheep.npz"
SMALL = {"fc_size": 256, "joint_size": 512, "start_channels": 64, "nkerns": [48, 24], "batch_size": 64,
         "learning_rate": 1e-3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--views", type=int, default=36)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/chairs-bench"))
    parser.add_argument("--images", type=Path, default=None, help="write chairs-turntable.png, chairs-morph.png here")
    args = parser.parse_args()

    import torch

    from sketchtool.checkpoint import load_model
    from sketchtool.formats import OutputOptions, write_images
    from sketchtool.formats.npz import load_dataset
    from sketchtool.image_build import turntable_from_strokes
    from sketchtool.images import load_image_dataset, save_image_dataset
    from sketchtool.models.base import Condition
    from sketchtool.models.chairs import view_report
    from sketchtool.raster import RasterOptions
    from sketchtool.train import TrainOptions, resolve_hparams, train

    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "turn.npz"
    save_image_dataset(data, turntable_from_strokes(load_dataset(args.data), RasterOptions(size=args.size),
                                                    args.views, limit=args.limit, seed=0))
    run = args.work / f"run-{int(time.time())}"
    hps = resolve_hparams("chairs", overrides=SMALL)
    wall, cpu = time.perf_counter(), time.process_time()
    result = train(data, run, model="chairs", hps=hps,
                   options=TrainOptions(steps=1_000_000, save_every=250, max_minutes=args.minutes, log_every=50))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    model, _ = load_model(run)
    dataset = load_image_dataset(data)
    report = {"test (unseen angles)": view_report(model, dataset, "test"),
              "valid (unseen angles)": view_report(model, dataset, "valid"),
              "steps": result.step, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "hparams": SMALL,
              "turntable": {"identities": len(dataset.class_names), "views": args.views, "size": args.size},
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                         f"{torch.get_num_threads()} thread(s), shared with other jobs"}
    print(json.dumps(report, indent=2))
    if args.images is not None:
        angles = torch.arange(0, 360, 360 / 12, dtype=torch.float32)[:, None]  # (12, 1): half of them unseen
        rows = []
        for identity in (0, 1, 2):
            rows.append(model.render(12, Condition(labels=torch.full((12,), identity), vectors={"angle": angles}))[0])
        write_images(args.images / "chairs-turntable.png", np.concatenate(rows), OutputOptions(cols=12))
        steps = torch.linspace(0, 1, 8)[:, None]
        morph = []
        for a, b in ((0, 1), (2, 3), (4, 5)):
            codes = (1 - steps) * torch.eye(model.num_classes)[a] + steps * torch.eye(model.num_classes)[b]
            morph.append(model.render(8, Condition(vectors={"identity": codes, "angle": torch.zeros(8, 1)}))[0])
        write_images(args.images / "chairs-morph.png", np.concatenate(morph), OutputOptions(cols=8))


if __name__ == "__main__":
    main()
