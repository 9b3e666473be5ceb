"""The skeleton tracer (`vectorize --method skeleton`) on one CPU thread: sheep test drawings rasterised at 64 and
128 px, and random-noise pictures, whose thousands of skeleton pieces test how joining the pieces scales. Prints
seconds per set and a digest of every polyline traced, so two versions can be compared for speed and for output:

    PYTHONPATH=/path/to/other/checkout python benchmarks/skeleton_speed.py --data ../shared/data/aaron_sheep.npz
    python benchmarks/skeleton_speed.py --data ../shared/data/aaron_sheep.npz --noise 48,64,128
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/aaron_sheep.npz")
    parser.add_argument("--n", type=int, default=150, help="sheep test drawings per size")
    parser.add_argument("--noise", default="48,64", help="sizes of the noise pictures (one each)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from sketchtool.formats.npz import load_dataset
    from sketchtool.raster import RasterOptions, rasterize_batch
    from sketchtool.vectorize import skeleton_polylines

    drawings = load_dataset(args.data).splits["test"][:args.n]
    sets = {f"{args.n} sheep at {size} px": rasterize_batch(drawings, RasterOptions(size=size)) for size in (64, 128)}
    for size in (int(s) for s in args.noise.split(",")):
        sets[f"noise at {size} px"] = [(np.random.default_rng(0).random((size, size)) > 0.5).astype(np.float32)]
    for name, canvases in sets.items():
        digest = hashlib.blake2b(digest_size=8)
        start = time.perf_counter()
        lines = [skeleton_polylines(c) for c in canvases]
        seconds = time.perf_counter() - start
        for polylines in lines:
            for p in polylines:
                digest.update(np.round(p, 6).tobytes())
        print(f"{name}: {seconds:.2f} s, {sum(map(len, lines))} polylines, digest {digest.hexdigest()}")


if __name__ == "__main__":
    main()
