"""StrokeNet's protocol (sec. 4): a judge classifier's accuracy on the agent's strokes drawn by the REAL rasteriser
(and, beside it, through the neural renderer), with the originals' accuracy as the ceiling.

    python benchmarks/strokenet_mnist.py --data mnist_v.npz --agent runs/agent1 --agent runs/agent3

`--data`: examples/mnist's mnist.npz with a valid split (the 2,000 binarised test digits are scored). The judge is
a small CNN trained here on the train split (seeded); results print as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn


def train_judge(images: np.ndarray, labels: np.ndarray, epochs: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    judge = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64 * (images.shape[1] // 4) * (images.shape[2] // 4), 128), nn.ReLU(),
                          nn.Linear(128, 10))
    optimizer = torch.optim.Adam(judge.parameters(), lr=1e-3)
    x, y = torch.from_numpy(images)[:, None], torch.from_numpy(labels)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(x)), len(x) // 64):
            loss = nn.functional.cross_entropy(judge(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return judge.eval()


@torch.no_grad()
def accuracy(judge: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    logits = torch.cat([judge(torch.from_numpy(images[i:i + 500])[:, None]) for i in range(0, len(images), 500)])
    return float((logits.argmax(1).numpy() == labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--agent", action="append", default=[])
    parser.add_argument("--judge-epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from sketchtool.checkpoint import load_model
    from sketchtool.images import load_image_dataset
    from sketchtool.models.strokenet import real_canvas

    data = load_image_dataset(args.data)
    started = time.time()
    judge = train_judge(data.images("train"), data.labels_of("train"), args.judge_epochs)
    test, labels = data.images("test")[:args.limit], data.labels_of("test")[:args.limit]
    result = {"test_digits": len(test), "judge_minutes": round((time.time() - started) / 60, 2),
              "originals": accuracy(judge, test, labels), "agents": {}}
    for ref in args.agent:
        agent, info = load_model(ref)
        strokes, neural = [], []
        with torch.no_grad():
            for i in range(0, len(test), 250):
                s, canvas = agent.draw(torch.from_numpy(test[i:i + 250]))
                strokes.append([t.numpy() for t in (s.points, s.pressure, s.brush)])
                neural.append(canvas.numpy())
        points, pressure, brush = (np.concatenate([s[j] for s in strokes]) for j in range(3))
        neural = np.concatenate(neural)
        real = real_canvas(points, pressure, brush, agent.size, agent.renderer.max_width)
        result["agents"][ref] = {
            "steps": agent.hps.steps, "trained_steps": info.step, "penalty_lambda": agent.hps.penalty_lambda,
            "real": accuracy(judge, real, labels), "neural": accuracy(judge, neural, labels),
            "mse_neural_vs_real": float(((neural - real) ** 2).mean()),
            "mse_real_vs_target": float(((real - test) ** 2).mean()),
            "mean_segment": float(np.linalg.norm(np.diff(points, axis=2), axis=-1).mean())}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
