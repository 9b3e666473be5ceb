"""The model interface every model behind `sketchtool train` and the sampling commands implements, and hparam parsing.

A model is a `torch.nn.Module` registered by name (see `sketchtool.models`), built from an `HParams` dataclass whose
field names follow its reference implementation (so configs carry across) and the `DataSpec` of its data. It
declares what it takes and gives (strokes or images) and what it can do (`capabilities`), owns its presets,
optimisers, schedules and clipping, and returns named loss terms. The trainer, checkpoints, sampling and the CLI
only ever talk to this interface.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError

__all__ = [
    "CAPABILITIES",
    "Condition",
    "ImageSamples",
    "MAX_PARAMETERS",
    "ProgressFn",
    "SketchModel",
    "StepContext",
    "TrainingDiverged",
    "check_finite",
    "check_ranges",
    "hparams_from_dict",
    "parse_hparams",
]

ProgressFn = Callable[[int, int], None]  # (done, total)

# generate: new samples; complete: finish a stroke prefix or a masked image; encode: latent codes (so interpolate,
# analogy, reconstruct); vectorize: image -> strokes; discriminate: score real vs generated (GAM battles)
CAPABILITIES = ("generate", "complete", "encode", "vectorize", "discriminate")
VERBS = {"generate": "generate new samples", "complete": "complete a started drawing or image",
         "encode": "encode inputs into latent codes", "vectorize": "turn images into strokes",
         "discriminate": "tell real from generated samples"}
# 4 GB of float32 weights, 16 GB to train with gradients and Adam's moments; the largest preset (gran) has 23 million
MAX_PARAMETERS = 1_000_000_000
FLOAT32_MAX = float(np.finfo(np.float32).max)
# the hparams `run_length` reads; a step count or interval below 1 trained nothing (or divided by zero)
RUN_LENGTH_HPARAMS = ("num_steps", "save_every")
MAX_BATCH_SIZE = 65_536  # items a training step; far beyond any model here, far below what exhausts memory
MAX_UNROLLED_STEPS = 1_000  # steps a model unrolls per item (DRAW's glimpses, GRAN's canvases, an agent's strokes)


@dataclass
class Condition:
    """What a sample is conditioned on; each model reads the fields it understands and refuses the rest.

    labels (n,) int64 class indices; z (n, z_size) latent codes; prefix: n stroke-3 starts in model units;
    image (n, H, W) float in [0, 1] with mask (n, H, W) bool, True where the pixel is given (completion);
    vectors: named (n, k) float conditions (e.g. the chairs generator's "view" and "transform")."""

    labels: torch.Tensor | None = None
    z: torch.Tensor | None = None
    prefix: list[np.ndarray] | None = None
    image: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    vectors: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class ImageSamples:
    """images (n, H, W) float32 in [0, 1]; frames (T, n, H, W), the canvas over time, when asked for and the
    model draws in steps (DRAW, GRAN); labels (n,), each image's class index, when the model was given classes."""

    images: np.ndarray
    frames: np.ndarray | None = None
    labels: np.ndarray | None = None


@dataclass
class StepContext:
    """What the trainer hands a training step: the step about to be taken (0-based), the model's optimisers,
    `autocast()`, the run's precision context, and `backward(loss)`, which every step calls in place of
    `loss.backward()`: in a distributed run it also averages the gradients over the processes."""

    step: int
    optimizers: dict[str, torch.optim.Optimizer]
    autocast: Callable[[], contextlib.AbstractContextManager]
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward


class SketchModel(torch.nn.Module):
    """Base class. Subclasses set `name`, `HParams` (a dataclass with the reference's names and defaults),
    `PRESETS`, `input_kind`, `output_kind` and `capabilities`, take `(hps, spec)` and implement `loss`, plus
    `sample` and `encode_drawings` as their capabilities say."""

    name: ClassVar[str] = ""
    HParams: ClassVar[type] = object
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"reference": {}}
    input_kind: ClassVar[str] = "strokes"
    output_kind: ClassVar[str] = "strokes"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate"})
    # False for a model whose sampler has no noise for --temperature / --greedy to change (the chairs generator)
    uses_temperature: ClassVar[bool] = True
    # models whose sampler draws random latents and takes `z_temperature`: the one it uses when none is given
    default_z_temperature: float | None = None
    # a stroke sampler that takes a list of generators, one per drawing (`sampling.drawing_generators`); others get
    # one generator per chunk of drawings
    generator_per_drawing: ClassVar[bool] = False
    # models whose default training step a CUDA graph can capture (sketchtool/cuda_graph.py): with `fixed_shapes`
    # set, `loss` runs in shapes that do not depend on the batch's values and reads nothing back to the host, and it
    # takes each of `log_scalars` but "lr" as a keyword (a tensor, filled before each replay)
    cuda_graph_capable: ClassVar[bool] = False
    fixed_shapes: bool = False

    def __init__(self, hps: Any, spec: DataSpec | None = None):
        super().__init__()
        self.hps = hps
        self.spec = spec or DataSpec(kind=self.input_kind)

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def frame_count(self) -> int | None:
        """Canvases `sample(frames=True)` gives per image (T), so an animation's size is checked before sampling;
        None for a model that does not draw in steps."""
        return None

    @classmethod
    def build(cls, hps: Any, spec: DataSpec | None = None) -> SketchModel:
        """`cls(hps, spec)`, sized first on the meta device (no memory, milliseconds): sizes no layer can take, or
        more than MAX_PARAMETERS, are one clear error instead of an internal one, an allocator crash or a swap
        storm, whether they come from `--hparams` or from a tampered checkpoint."""
        count = sum(t.numel() for t in _construct(cls, hps, spec, device="meta").parameters())
        if count > MAX_PARAMETERS:
            raise SketchtoolError(f"hparams give model {cls.name!r} {count:,} parameters, more than the "
                                  f"{MAX_PARAMETERS:,} sketchtool builds; choose smaller sizes")
        return _construct(cls, hps, spec)

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str, what: str = "this command") -> None:
        """One clear line when the model lacks `capability` (checked before any input is read)."""
        if not self.can(capability):
            able = ", ".join(c for c in CAPABILITIES if self.can(c)) or "nothing"
            raise SketchtoolError(f"model {self.name!r} cannot {VERBS.get(capability, capability)}, and {what} "
                                  f"needs that; it can: {able}")

    def describe(self) -> str:
        """A few words on the architecture for listings (`sketchtool models`)."""
        return self.name

    # --- data -------------------------------------------------------------------------------------------------
    @classmethod
    def fit_data(cls, hps: Any, dataset, spec: DataSpec) -> tuple[Any, DataSpec]:
        """Adapt hparams and spec to the training data before the model is built (e.g. Sketch-RNN shrinks
        max_seq_len to the longest drawing); the default computes the stroke scale factor / image shape."""
        from sketchtool.batching import fit_spec

        return hps, fit_spec(dataset, spec)

    @classmethod
    def batch_source(cls, hps: Any, spec: DataSpec, dataset, split: str, *, train: bool, seed: int):
        """The batches of `split`: `random_batch()` for training, `batches()` to evaluate every item once, and
        `get_state`/`set_state` so a resumed run draws the same batches."""
        from sketchtool.batching import default_batch_source

        binarize = getattr(hps, "binarize", "stochastic")
        if not train and binarize == "stochastic":
            binarize = "fixed"
        return default_batch_source(spec, dataset, split, batch_size=getattr(hps, "batch_size", 64),
                                    binarize=binarize, seed=seed)

    # --- training ---------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Named optimisers, all saved in checkpoints; the default step uses "model"."""
        return {"model": torch.optim.Adam(self.parameters(), lr=getattr(self.hps, "learning_rate", 1e-3))}

    def learning_rate(self, step: int) -> float | None:
        """The learning rate of the default optimiser at `step`, or None to leave it as configured."""
        return None

    def clip_gradients(self) -> None:
        """Called between backward and the optimiser step; no clipping by default."""

    def run_length(self) -> tuple[int, int]:
        """(steps, save_every) of a run when the command line does not say: the hparams' own, if they have them."""
        return int(getattr(self.hps, "num_steps", 10_000)), int(getattr(self.hps, "save_every", 500))

    def log_scalars(self, step: int) -> dict[str, float]:
        """Schedules worth logging beside the loss terms (learning rate, annealed weights)."""
        lr = self.learning_rate(step)
        return {} if lr is None else {"lr": lr}

    def training_step(self, batch, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One update of the single default optimiser; models with several networks (GANs) override it."""
        optimizer = ctx.optimizers["model"]
        lr = self.learning_rate(ctx.step)
        if lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr
        with ctx.autocast():
            terms = self.loss(batch, step=ctx.step)
        check_finite(terms, ctx.step)
        optimizer.zero_grad(set_to_none=True)
        ctx.backward(terms["loss"])
        self.clip_gradients()
        optimizer.step()
        return terms

    def loss(self, batch, step: int | None = None) -> dict[str, torch.Tensor]:
        """{"loss": scalar to minimise, plus named terms}; uses `self.training` for train/eval behaviour."""
        raise NotImplementedError

    def eval_loss(self, batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Loss terms for validation and `eval`, in eval mode; any randomness comes from `generator`, so the
        figures are reproducible and never disturb the training RNG."""
        return self.loss(batch)

    # --- sampling ---------------------------------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0,
               greedy: bool = False, condition: Condition | None = None, on_progress: ProgressFn | None = None,
               precision: str = "auto", frames: bool = False) -> list[np.ndarray] | ImageSamples:
        """n samples: stroke-3 drawings in model units (a list of (k, 3) float64 arrays) for stroke models,
        `ImageSamples` for image models. `precision` "auto" may use native bfloat16 for large batches, "fp32"
        never; `frames` asks image models for the canvas over time."""
        raise NotImplementedError

    def encode_drawings(self, inputs, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latent codes (B, z_size) of inputs in model units (stroke-3 drawings or (B, H, W) images)."""
        self.require("encode")
        raise NotImplementedError

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """P(real) (B,) float for images (B, H, W) in [0, 1], from the model's discriminator (GAM battles)."""
        self.require("discriminate")
        raise NotImplementedError

    def hparams_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.hps)


class _SkipInitOnMeta(torch.overrides.TorchFunctionMode):
    """Weight initialisers (`nn.init.*`, in-place fills) do nothing to a meta tensor, which has no data, but some
    run through torch's Python references, whose first use imports its compiler (about 2 s). Sizing skips them."""

    SHAPE_CHANGING = frozenset({"resize_", "resize_as_", "set_", "as_strided_", "squeeze_", "unsqueeze_", "t_",
                                "transpose_", "swapdims_", "swapaxes_"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        target = args[0] if args else kwargs.get("tensor")
        if (name.endswith("_") and not name.endswith("__") and name not in self.SHAPE_CHANGING
                and isinstance(target, torch.Tensor) and target.is_meta):
            return target
        return func(*args, **kwargs)


def _construct(cls: type, hps: Any, spec: DataSpec | None, device: str | None = None) -> SketchModel:
    try:  # a model that loads weights as it is built (strokenet-agent's renderer) is warned they load nowhere
        with torch.device(device) if device else contextlib.nullcontext(), warnings.catch_warnings(), \
                _SkipInitOnMeta() if device == "meta" else contextlib.nullcontext():
            if device == "meta":
                warnings.simplefilter("ignore")
            return cls(hps, spec)
    except (RuntimeError, TypeError, ValueError, OverflowError) as e:
        first = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise SketchtoolError(f"hparams cannot build model {cls.name!r} ({first}); check its sizes") from None


def check_finite(terms: Mapping[str, torch.Tensor], step: int) -> None:
    """Stop a diverged run before its update reaches the weights (the trainer names the checkpoint to resume)."""
    if not torch.isfinite(terms["loss"]):
        raise TrainingDiverged(step + 1, float(terms["loss"].detach()))


class TrainingDiverged(SketchtoolError):
    def __init__(self, step: int, value: float):
        super().__init__(f"training diverged at step {step} (loss is {value})")
        self.step, self.value = step, value


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Convert a string (or JSON value) to the type of the field's default; a clear error otherwise."""
    kind = type(default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = str(value).strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            as_float = float(text)
            if as_float != int(as_float):
                raise ValueError
            return int(as_float)
        if kind is float:
            return float(text)
        if kind is list:
            return json.loads(text) if text.startswith("[") else [text]
        return text
    except (ValueError, OverflowError):  # OverflowError: an int given as 1e400
        raise SketchtoolError(f"hparam {name}={value!r}: expected {kind.__name__}") from None


def hparams_from_dict(cls: type, values: Mapping[str, Any], base: Any = None) -> Any:
    """Build an `HParams` dataclass from `values` over `base` (or the defaults); unknown names are an error."""
    current = dataclasses.asdict(base) if base is not None else dataclasses.asdict(cls())
    fields = {f.name for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            near = ", ".join(sorted(fields))
            raise SketchtoolError(f"unknown hparam {key!r}; known names: {near}")
        current[key] = _coerce(key, value, current[key])
    for f in dataclasses.fields(cls):  # no float hparam means anything at NaN or infinity; models compute in float32
        value = current[f.name]
        if isinstance(value, float) and not abs(value) <= FLOAT32_MAX:
            raise SketchtoolError(f"hparam {f.name}={value}: must be a finite number (at most {FLOAT32_MAX:.3g} "
                                  "in size)")
    hps = cls(**current)
    check_ranges(hps, positive=tuple(name for name in RUN_LENGTH_HPARAMS if name in fields))
    if "batch_size" in fields and hps.batch_size > MAX_BATCH_SIZE:  # a step's memory: refused, not run out of
        raise SketchtoolError(f"hparam batch_size={hps.batch_size}: at most {MAX_BATCH_SIZE:,} a step")
    check = getattr(hps, "validate", None)
    if check is not None:
        check()
    return hps


def check_ranges(hps: Any, *, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 share: tuple[str, ...] = ()) -> None:
    """One clear error for an hparam out of its range (a negative learning rate reached the optimiser as an
    internal error; a keep probability of 2 trained without a word). `share`: from 0 to 1."""
    for names, ok, what in ((positive, lambda v: v > 0, "> 0"), (non_negative, lambda v: v >= 0, ">= 0"),
                            (share, lambda v: 0 <= v <= 1, "from 0 to 1")):
        for name in names:
            value = getattr(hps, name)
            if not ok(value):
                raise SketchtoolError(f"hparam {name}={value}: must be {what}")


def parse_hparams(text: str) -> dict[str, str]:
    """'a=1,b=[8,4]' -> {'a': '1', 'b': '[8,4]'} (magenta's `--hparams` syntax, plus JSON lists, whose commas do
    not separate hparams); values are typed later."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in _top_level_split(text or ""))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise SketchtoolError(f"--hparams: {part!r} is not name=value (example: dec_model=layer_norm,z_size=64)")
        if key.strip() in out:
            raise SketchtoolError(f"--hparams: {key.strip()} is given twice; give each hparam once")
        out[key.strip()] = value.strip()
    return out


def _top_level_split(text: str) -> list[str]:
    """Split at the commas outside [brackets]."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth <= 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]
