"""Reconstruction of rasterised test drawings, agent against the skeleton tracer, scored through THE rasteriser:
ink F1 within 2 px, chamfer distance (px) and strokes per drawing.

    python benchmarks/strokenet_reconstruct.py --data sheep28.npz --agent runs/sheep-agent --line-width 1.5

Both methods' polylines are drawn back with the same plain pen (`--line-width`, the dataset's own) so the scores
compare the strokes' placement, not the pen. `--tolerance` (repeatable; default 2 px) adds an F1 per tolerance:
2 px is a fifteenth of a 28-pixel canvas, lenient enough that a sheep without its legs scores 0.98, so pictures
larger than the agent's canvas (which it fits down and maps back) and 1 px show more. `--refine N` (repeatable)
adds a row per agent with its strokes fitted to each picture for N steps (`vectorize --refine`); `--strokes K`
(repeatable) draws K strokes instead of the trained count (`vectorize --strokes`).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def scores(targets, results, line_width: float, tolerances: list[float]) -> dict[str, float]:
    from sketchtool.vectorize import render_polylines, score_reconstruction

    drawn = [render_polylines(r.polylines, r.size, line_width) for r in results]
    out = {}
    for tolerance in tolerances:
        rows = [score_reconstruction(t, d, tolerance=tolerance) for t, d in zip(targets, drawn)]
        out[f"f1@{tolerance:g}px"] = float(np.mean([r["f1"] for r in rows]))
        if tolerance == tolerances[0]:
            out.update({k: float(np.mean([r[k] for r in rows])) for k in ("precision", "recall")})
    return {**out, "chamfer": float(np.mean([r["chamfer"] for r in rows])),
            "strokes": float(np.mean([len(r.polylines) for r in results]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--agent", action="append", default=[])
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--line-width", type=float, default=1.5)
    parser.add_argument("--tolerance", type=float, action="append", default=None)
    parser.add_argument("--refine", type=int, action="append", default=[],
                        help="also each agent's strokes refined for N steps (repeatable)")
    parser.add_argument("--strokes", type=int, action="append", default=[],
                        help="draw K strokes instead of the agent's trained count (repeatable: a row set per K)")
    args = parser.parse_args()
    tolerances = args.tolerance or [2.0]
    torch.set_num_threads(1)
    from sketchtool.checkpoint import load_model
    from sketchtool.images import load_image_dataset
    from sketchtool.vectorize import vectorize

    targets = load_image_dataset(args.data).images(args.split)[:args.limit]
    size = targets.shape[1]
    started = time.perf_counter()
    skeleton = vectorize(list(targets), method="skeleton", size=size)
    out = {"data": args.data, "pictures": len(targets),
           "skeleton": {**scores(targets, skeleton, args.line_width, tolerances),
                        "s": round(time.perf_counter() - started, 2)}}
    for ref in args.agent:
        model, info = load_model(ref)
        for strokes in args.strokes or [None]:
            for refine in [0, *args.refine]:
                started = time.perf_counter()
                drawn = vectorize(list(targets), method="agent", model=model, strokes=strokes, refine=refine)
                label = ref + (f" {strokes} strokes" if strokes else "") + (f" refined {refine}" if refine else "")
                out[label] = {**scores(targets, drawn, args.line_width, tolerances),
                              "s": round(time.perf_counter() - started, 2), "trained_steps": info.step,
                              "agent_steps": strokes or model.hps.steps}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
