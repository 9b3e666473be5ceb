"""The training loop of `sketchtool train`, the same for every registered model: explicit about data, device,
precision, checkpoints and resume; plus `evaluate` (`sketchtool eval`) and the metrics log.

The model owns its optimisers, schedules, clipping and loss terms (see `sketchtool.models.base`); this loop owns
when things happen. Checkpoints are taken only between steps, so every saved (step, weights, optimisers, RNG
states) is consistent and a resumed run equals an uninterrupted one, tensor for tensor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from sketchtool.errors import SketchtoolError

__all__ = [
    "TrainOptions",
    "TrainResult",
    "evaluate",
    "read_metrics",
    "requested_hparams",
    "resolve_hparams",
    "resume_conflicts",
    "train",
]

class StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class TrainOptions:
    """Run settings that do not change the model. `steps` and `save_every` (validation and checkpoints) default to
    the model's `run_length()`.
    `stop` (e.g. a `threading.Event` a signal handler sets) ends the run at the next step boundary, saved;
    `new_dataset` lets `--resume` continue on a different dataset file (best.pt then starts afresh);
    `init` (a run, checkpoint or embedded name) starts a new run from that model's weights and data units, with fresh
    optimisers from step 0: fine-tuning, e.g. the embedded sheep on your own drawings;
    `cuda_graph` replays the training step as one CUDA graph (sketchtool/cuda_graph.py)."""

    steps: int | None = None
    save_every: int | None = None
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    log_every: int = 10
    max_minutes: float | None = None
    new_dataset: bool = False
    init: str | None = None
    cuda_graph: bool = False
    stop: StopFlag | None = field(default=None, repr=False, compare=False)

    def validate(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise SketchtoolError(f"--steps {self.steps}: nothing to train; give at least 1")
        if self.save_every is not None and self.save_every < 1:
            raise SketchtoolError(f"--save-every {self.save_every}: must be at least 1")
        if self.max_minutes is not None and not (self.max_minutes > 0 and math.isfinite(self.max_minutes)):
            raise SketchtoolError(f"--minutes {self.max_minutes}: must be a finite number > 0")
        if not 0 <= self.seed < 2**63:
            raise SketchtoolError(f"--seed {self.seed}: use a whole number from 0 to 2**63 - 1")
        if self.log_every < 1:
            raise SketchtoolError(f"log_every {self.log_every}: must be at least 1")


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    best_valid: float
    stopped: str  # "done", "time", "interrupted"
    metrics: dict[str, float] = field(default_factory=dict)
    main: bool = True  # False on the processes of a distributed run other than rank 0, which report nothing


ProgressFn = Callable[[dict[str, Any]], None]


def init_hparams(ref: str, overrides: dict[str, Any] | None = None) -> tuple[str, Any]:
    """(model name, hparams) of a run started from model `ref` (`--init`): its own hparams, `overrides` on top
    (training settings such as learning_rate; a change of shape makes its weights not fit, refused at load)."""
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    payload = _init_source(ref)
    cls = get_model_class(payload["model"])
    return payload["model"], hparams_from_dict(cls.HParams, {**payload["hparams"], **(overrides or {})})


def _init_source(ref: str) -> dict[str, Any]:
    from sketchtool.checkpoint import read_checkpoint
    from sketchtool.pretrained import resolve_model

    try:
        return read_checkpoint(resolve_model(ref, option="--init"))
    except SketchtoolError as e:
        raise SketchtoolError(str(e) if str(e).startswith("--init") else f"--init: {e}") from None


def resolve_hparams(model: str, *, preset: str | None = None, config: str | os.PathLike | None = None,
                    overrides: dict[str, Any] | None = None):
    """Defaults < the model's preset < config file (JSON object of hparams) < `--hparams` overrides."""
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    values = requested_hparams(model, preset=preset, config=config, overrides=overrides)
    return hparams_from_dict(get_model_class(model).HParams, values)


def requested_hparams(model: str, *, preset: str | None = None, config: str | os.PathLike | None = None,
                      overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Only the hparams the preset, config file and overrides set (later ones win), not the defaults."""
    from sketchtool.models import get_model_class

    cls = get_model_class(model)
    values: dict[str, Any] = {}
    if preset is not None:
        if preset not in cls.PRESETS:
            raise SketchtoolError(f"unknown preset {preset!r} for {model}; use one of {', '.join(cls.PRESETS)}")
        values.update(cls.PRESETS[preset])
    if config is not None:
        from sketchtool.fileio import check_regular_file

        check_regular_file(config, f"--config {config}")  # a FIFO would wait for a writer for ever
        try:
            loaded = json.loads(Path(config).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SketchtoolError(f"{config}: unreadable config ({e}); give a JSON object of hparams") from None
        if not isinstance(loaded, dict):
            raise SketchtoolError(f"{config}: a config file holds one JSON object of hparams")
        values.update(loaded)
    values.update(overrides or {})
    return values


def resume_conflicts(run_dir: str | os.PathLike, model: str | None, dataset: str | os.PathLike | None = None,
                     **requested) -> list[str]:
    """What `--resume` would silently not do: a `model`, or hparams of a preset, config or overrides (`requested`:
    `requested_hparams`'s arguments), that differ from the run's own. A resumed run keeps its own, so the same
    command with --resume added is fine and a changed one must be refused. The hparams asked for are fitted to
    `dataset` as the run's were when it started (Sketch-RNN's max_seq_len shrinks to the longest drawing)."""
    from sketchtool.checkpoint import read_checkpoint
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    latest = Path(run_dir) / "latest.pt"
    if not latest.is_file():
        return []  # `train` says what is missing
    payload = read_checkpoint(latest)
    if model not in (None, payload["model"]):
        return [f"--model {model} (the run is {payload['model']})"]
    cls = get_model_class(payload["model"])
    values = requested_hparams(payload["model"], **requested)
    if requested.get("preset") is not None:  # a preset also means the defaults of what other presets set:
        defaults = dataclasses.asdict(cls.HParams())  # `reference` (all defaults) on a `small` run is a change
        values = {**{k: defaults[k] for preset in cls.PRESETS.values() for k in preset if k in defaults}, **values}
    asked = hparams_from_dict(cls.HParams, values)  # typed as the run's are
    if dataset is not None and Path(dataset).is_file():
        data = read_dataset(Path(dataset))
        if _kind_of(data) == cls.input_kind:
            asked, _ = cls.fit_data(asked, data, _base_spec(data, Path(dataset)))
    conflicts = []
    for name in values:
        value, have = getattr(asked, name), payload["hparams"].get(name, "not set")
        if have != value:
            conflicts.append(f"{name}={value} (the run has {have})")
    return conflicts


# --- data -------------------------------------------------------------------------------------------------------
def read_dataset(path: Path, splits: Sequence[str] = ("train", "valid", "test")):
    """A stroke or image dataset, by what the file holds (of strokes only `splits`)."""
    from sketchtool.images import load_any_dataset

    return load_any_dataset(path, splits)


def _kind_of(dataset) -> str:
    from sketchtool.images import ImageDataset

    return "images" if isinstance(dataset, ImageDataset) else "strokes"


def fingerprint(path: Path) -> str:
    """sha256 of the dataset file, so `--resume` can tell a different dataset from the one trained on."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _base_spec(dataset, path: Path):
    from sketchtool.dataspec import DataSpec

    names = list(dataset.class_names)
    counts = np.bincount(dataset.labels_of("train"), minlength=len(names)) if names else []
    return DataSpec(kind=_kind_of(dataset), class_names=names, class_counts=[int(c) for c in counts],
                    conditions=dict(getattr(dataset, "conditions", None) or {}),
                    settings=dict(getattr(dataset, "settings", None) or getattr(dataset, "meta", None) or {}),
                    dataset={"name": path.stem, "path": str(path), "sha256": fingerprint(path)})


def _check_kind(cls, dataset, path: Path) -> None:
    kind = _kind_of(dataset)
    if kind != cls.input_kind:
        make = ("sketchtool build-dataset SVG_FOLDER -o data.npz" if cls.input_kind == "strokes"
                else f"sketchtool rasterize {path} -o images.npz --size 64")
        raise SketchtoolError(f"{path}: a dataset of {kind}, but model {cls.name!r} trains on {cls.input_kind}; "
                              f"make one with `{make}`")


# --- train --------------------------------------------------------------------------------------------------------
def train(dataset: str | os.PathLike, run_dir: str | os.PathLike, *, model: str = "sketch-rnn", hps=None,
          options: TrainOptions | None = None, resume: bool = False, on_progress: ProgressFn | None = None,
          on_start: Callable[[str], None] | None = None) -> TrainResult:
    """Train `model` on `dataset` into `run_dir` (latest.pt, best.pt, metrics.jsonl, run.json); `resume` continues
    tensor-for-tensor from latest.pt. Seeds only a private copy of torch's RNG (restored on return), so the
    caller's process state is left as it was. `on_start` gets one line saying what is trained on what."""
    from sketchtool.device import end_distributed, init_distributed, resolve_device

    options = options or TrainOptions()
    options.validate()
    device = resolve_device(options.device)
    dist = init_distributed(device)
    try:
        result = _train(Path(dataset), Path(run_dir), model, hps, options, resume, device, dist, on_progress, on_start)
    except BaseException:
        end_distributed(dist, finished=False)
        raise
    end_distributed(dist, finished=True)
    return result


def _train(dataset: Path, run_dir: Path, model: str, hps, options: TrainOptions, resume: bool, device, dist,
           on_progress: ProgressFn | None, on_start: Callable[[str], None] | None) -> TrainResult:
    import torch

    from sketchtool.device import resolve_device, resolve_precision
    from sketchtool.rundir import LOCK_FILE, RunLock, prepare_run_dir, remove_stale_temporaries

    if dist.world_size > 1 and device.type == "cuda":
        device = resolve_device(f"cuda:{dist.local_rank}")
    precision = resolve_precision(options.precision, device)
    created = dist.is_main and not resume and not run_dir.exists()
    if dist.is_main:  # other ranks would race rank 0 creating the directory
        prepare_run_dir(run_dir, resume)
    lock = RunLock(run_dir) if dist.is_main else None
    with lock or contextlib.nullcontext(), torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(options.seed + dist.rank)
        try:
            if lock is not None:
                prepare_run_dir(run_dir, resume)  # again under the lock: another trainer may have won the race
                remove_stale_temporaries(run_dir)
                if not resume:  # records of a run stopped before its first checkpoint, if this is one
                    (run_dir / "metrics.jsonl").unlink(missing_ok=True)
            loop = _setup(dataset, run_dir, model, hps, options, resume, device, precision, dist)
        except BaseException:
            if created:  # a run that never started leaves nothing behind
                for name in (LOCK_FILE, "run.json"):
                    (run_dir / name).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    run_dir.rmdir()
            raise
        if on_start is not None and dist.is_main:
            on_start(loop.summary())
        return loop.run(on_progress if dist.is_main else None)


def _setup(dataset: Path, run_dir: Path, model_name: str, hps, options: TrainOptions, resume: bool, device,
           precision: str, dist) -> _Loop:
    from sketchtool.models import get_model_class
    from sketchtool.models.base import hparams_from_dict

    payload = _restore(run_dir) if resume else None
    source = _init_source(options.init) if options.init is not None and payload is None else None
    if payload is not None or source is not None:
        model_name = (payload or source)["model"]
    cls = get_model_class(model_name)
    if hps is not None and payload is None and not isinstance(hps, cls.HParams):
        owner = _hparams_owner(hps)
        raise SketchtoolError(f"hps are {owner}'s hparams, but the model is {model_name!r}; pass model={owner!r} "
                              f"with them (or hps=resolve_hparams({model_name!r}))")
    data = read_dataset(dataset)
    _check_kind(cls, data, dataset)
    spec = _base_spec(data, dataset)
    if source is not None:
        hps = hps if hps is not None else hparams_from_dict(cls.HParams, source["hparams"])
        spec = _init_spec(source, spec, options.init)
    elif payload is None:
        hps, spec = cls.fit_data(hps if hps is not None else resolve_hparams(model_name), data, spec)
    else:
        hps = hparams_from_dict(cls.HParams, payload["hparams"])
        spec, changed = _resumed_spec(payload, spec, options.new_dataset, run_dir)
    if source is not None or payload is not None:  # another dataset than the weights were shaped for
        _check_fits(spec, data, dataset)
    sources = {split: cls.batch_source(hps, spec, data, split, train=split == "train", seed=options.seed + dist.rank)
               for split in ("train", "valid")}
    if not len(sources["train"]):
        limit = f" (drawings of at most {spec.max_length} points)" if spec.kind == "strokes" else ""
        raise SketchtoolError(f"{dataset}: the train split has nothing this model can train on{limit}")
    if not len(sources["valid"]):
        remedy = ("rebuild the dataset with a validation split (build-dataset --split)" if spec.kind == "strokes"
                  else "hold out part of train as valid (the MNIST recipe: make_mnist.py --valid 1000)")
        raise SketchtoolError(f"{dataset}: the valid split has no usable items, so no checkpoint could be judged or "
                              f"best.pt chosen; {remedy}")
    model = cls.build(hps, spec)
    if source is not None:
        from sketchtool.checkpoint import float32_weights, load_weights

        try:
            load_weights(model, float32_weights(source))
        except SketchtoolError:
            raise SketchtoolError(f"--init {options.init}: its weights do not fit these hparams; --hparams may change "
                                  "how it trains, not the model's shape") from None
    if options.cuda_graph:
        from sketchtool.cuda_graph import check_capturable

        check_capturable(model, device, dist.world_size)
    loop = _Loop(model.to(device), sources, dataset, run_dir, options, device, precision, dist)
    loop.split_sizes = data.counts()  # the summary says how many drawings were too long for the model
    loop.empty_items = sum(not len(item) for split in sources for item in data.splits[split])
    if payload is not None:
        loop.load_state(payload, reset_best=changed)
        loop.trim_metrics()
    if dist.is_main:
        loop.write_run_json()  # a resumed run's too: its dataset (--new-dataset) and its --steps may be new
    if options.cuda_graph:
        from sketchtool.cuda_graph import CapturedStep

        loop.captured = CapturedStep(model, loop.optimizers["model"], precision)
    return loop


def _hparams_owner(hps) -> str:
    """The name of the registered model whose HParams `hps` is (its class name when none is)."""
    from sketchtool.models import available_models, get_model_class

    for name in available_models():
        with contextlib.suppress(SketchtoolError):
            if isinstance(hps, get_model_class(name).HParams):
                return name
    return type(hps).__name__


def _json_object(path: Path) -> dict:
    """A JSON file's object, or {} when it is missing, damaged or not an object."""
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _restore(run_dir: Path) -> dict[str, Any]:
    from sketchtool.checkpoint import read_checkpoint

    payload = read_checkpoint(run_dir / "latest.pt")
    if "training" not in payload:
        raise SketchtoolError(f"{run_dir}/latest.pt: an exported model holds no training state; cannot resume")
    return payload


def _init_spec(source: dict[str, Any], current, ref: str):
    """The spec of a run started from `source` (`--init`): the source's units (scale factor, length, image shape), so
    its weights mean what they meant, with this dataset's name and settings; its classes must be the dataset's."""
    from sketchtool.checkpoint import spec_of

    trained = spec_of(source, ref)  # its kind is the model's input kind, which `_check_kind` matched to the data
    if list(current.class_names) != list(trained.class_names):
        fix = ("build the dataset without --labels folder to fine-tune" if not trained.class_names else
               "fine-tune on a dataset of its classes")
        raise SketchtoolError(f"--init {ref}: its classes ({_named(trained.class_names)}) differ from the dataset's "
                              f"({_named(current.class_names)}); {fix}, or train a new run without --init")
    return dataclasses.replace(trained, settings=current.settings, dataset=current.dataset)


def _named(classes: Sequence[str]) -> str:
    """Class names for a one-line message: none, all of a few, or how many and the first three."""
    if not classes:
        return "none"
    return ", ".join(classes) if len(classes) <= 4 else f"{len(classes)}: {', '.join(classes[:3])}, ..."


def _resumed_spec(payload: dict[str, Any], current, new_dataset: bool, run_dir: Path):
    """(the spec a run continues with, whether its dataset changed): the trained spec (its units, classes); another
    dataset file only when asked. Format-1 checkpoints have no fingerprint: the same path counts as the same file."""
    from sketchtool.checkpoint import spec_of

    trained = spec_of(payload, run_dir / "latest.pt")
    before = trained.dataset.get("sha256")
    if before is None:
        was = Path(trained.dataset.get("path") or "")
        changed = not (was.is_file() and was.resolve() == Path(current.dataset["path"]).resolve())
    else:
        changed = before != current.dataset["sha256"]
    if changed:
        if not new_dataset:
            was = trained.dataset.get("path") or trained.dataset.get("name") or "another file"
            raise SketchtoolError(f"{current.dataset['path']} is not the dataset this run was trained on ({was}); "
                                  "pass --new-dataset to continue on it (best.pt then starts afresh)")
        if list(current.class_names) != list(trained.class_names):
            raise SketchtoolError(f"{current.dataset['path']}: its classes {current.class_names} differ from the run's "
                                  f"{trained.class_names}; start a new run instead")
    return dataclasses.replace(trained, settings=current.settings, dataset=current.dataset), changed


class _Loop:
    """State of one training run; `run` is the loop a reader should look at."""

    def __init__(self, model, sources: dict[str, Any], dataset: Path, run_dir: Path, options: TrainOptions, device,
                 precision: str, dist):
        self.model, self.sources, self.dataset, self.run_dir = model, sources, dataset, run_dir
        self.options, self.device, self.precision, self.dist = options, device, precision, dist
        if dist.world_size > 1:
            from sketchtool.device import broadcast_state

            broadcast_state(model)  # every process starts from rank 0's weights
        self.optimizers = model.configure_optimizers()
        self.step = 0
        self.saved_step = -1
        self.best_valid = math.inf
        steps, save_every = model.run_length()
        self.steps = options.steps or steps
        self.save_every = options.save_every or save_every
        self.last_metrics: dict[str, float] = {}
        self.tensorboard = None  # a SummaryWriter, False when TensorBoard is not installed, None before the first log
        self.captured = None  # a cuda_graph.CapturedStep under --cuda-graph
        self.split_sizes: dict[str, int] = {}  # items of each split in the dataset, before the model's limits
        self.empty_items = 0  # empty drawings in the trained splits, which no model takes

    def summary(self) -> str:
        """What is trained on what, from where to where: e.g. the receptive field or cell a preset chose."""
        params = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        short = {split: self.split_sizes.get(split, 0) > len(source) for split, source in self.sources.items()}
        counts = ", ".join(f"{len(source):,} {split}" + (f" of {self.split_sizes[split]:,}" if short[split] else "")
                           for split, source in self.sources.items())
        if any(short.values()):
            dropped = sum(self.split_sizes[split] - len(source) for split, source in self.sources.items())
            why = ["empty"] * bool(self.empty_items) + ["longer than the model takes"] * (dropped > self.empty_items)
            counts += f" (the rest are {' or '.join(why)})"
        start = f"from step {self.step} " if self.step else ""
        span = (f"{start}to step {self.steps}" if self.step < self.steps else
                f"already at step {self.step}, so nothing to train (--steps {self.steps}; give more to go on)")
        return (f"{self.model.name} ({self.model.describe()}), {params:,} trainable parameters; {self.dataset.name}: {counts}; "
                f"{span} on {self.device.type}, {self.precision}")

    # --- checkpoints ------------------------------------------------------------------------------------
    def write_run_json(self) -> None:
        from sketchtool.fileio import atomic_write

        options = {f.name: getattr(self.options, f.name) for f in dataclasses.fields(self.options) if f.name != "stop"}
        options.update(steps=self.steps, save_every=self.save_every)  # as run, the defaults filled in
        before = _json_object(self.run_dir / "run.json").get("options")
        if options["init"] is None and isinstance(before, dict):  # resumed: still the run --init started
            options["init"] = before.get("init")
        info = {"model": self.model.name, "dataset": str(self.dataset), "hparams": self.model.hparams_dict(),
                "spec": self.model.spec.to_dict(), "options": options, "precision": self.precision}
        with atomic_write(self.run_dir / "run.json", "w") as f:
            json.dump(info, f, indent=2)

    def save(self, name: str) -> None:
        import torch

        from sketchtool.checkpoint import save_checkpoint

        if not self.dist.is_main:
            return
        states = {k: opt.state_dict() for k, opt in self.optimizers.items()}
        if self.captured is not None:
            from sketchtool.cuda_graph import portable_optimizer_state

            states = {k: portable_optimizer_state(state) for k, state in states.items()}
        training = {"optimizers": states,
                    "torch_rng": torch.get_rng_state(), "data_rng": self.sources["train"].get_state(),
                    "best_valid": self.best_valid, "seed": self.options.seed,
                    "run_length": [self.steps, self.save_every]}  # what --resume goes on to, unless told otherwise
        if torch.cuda.is_available():
            training["cuda_rng"] = torch.cuda.get_rng_state_all()
        save_checkpoint(self.run_dir / name, self.model, step=self.step, metrics={"valid": self.last_metrics},
                        training=training)
        if name == "latest.pt":
            self.saved_step = self.step

    def load_state(self, payload: dict[str, Any], reset_best: bool) -> None:
        import torch

        from sketchtool.checkpoint import load_weights

        load_weights(self.model, payload["state_dict"])
        training = payload["training"]
        states = training.get("optimizers") or {"model": training.get("optimizer")}  # format 1: one optimiser
        try:
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(states[name])
            torch.set_rng_state(training["torch_rng"])
            if "cuda_rng" in training and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(training["cuda_rng"])
            self.sources["train"].set_state(training["data_rng"])
            self.best_valid = math.inf if reset_best else float(training["best_valid"])
            self.step = self.saved_step = int(payload["step"])
            self.last_metrics = dict(payload.get("metrics", {}).get("valid", {}))
            self._resume_run_length(training.get("run_length"))
        except (KeyError, ValueError, TypeError, RuntimeError, AttributeError) as e:
            raise SketchtoolError(f"{self.run_dir}/latest.pt: its training state does not fit this model "
                                  f"({' '.join(str(e).split())[:120]}); start a new run") from None

    def _resume_run_length(self, recorded) -> None:
        """A resumed run goes on to the --steps and --save-every it was started with (recorded in its checkpoint, or
        in an older run's run.json), unless given again: it went on to the model's default (10,000,000 steps)."""
        if not recorded:
            before = _json_object(self.run_dir / "run.json").get("options")
            before = before if isinstance(before, dict) else {}
            recorded = [before.get("steps"), before.get("save_every")]
        for name, value in zip(("steps", "save_every"), recorded):
            if getattr(self.options, name) is None and isinstance(value, int) and value >= 1:
                setattr(self, name, value)

    def trim_metrics(self) -> None:
        """Drop records written after latest.pt (a crash or a full disk between them), so resume never repeats
        steps in metrics.jsonl."""
        from sketchtool.fileio import atomic_write

        path = self.run_dir / "metrics.jsonl"
        if not self.dist.is_main or not path.is_file():
            return
        kept = [r for r in read_metrics(self.run_dir) if int(r.get("step", 0)) <= self.step]
        with atomic_write(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in kept)

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
        from sketchtool.device import autocast
        from sketchtool.models.base import StepContext, TrainingDiverged

        batch = self.sources["train"].random_batch().to(self.device)
        ctx = StepContext(self.step, self.optimizers, lambda: autocast(self.device, self.precision), self._backward)
        try:
            terms = self.model.training_step(batch, ctx) if self.captured is None else \
                self.captured.step(batch, self.step)
        except TrainingDiverged as e:
            if self.saved_step < 0:  # no checkpoint to go back to
                raise SketchtoolError(
                    f"training diverged at step {e.step} (loss is {e.value}) before its first checkpoint; nothing to "
                    f"resume: remove {self.run_dir} and start again with a lower learning rate") from None
            raise SketchtoolError(
                f"training diverged at step {e.step} (loss is {e.value}); stopped, the last good checkpoint is "
                f"{self.run_dir / 'latest.pt'} (step {self.saved_step}); lower the learning rate and --resume") from None
        if self.dist.world_size > 1:
            from sketchtool.device import average_buffers

            average_buffers(self.model)  # BatchNorm statistics of the whole batch, the same in every process
        self.step += 1
        return {k: float(v.detach()) for k, v in terms.items()}

    def _backward(self, loss) -> None:
        loss.backward()
        if self.dist.world_size > 1:
            from sketchtool.device import average_gradients

            average_gradients(self.model.parameters())

    def _stop_reason(self, started: float) -> str | None:
        """"interrupted" (the stop flag), "time" (--minutes) or None; in a distributed run the most urgent reason of
        any process, so every process stops after the same step (one that stopped alone left the others waiting in
        their next all-reduce)."""
        reason = 0
        if self.options.stop is not None and self.options.stop.is_set():
            reason = 2
        elif self.options.max_minutes and time.monotonic() - started > 60 * self.options.max_minutes:
            reason = 1
        if self.dist.world_size > 1:
            import torch
            import torch.distributed as dist

            flag = torch.tensor([reason], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            reason = int(flag)
        return (None, "time", "interrupted")[reason]

    def validate(self) -> dict[str, float]:
        """Loss terms on the valid split, with noise from a generator seeded by (seed, step), then checkpoints."""
        metrics = evaluate_source(self.model, self.sources["valid"], self.device, self.precision,
                                  seed=_validation_seed(self.options.seed, self.step))
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
        while self.step < self.steps:
            reason = self._stop_reason(started)
            if reason is not None:
                stopped = reason
                break
            terms = self.train_step()
            window.append(terms)
            rate = (self.step - start_step) / max(time.monotonic() - started, 1e-9)
            if self.step % self.options.log_every == 0:
                mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                self.log({"step": self.step, "split": "train", **mean, **self.model.log_scalars(self.step),
                          "steps_per_s": rate, "time": time.time()})
                window = []
            valid = self.validate() if self.step % self.save_every == 0 else None
            if on_progress is not None:
                on_progress({"step": self.step, "total": self.steps, "steps_per_s": rate, "train": terms,
                             "valid": valid})
        if stopped == "done" and self.saved_step != self.step:
            self.validate()
        elif self.saved_step != self.step:
            self.save("latest.pt")  # between steps: a consistent state to resume from, no extra validation
        return TrainResult(self.run_dir, self.step, self.best_valid, stopped, self.last_metrics, self.dist.is_main)


def _validation_seed(seed: int, step: int) -> int:
    return int(np.random.SeedSequence([seed, step]).generate_state(1, dtype=np.uint64)[0] >> 1)


def _tensorboard_writer(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return False
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))


def evaluate_source(model, source, device, precision: str, *, seed: int = 0) -> dict[str, float]:
    """Average loss terms over every item of `source` (weighted by batch size), the model in eval mode, its noise
    from one generator seeded with `seed` (the global RNG is not touched)."""
    import torch

    from sketchtool.device import autocast

    generator = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for batch in source.batches():
            with autocast(device, precision):
                terms = model.eval_loss(batch.to(device), generator)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(batch)
            count += len(batch)
    model.train(was_training)
    return {k: v / count for k, v in sums.items()} if count else {}


def evaluate(run: str | os.PathLike, *, split: str = "test", dataset: str | os.PathLike | None = None,
             device: str = "cpu", precision: str = "fp32", seed: int = 0) -> dict[str, float]:
    """The model's loss terms on a split of its dataset (or `dataset`), read in the model's own units; `run` is a
    run directory, a checkpoint or an embedded model's name. Deterministic for a seed. "items": those evaluated,
    "split_items": all of the split's (drawings longer than the model takes are left out); "step": the model's."""
    from sketchtool.checkpoint import load_model
    from sketchtool.device import resolve_device, resolve_precision
    from sketchtool.pretrained import resolve_model

    if split not in ("train", "valid", "test"):
        raise SketchtoolError(f"--split {split}: use train, valid or test")
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    model_path = resolve_model(run, option="model")  # eval's RUN is no --model
    model, info = load_model(model_path, device=str(dev))
    if dataset is not None:
        path = Path(dataset)
        if not path.is_file():
            raise SketchtoolError(f"--dataset {path}: no such dataset file")
    else:
        path = _trained_dataset(info.dataset, model_path)
    data = read_dataset(path, splits=(split,))
    _check_kind(type(model), data, path)
    _check_fits(info.spec, data, path)
    source = type(model).batch_source(model.hps, info.spec, data, split, train=False, seed=seed)
    if not len(source):
        raise SketchtoolError(f"{path}: split {split!r} has nothing this model can read (empty, or every item too long)")
    metrics = evaluate_source(model, source, dev, precision, seed=seed)
    return {**metrics, "items": len(source), "split_items": data.counts().get(split, len(source)), "step": info.step}


def _trained_dataset(recorded: dict, model_path: Path) -> Path:
    """The dataset file the model trained on: its recorded path as given to `train`, from here or from beside the
    run (the path was the trainer's working folder's), and only if its sha256 is still the recorded one (a
    different file under the same name was scored without a word)."""
    path = Path(recorded.get("path") or "")
    run_dir = model_path if model_path.is_dir() else model_path.parent
    places = [path] if path.is_absolute() else [path, *(base / path for base in (run_dir, *run_dir.parents[:2]))]
    found = [p for p in dict.fromkeys(places) if p.is_file()]
    if not found:
        raise SketchtoolError(f"{path}: the model's dataset is not there; pass the dataset with --dataset")
    for candidate in found:
        if not recorded.get("sha256") or fingerprint(candidate) == recorded["sha256"]:
            return candidate
    raise SketchtoolError(f"{found[0]}: not the dataset this model trained on (its contents changed); pass the "
                          "dataset with --dataset")


def _check_fits(spec, data, path: Path) -> None:
    """Refuse data whose image shape, classes or condition widths differ from what the model was built for, naming
    the mismatch, before a batch meets a layer of the wrong size."""
    shape = getattr(data, "image_shape", None)
    if shape is not None and spec.image_shape and tuple(shape) != tuple(spec.image_shape):
        raise SketchtoolError(f"{path}: holds {shape[1]}x{shape[0]} images; the model reads "  # width x height,
                              f"{spec.image_shape[1]}x{spec.image_shape[0]} (rasterize the data at its size)")  # as info
    if spec.num_classes > 1 and data.num_classes > spec.num_classes:  # one-class stroke models read any data
        raise SketchtoolError(f"{path}: holds {data.num_classes} classes; the model knows {spec.num_classes}")
    extras = getattr(data, "extras", {})
    for name, width in spec.conditions.items():
        have = math.prod(extras[name]["train"].shape[1:]) if name in extras else width
        if have != width:
            raise SketchtoolError(f"{path}: its {name} vectors have {have} entries; the model takes {width}")


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of `metrics.jsonl` (train records every log_every steps, valid records at each save)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise SketchtoolError(f"{run_dir}: not a training run (no metrics.jsonl)")
    records = []
    for line in path.read_text(errors="replace").splitlines():  # a damaged line (bad UTF-8) is dropped below
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        step = record.get("step") if isinstance(record, dict) else None
        if isinstance(step, int) and abs(step) <= 2 ** 53:  # a step a float (a plot's axis) holds exactly
            records.append(record)
    return records
