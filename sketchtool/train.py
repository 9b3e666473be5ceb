"""The training loop of `sketchtool train`, explicit about data, device, precision, checkpoints and resume;
plus `evaluate` (`sketchtool eval`) and the metrics log. Follows magenta sketch_rnn_train.py: per-step
learning rate and KL-weight schedules, Adam, gradients clipped by value."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = [
    "PRESETS",
    "TrainOptions",
    "TrainResult",
    "evaluate",
    "kl_weight_at",
    "learning_rate_at",
    "read_metrics",
    "resolve_hparams",
    "train",
]

# `reference` is magenta's defaults; `small` learns recognisable sheep on one CPU thread within about an hour
PRESETS: dict[str, dict[str, Any]] = {
    "reference": {},
    "small": {"enc_rnn_size": 128, "dec_rnn_size": 256, "dec_model": "layer_norm", "batch_size": 100,
              "kl_decay_rate": 0.9995, "num_steps": 10000, "save_every": 50},
}


@dataclass
class TrainOptions:
    """Run settings that do not change the model. `steps` defaults to the hparam `num_steps`; validation and
    checkpoints happen every `save_every` steps (default: the hparam `save_every`)."""

    steps: int | None = None
    save_every: int | None = None
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    seed: int = 0
    log_every: int = 10
    max_minutes: float | None = None


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    best_valid: float
    stopped: str  # "done", "time"
    metrics: dict[str, float] = field(default_factory=dict)


ProgressFn = Callable[[dict[str, Any]], None]


def learning_rate_at(hps, step: int) -> float:
    return (hps.learning_rate - hps.min_learning_rate) * hps.decay_rate**step + hps.min_learning_rate


def kl_weight_at(hps, step: int) -> float:
    return hps.kl_weight - (hps.kl_weight - hps.kl_weight_start) * hps.kl_decay_rate**step


def resolve_hparams(model: str, *, preset: str | None = None, config: str | os.PathLike | None = None,
                    overrides: dict[str, Any] | None = None):
    """Defaults < preset < config file (JSON object of hparams) < `--hparams` overrides."""
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise SketchtoolError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
        values.update(PRESETS[preset])
    if config is not None:
        try:
            loaded = json.loads(Path(config).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SketchtoolError(f"{config}: unreadable config ({e}); give a JSON object of hparams") from None
        if not isinstance(loaded, dict):
            raise SketchtoolError(f"{config}: a config file holds one JSON object of hparams")
        values.update(loaded)
    values.update(overrides or {})
    return hparams_from_dict(get_model_class(model).HParams, values)


@dataclass
class _Data:
    train: Any
    valid: Any
    scale_factor: float
    class_names: list[str]
    max_seq_len: int
    test: Any = None
    build_settings: dict[str, Any] = field(default_factory=dict)


def _load_data(path: Path, hps, seed: int, *, scale_factor: float | None = None) -> _Data:
    """Read the dataset, drop drawings over max_seq_len, and (like magenta) shrink max_seq_len to the longest
    drawing kept; the scale factor comes from the training split unless given (evaluation)."""
    from sketchtool.batching import BatchSource, prepare_drawings
    from sketchtool.formats.npz import load_dataset
    from sketchtool.strokes import scale_factor as compute_scale

    ds = load_dataset(path)
    kept = {}
    for split in ("train", "valid", "test"):
        drawings, index = prepare_drawings(ds.splits[split], hps.max_seq_len)
        kept[split] = (drawings, ds.labels_of(split)[index])
    if not kept["train"][0] and scale_factor is None:
        total = len(ds.splits["train"])
        why = f"all {total} exceed max_seq_len={hps.max_seq_len}" if total else "the train split is empty"
        raise SketchtoolError(f"{path}: no training drawings ({why}); raise max_seq_len or simplify the drawings")
    longest = max((len(d) for ds_ in kept.values() for d in ds_[0]), default=hps.max_seq_len)
    max_len = min(hps.max_seq_len, longest)
    scale = scale_factor if scale_factor is not None else compute_scale(kept["train"][0])

    def source(split: str, augment: bool) -> BatchSource:
        drawings, labels = kept[split]
        return BatchSource(drawings, labels, scale_factor=scale, max_seq_len=max_len, batch_size=hps.batch_size,
                           random_scale_factor=hps.random_scale_factor if augment else 0.0,
                           augment_stroke_prob=hps.augment_stroke_prob if augment else 0.0, seed=seed)

    return _Data(source("train", True), source("valid", False), scale, list(ds.class_names), max_len,
                 source("test", False), dict(ds.settings))


def _evaluate_source(model, source, device, precision: str, kl_weight: float) -> dict[str, float]:
    """Average loss terms over every drawing of `source` (weighted by batch size), model in eval mode.
    Callers pass kl_weight_start: magenta's eval model never receives the annealed weight, so its reported
    valid/test cost (and best-checkpoint choice) is L_R + kl_weight_start·max(L_KL, kl_tolerance)."""
    import torch

    from sketchtool.device import autocast

    inner = getattr(model, "module", model)
    was_training = inner.training
    inner.eval()
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for batch in source.batches():
            with autocast(device, precision):
                terms = inner.loss(batch.to(device), kl_weight=kl_weight)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(batch)
            count += len(batch)
    inner.train(was_training)
    return {k: v / count for k, v in sums.items()} if count else {}


def _check_run_dir(run_dir: Path, resume: bool) -> None:
    if resume:
        if not (run_dir / "latest.pt").is_file():
            raise SketchtoolError(f"{run_dir}: nothing to resume (no latest.pt); drop --resume to start a new run")
        return
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise SketchtoolError(f"{run_dir} already exists; pass --resume to continue it or choose another -o")


def train(dataset: str | os.PathLike, run_dir: str | os.PathLike, *, model: str = "sketch-rnn", hps=None,
          options: TrainOptions | None = None, resume: bool = False, on_progress: ProgressFn | None = None) -> TrainResult:
    """Train `model` on `dataset` into `run_dir` (latest.pt, best.pt, metrics.jsonl, run.json); `--resume`
    continues bit-for-bit from latest.pt. On Ctrl-C the current step is saved before KeyboardInterrupt rises."""
    from sketchtool.device import (
        configure_threads,
        init_distributed,
        resolve_device,
        resolve_precision,
    )

    options = options or TrainOptions()
    run_dir, dataset = Path(run_dir), Path(dataset)
    configure_threads(options.threads)
    device = resolve_device(options.device)
    dist = init_distributed(device)
    if dist.is_main or resume:  # other ranks would race rank 0 creating the directory
        _check_run_dir(run_dir, resume)
    if dist.world_size > 1 and device.type == "cuda":
        device = resolve_device(f"cuda:{dist.local_rank}")
    precision = resolve_precision(options.precision, device)
    state = _restore(run_dir) if resume else None
    if state is not None:
        hps, model = state["hps"], state["model_name"]
    elif hps is None:
        hps = resolve_hparams(model)
    data = _load_data(dataset, hps, options.seed + dist.rank)
    hps = dataclasses.replace(hps, max_seq_len=data.max_seq_len)
    loop = _Loop(model, hps, data, dataset, run_dir, options, device, precision, dist)
    if state is not None:
        loop.load_state(state["payload"])
    elif dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        loop.write_run_json()
    return loop.run(on_progress)


def _restore(run_dir: Path) -> dict[str, Any]:
    from sketchtool.checkpoint import read_checkpoint
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    payload = read_checkpoint(run_dir / "latest.pt")
    if "training" not in payload:
        raise SketchtoolError(f"{run_dir}/latest.pt: an exported model holds no training state; cannot resume")
    hps = hparams_from_dict(get_model_class(payload["model"]).HParams, payload["hparams"])
    return {"hps": hps, "model_name": payload["model"], "payload": payload}


class _Loop:
    """State of one training run; `run` is the loop a reader should look at."""

    def __init__(self, model_name, hps, data: _Data, dataset: Path, run_dir: Path, options: TrainOptions, device,
                 precision: str, dist):
        import torch

        from sketchtool.models import get_model_class

        torch.manual_seed(options.seed + dist.rank)
        self.hps, self.data, self.dataset, self.run_dir = hps, data, dataset, run_dir
        self.options, self.device, self.precision, self.dist = options, device, precision, dist
        self.model = get_model_class(model_name)(hps, num_classes=max(1, len(data.class_names))).to(device)
        self.net = self.model
        if dist.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=hps.learning_rate)
        self.step = 0
        self.best_valid = math.inf
        self.steps = options.steps if options.steps is not None else hps.num_steps
        self.save_every = options.save_every or hps.save_every
        self.last_metrics: dict[str, float] = {}
        self.tensorboard = None  # a SummaryWriter, False when TensorBoard is not installed, None before the first log

    # --- checkpoints ------------------------------------------------------------------------------------
    def write_run_json(self) -> None:
        from sketchtool.fileio import atomic_write

        info = {"model": self.model.name, "dataset": str(self.dataset), "hparams": self.model.hparams_dict(),
                "scale_factor": self.data.scale_factor, "class_names": self.data.class_names,
                "options": dataclasses.asdict(self.options), "precision": self.precision}
        with atomic_write(self.run_dir / "run.json", "w") as f:
            json.dump(info, f, indent=2)

    def save(self, name: str) -> None:
        import torch

        from sketchtool.checkpoint import save_checkpoint

        if not self.dist.is_main:
            return
        training = {"optimizer": self.optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                    "data_rng": self.data.train.get_state(), "best_valid": self.best_valid, "seed": self.options.seed}
        if torch.cuda.is_available():
            training["cuda_rng"] = torch.cuda.get_rng_state_all()
        save_checkpoint(self.run_dir / name, self.model, scale_factor=self.data.scale_factor,
                        class_names=self.data.class_names, step=self.step,
                        dataset={"name": self.dataset.stem, "path": str(self.dataset),
                                 "settings": self.data.build_settings},  # so SVG inputs are read as in training
                        metrics={"valid": self.last_metrics}, training=training)

    def load_state(self, payload: dict[str, Any]) -> None:
        import torch

        self.model.load_state_dict(payload["state_dict"])
        training = payload["training"]
        self.optimizer.load_state_dict(training["optimizer"])
        torch.set_rng_state(training["torch_rng"])
        if "cuda_rng" in training and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(training["cuda_rng"])
        self.data.train.set_state(training["data_rng"])
        self.best_valid = float(training["best_valid"])
        self.step = int(payload["step"])
        self.last_metrics = dict(payload.get("metrics", {}).get("valid", {}))

    def log(self, record: dict[str, Any]) -> None:
        """Append to metrics.jsonl, and to TensorBoard (RUN_DIR/tensorboard) when it is installed."""
        if not self.dist.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tensorboard is None:
            self.tensorboard = _tensorboard_writer(self.run_dir)
        if self.tensorboard:
            for key, value in record.items():
                if key not in ("step", "split", "time"):
                    self.tensorboard.add_scalar(f"{record['split']}/{key}", value, record["step"])
            self.tensorboard.flush()

    # --- the loop ---------------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        import torch

        from sketchtool.device import autocast

        hps, step = self.hps, self.step
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate_at(hps, step)
        batch = self.data.train.random_batch().to(self.device)
        with autocast(self.device, self.precision):
            terms = self.net(batch, kl_weight=kl_weight_at(hps, step))
        if not torch.isfinite(terms["loss"]):
            raise SketchtoolError(
                f"training diverged at step {step + 1} (loss is {float(terms['loss'].detach())}); stopped, the last good "
                f"checkpoint is {self.run_dir / 'latest.pt'}; lower learning_rate or grad_clip and --resume")
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_value_(self.model.parameters(), hps.grad_clip)
        self.optimizer.step()
        self.step += 1
        return {k: float(v.detach()) for k, v in terms.items()}

    def validate(self) -> dict[str, float]:
        metrics = _evaluate_source(self.model, self.data.valid, self.device, self.precision, self.hps.kl_weight_start)
        self.last_metrics = metrics
        self.log({"step": self.step, "split": "valid", **metrics, "time": time.time()})
        if metrics and metrics["loss"] < self.best_valid:
            self.best_valid = metrics["loss"]
            self.save("best.pt")
        self.save("latest.pt")
        return metrics

    def run(self, on_progress: ProgressFn | None) -> TrainResult:
        started, start_step = time.monotonic(), self.step
        window: list[dict[str, float]] = []
        self.model.train()
        stopped = "done"
        try:
            while self.step < self.steps:
                if self.options.max_minutes and time.monotonic() - started > 60 * self.options.max_minutes:
                    stopped = "time"
                    break
                terms = self.train_step()
                window.append(terms)
                rate = (self.step - start_step) / max(time.monotonic() - started, 1e-9)
                if self.step % self.options.log_every == 0:
                    mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                    self.log({"step": self.step, "split": "train", **mean, "lr": learning_rate_at(self.hps, self.step),
                              "kl_weight": kl_weight_at(self.hps, self.step), "steps_per_s": rate, "time": time.time()})
                    window = []
                valid = self.validate() if self.step % self.save_every == 0 else None
                if on_progress is not None:
                    on_progress({"step": self.step, "total": self.steps, "steps_per_s": rate, "train": terms,
                                 "valid": valid})
        except KeyboardInterrupt:
            if self.step > start_step:
                self.save("latest.pt")
            raise
        if self.step % self.save_every != 0 or self.step == start_step:
            self.validate()
        return TrainResult(self.run_dir, self.step, self.best_valid, stopped, self.last_metrics)


def _tensorboard_writer(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return False
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


def evaluate(run: str | os.PathLike, *, split: str = "test", dataset: str | os.PathLike | None = None,
             device: str = "cpu", precision: str = "fp32") -> dict[str, float]:
    """Loss terms (L_R, L_KL, loss as magenta's eval cost, ...) of a trained model on a split of its dataset
    (or `dataset`), using the model's stored scale factor and max_seq_len."""
    from sketchtool.checkpoint import load_model
    from sketchtool.device import resolve_device

    if split not in ("train", "valid", "test"):
        raise SketchtoolError(f"--split {split}: use train, valid or test")
    dev = resolve_device(device)
    model, info = load_model(run, device=str(dev))
    path = Path(dataset or info.dataset.get("path", ""))
    if not path.is_file():
        raise SketchtoolError(f"{path}: the model's dataset is not there; pass the dataset with --dataset")
    data = _load_data(path, model.hps, 0, scale_factor=info.scale_factor)
    source = {"train": data.train, "valid": data.valid, "test": data.test}[split]
    if not len(source):
        raise SketchtoolError(f"{path}: split {split!r} has no drawings of at most {model.hps.max_seq_len} points")
    source.max_seq_len = model.hps.max_seq_len
    metrics = _evaluate_source(model, source, dev, precision, model.hps.kl_weight_start)
    return {**metrics, "drawings": len(source)}


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of `metrics.jsonl` (train records every log_every steps, valid records at each save)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise SketchtoolError(f"{run_dir}: not a training run (no metrics.jsonl)")
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
    return records
