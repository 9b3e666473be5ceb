"""Sampling from a trained model: generate, complete, interpolate, analogy, reconstruct.

Plain, batched, seeded functions over the model interface (`sketchtool.models.base`). Stroke drawings are in dataset
units (what `build-dataset` writes and `read_drawings` returns): inputs are divided by the data spec's scale factor,
the model's batched `sample` runs in chunks (so N = 10,000 needs bounded memory), and results are multiplied back.
Image models return `ImageSamples`. A model without the capability a function needs is refused in one line.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
import secrets
from typing import Callable, Sequence

import numpy as np
import torch

from sketchtool.batching import OFFSET_LIMIT
from sketchtool.device import PRECISIONS, normalize_precision
from sketchtool.errors import SketchtoolError
from sketchtool.models.base import Condition, ImageSamples
from sketchtool.strokes import as_stroke3

__all__ = [
    "DEFAULT_TEMPERATURE",
    "DEFAULT_CHUNK",
    "SampleOptions",
    "make_generator",
    "drawing_generators",
    "encode",
    "require_encoder",
    "generate",
    "sample_labels",
    "complete",
    "complete_many",
    "complete_image",
    "lower_half_missing",
    "interpolate",
    "check_interpolation",
    "analogy",
    "reconstruct",
    "slerp",
    "lerp",
    "parse_condition",
]

DEFAULT_TEMPERATURE = 0.4
DEFAULT_CHUNK = 1000  # drawings decoded together: large enough to amortise each step, small enough for RAM
MAX_CONDITION_VALUE = 1e6  # --condition values: far beyond any angle, scale or shift, and exact in float32
EMPTY_RETRIES = 10  # `generate` redraws drawings that draw no line this many times at most
# (the embedded kanji ends at once for about 23% of prior z draws: 10 retries leave 4e-7 of drawings empty)
ProgressFn = Callable[[int, int], None]  # (drawings done, total)
_LABEL_STREAM = 0x1ABE1  # the random classes' own stream of a seed, apart from the drawings'
MAX_TEMPERATURE = 100.0  # far past any useful setting; beyond ~1e38 float32 sampling turns drawings into NaN


@dataclasses.dataclass
class SampleOptions:
    """How drawings are decoded. `seed` None draws a fresh seed (not reproducible); `class_name` picks the class
    of a class-conditional model (None: a random class per drawing); `chunk_size` drawings advance together;
    `precision` "auto" lets large batches run their matmuls in bfloat16 where the hardware does so natively,
    "fp32" never does, "bf16" always."""

    temperature: float = DEFAULT_TEMPERATURE
    greedy: bool = False
    seed: int | None = None
    class_name: str | None = None
    chunk_size: int = DEFAULT_CHUNK
    precision: str = "auto"
    condition: str | None = None  # "identity=3,angle=0:350": see `parse_condition`
    pen_temperature: float | None = None  # Sketch-RNN's pen-state choice; None: the model's default
    z_temperature: float | None = None  # Sketch-RNN's random latents z ~ N(0, T²I); None: the model's default

    def validate(self) -> None:
        for name in ("temperature", "pen_temperature", "z_temperature"):  # a str or None would be a TypeError below
            value = getattr(self, name)
            if (value is not None or name == "temperature") and (isinstance(value, bool)
                                                                 or not isinstance(value, numbers.Real)):
                raise SketchtoolError(f"{name} {value!r}: must be a number")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral)):
            raise SketchtoolError(f"seed {self.seed!r}: must be a whole number (None: a fresh one each call)")
        if not 0 < self.temperature <= MAX_TEMPERATURE:  # false for NaN
            raise SketchtoolError(f"--temperature {self.temperature}: must be a number > 0 and at most "
                                  f"{MAX_TEMPERATURE:g} (0.1-1 is typical)")
        t = self.pen_temperature
        if t is not None and not 0 < t <= MAX_TEMPERATURE:
            raise SketchtoolError(f"--pen-temperature {t}: must be a number > 0 and at most {MAX_TEMPERATURE:g} "
                                  "(0.5-1 is typical)")
        t = self.z_temperature
        if t is not None and not 0 <= t <= MAX_TEMPERATURE:
            raise SketchtoolError(f"--z-temperature {t}: must be a number from 0 to {MAX_TEMPERATURE:g} (0.5-1 is "
                                  "typical; 1 is the paper's)")
        if self.chunk_size < 1:
            raise SketchtoolError(f"chunk size {self.chunk_size}: must be >= 1")
        if self.precision not in PRECISIONS:
            self.precision = normalize_precision(self.precision)


def make_generator(seed: int | None, device: str | torch.device = "cpu") -> torch.Generator:
    """A private torch RNG (the global one is never touched), seeded from `seed` or from fresh entropy."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def drawing_generators(keys: Sequence[tuple[int, ...]]) -> list[torch.Generator]:
    """One private CPU generator per drawing, seeded from its key (seed, drawing index[, retry]) through numpy's
    SeedSequence, which gives independent streams for neighbouring keys. The stroke samplers draw each drawing's
    random numbers from its own, so drawing i of a seed is the same however many are drawn with it, in chunks or
    in a server's batch; and on any device, since the numbers are drawn on the CPU."""
    return [torch.Generator().manual_seed(_key_seed(key)) for key in keys]


def _key_seed(key: tuple[int, ...]) -> int:
    """A drawing key's 63-bit torch seed (SeedSequence mixes every part of the key into it)."""
    state = np.random.SeedSequence([int(k) % 2**64 for k in key]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def _draws_no_line(drawing: np.ndarray) -> bool:
    """True when no two points of the drawing are joined: it is empty or every stroke is a single point (a dot)."""
    return len(drawing) < 2 or bool(np.all(drawing[:-1, 2] == 1))


def _seed_or_fresh(seed: int | None) -> int:
    """The given seed, or a fresh one for a run that gave none (its output is then not reproducible, as asked)."""
    return secrets.randbits(63) if seed is None else seed


def encode(model, info, drawings: Sequence[np.ndarray], *, chunk_size: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Latent means (B, z_size) float32 of stroke-3 drawings in dataset units; a clear error for a model
    without an encoder or a drawing longer than the model takes."""
    require_encoder(model, info)
    normalised = _to_model_units(drawings, info)
    parts = [model.encode_drawings(normalised[start:start + chunk_size])
             for start in range(0, len(normalised), chunk_size)]
    return torch.cat(parts)


def require_encoder(model, info) -> None:
    """Refuse, with the reason, a model that cannot encode drawings (checked before reading any input)."""
    model.require("encode", "encoding drawings (interpolate, analogy, reconstruct)")


def generate(model, info, n: int, options: SampleOptions | None = None, on_progress: ProgressFn | None = None, *,
             frames: bool = False, labels: np.ndarray | None = None) -> list[np.ndarray] | ImageSamples:
    """n new samples: stroke-3 drawings in dataset units (random latents z: `SampleOptions.z_temperature`), or
    `ImageSamples` (with the canvas over time when `frames` and the model draws in steps, and each image's class).
    Drawing i of a seed is the same for any n (`drawing_generators`). A drawing that draws no line (some latents
    decode to nothing, or to one lone point) is drawn again from its next stream, so a seed still fixes the output.
    A class-conditional stroke model draws the classes `labels` (default: `sample_labels`, which says which)."""
    options = _checked(options)
    _check_count(n, "--n")
    model.require("generate", "generate")
    if model.output_kind == "images":
        generator = make_generator(options.seed, _device_of(model))
        return _sample_images(model, info, n, options, generator, on_progress, frames)
    seed = _seed_or_fresh(options.seed)
    if labels is None:
        labels = sample_labels(model, info, n, dataclasses.replace(options, seed=seed))
    drawings = _decode(model, info, n, options, keys=[(seed, i) for i in range(n)], labels=labels,
                       on_progress=on_progress)
    for retry in range(1, EMPTY_RETRIES + 1):
        empty = [i for i, d in enumerate(drawings) if _draws_no_line(d)]
        if not empty:
            break
        again = _decode(model, info, len(empty), options, keys=[(seed, i, retry) for i in empty],
                        labels=None if labels is None else np.asarray(labels)[empty])
        for i, d in zip(empty, again):
            drawings[i] = d
    return drawings


def sample_labels(model, info, n: int, options: SampleOptions) -> np.ndarray | None:
    """The class index of each of n new samples: `--class`'s for all; for a class-conditional model without
    one, a class drawn per sample from the seed in the proportions of the train split (sample i's is the same
    for any n, as its drawing is; uniform for a checkpoint that recorded no counts); None for a model without
    classes. What `generate` draws, so a caller can record which class each sample is. In the data's
    proportions, samples are comparable with the data as a whole (`score`'s reference is a mixture too)."""
    given = _labels(model, info, options, n)
    if given is not None:
        return given.numpy()
    if not getattr(model, "use_classes", False):
        return None
    rng = np.random.default_rng([_seed_or_fresh(options.seed), _LABEL_STREAM])
    counts = np.asarray(info.spec.class_counts, dtype=np.float64)
    if len(counts) != model.num_classes:
        return rng.integers(model.num_classes, size=n)
    cumulative = np.cumsum(counts) / counts.sum()
    return np.minimum(np.searchsorted(cumulative, rng.random(n), side="right"), model.num_classes - 1)


def complete(model, info, prefix: np.ndarray, n: int, options: SampleOptions | None = None,
             on_progress: ProgressFn | None = None) -> list[np.ndarray]:
    """n different endings of the drawing start `prefix` (stroke-3, dataset units): each returned drawing is
    `prefix` itself followed by the model's continuation (rows from len(prefix) on), which may be empty.
    A conditional model draws a random z per ending (encoding the start instead would describe a drawing
    that stops where the start stops)."""
    return complete_many(model, info, [prefix], n, options, on_progress=on_progress)[0]


def complete_many(model, info, prefixes: Sequence[np.ndarray], n: int, options: SampleOptions | None = None,
                  on_progress: ProgressFn | None = None, *,
                  seeds: Sequence[int | None] | None = None) -> list[list[np.ndarray]]:
    """`complete` for several starts decoded in one batch (n endings each): what a server does with concurrent
    requests. Each start has its own seed (`seeds`; default `options.seed` for all), and its endings are exactly
    what `complete` gives it alone with that seed."""
    options = _checked(options)
    _check_count(n, "--n")
    model.require("complete", "complete")
    _require_strokes(model, info)
    if isinstance(prefixes, np.ndarray) and prefixes.ndim == 2:
        raise SketchtoolError("complete_many takes a list of drawing starts, not one (n, 3) array; give [start]")
    prefixes = [as_stroke3(p, "the drawing to complete") for p in prefixes]
    if not prefixes or any(len(p) == 0 for p in prefixes):
        raise SketchtoolError("the drawing to complete is empty; give a drawing with at least one stroke")
    seeds = [options.seed] * len(prefixes) if seeds is None else list(seeds)
    if len(seeds) != len(prefixes):
        raise SketchtoolError(f"{len(seeds)} seeds for {len(prefixes)} drawings to complete: give one each")
    seeds = [_seed_or_fresh(seed) for seed in seeds]
    starts = _to_model_units(prefixes, info)
    # the model leaves room for a full drawing after the given start, as long as it would draw one
    full = _decode(model, info, len(prefixes) * n, options, prefix=[s for s in starts for _ in range(n)],
                   keys=[(seed, j) for seed in seeds for j in range(n)], on_progress=on_progress)
    return [[np.concatenate([p, d[len(p):]]) for d in full[i * n:(i + 1) * n]] for i, p in enumerate(prefixes)]


def complete_image(model, info, image: np.ndarray, mask: np.ndarray, n: int, options: SampleOptions,
                   on_progress: ProgressFn | None = None) -> ImageSamples:
    """n completions of `image` ((H, W) float in [0, 1], 1.0 = ink): pixels where `mask` ((H, W) bool) is True are
    given and kept, the model fills in the rest (an autoregressive model sees only the given pixels before each
    missing one in its own order)."""
    _check_count(n, "--n")
    model.require("complete", "complete")
    if model.output_kind != "images" or info.spec.kind != "images":
        raise SketchtoolError(f"model {info.path} draws {model.output_kind}; give it a drawing to complete, "
                              "not an image")
    shape = tuple(info.spec.image_shape)
    image, mask = np.asarray(image, dtype=np.float32), np.asarray(mask, dtype=bool)
    if image.shape != shape or mask.shape != shape:
        sizes = ["x".join(map(str, a.shape[::-1])) for a in (image, mask)]  # width x height, as info prints
        raise SketchtoolError(f"the image ({sizes[0]}) and mask ({sizes[1]}) must be the model's size, "
                              f"{shape[1]}x{shape[0]}")
    if not np.isfinite(image).all():
        raise SketchtoolError("the image to complete has non-finite values")
    if mask.all():
        raise SketchtoolError("nothing to complete: the mask gives every pixel; mark the missing part")
    options.validate()
    device = _device_of(model)
    generator = make_generator(options.seed, device)
    extra = _sampler_keywords(model, info, options)
    labels = _labels(model, info, options, n)
    images = []
    for start in range(0, n, options.chunk_size):
        stop = min(n, start + options.chunk_size)
        k = stop - start
        condition = Condition(labels=None if labels is None else labels[start:stop].to(device),
                              image=torch.as_tensor(np.clip(image, 0, 1), device=device).expand(k, *shape),
                              mask=torch.as_tensor(mask, device=device).expand(k, *shape))
        images.append(model.sample(k, generator=generator, temperature=options.temperature, greedy=options.greedy,
                                   condition=condition, precision=options.precision, **extra).images)
        if on_progress is not None:
            on_progress(stop, n)
    return ImageSamples(np.concatenate(images))


def lower_half_missing(shape: tuple[int, int]) -> np.ndarray:
    """The default completion mask (H, W) bool: the upper half given (True), the lower half missing."""
    mask = np.zeros(shape, dtype=bool)
    mask[: shape[0] // 2] = True
    return mask


def interpolate(model, info, drawings: Sequence[np.ndarray], steps: int, options: SampleOptions | None = None, *,
                method: str = "slerp", on_progress: ProgressFn | None = None) -> list[list[np.ndarray]]:
    """One row of `steps` drawings per consecutive pair of `drawings`, decoded from latents interpolated from
    z(A) to z(B) (spherically by default, "linear" on request; t = 0 and 1 included)."""
    options = _checked(options)
    check_interpolation(len(drawings), steps)
    mix = {"slerp": slerp, "linear": lerp}.get(method)
    if mix is None:
        raise SketchtoolError(f"interpolation method {method!r}: use 'slerp' or 'linear'")
    z = encode(model, info, drawings, chunk_size=options.chunk_size).cpu().numpy()
    ts = np.linspace(0.0, 1.0, steps)
    path = np.stack([mix(z[i], z[i + 1], t) for i in range(len(z) - 1) for t in ts])  # (pairs * steps, z_size)
    flat = _decode(model, info, len(path), options, z=path, on_progress=on_progress)
    return [flat[i:i + steps] for i in range(0, len(flat), steps)]


def check_interpolation(count: int, steps: int) -> None:
    """Refuse an interpolation of fewer than two drawings or steps (a command checks before reading its inputs)."""
    if count < 2:
        raise SketchtoolError("interpolate needs at least two drawings (A B [C ...])")
    if steps < 2:
        raise SketchtoolError(f"--steps {steps}: must be at least 2 (the two ends)")


def analogy(model, info, a: np.ndarray, b: np.ndarray, c: np.ndarray, n: int, options: SampleOptions | None = None,
            on_progress: ProgressFn | None = None) -> list[np.ndarray]:
    """n decodings of z(A) - z(B) + z(C), the paper's "sketch drawing analogies" (A is to B as ? is to C)."""
    options = _checked(options)
    _check_count(n, "--n")
    za, zb, zc = encode(model, info, [a, b, c]).cpu().numpy()
    target = np.repeat((za - zb + zc)[None], n, axis=0)
    return _decode(model, info, n, options, z=target, on_progress=on_progress)


def reconstruct(model, info, drawings: Sequence[np.ndarray], n: int, options: SampleOptions | None = None,
                on_progress: ProgressFn | None = None) -> list[list[np.ndarray]]:
    """n decodings of each drawing's latent mean (conditional reconstruction): one list per input drawing."""
    options = _checked(options)
    _check_count(n, "--n")
    if not len(drawings):
        raise SketchtoolError("nothing to reconstruct: no input drawings")
    z = encode(model, info, drawings, chunk_size=options.chunk_size).cpu().numpy()
    flat = _decode(model, info, len(z) * n, options, z=np.repeat(z, n, axis=0), on_progress=on_progress)
    return [flat[i:i + n] for i in range(0, len(flat), n)]


def slerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation (magenta sketch_rnn `slerp`): follows the great circle between the two codes,
    which keeps intermediate codes at a typical norm under a Gaussian prior; linear when they are parallel."""
    z0, z1 = np.asarray(z0, dtype=np.float64), np.asarray(z1, dtype=np.float64)
    norms = np.linalg.norm(z0) * np.linalg.norm(z1)
    if norms == 0:
        return lerp(z0, z1, t)
    omega = np.arccos(np.clip(np.dot(z0, z1) / norms, -1.0, 1.0))
    if np.sin(omega) < 1e-8:
        return lerp(z0, z1, t)
    return (np.sin((1.0 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


def lerp(z0: np.ndarray, z1: np.ndarray, t: float) -> np.ndarray:
    """Linear interpolation between two codes."""
    return (1.0 - t) * np.asarray(z0, dtype=np.float64) + t * np.asarray(z1, dtype=np.float64)


# --- helpers -------------------------------------------------------------------------------------------------
def _checked(options: SampleOptions | None) -> SampleOptions:
    """`options` (None: the defaults), validated before any of its fields is used."""
    options = SampleOptions() if options is None else options
    options.validate()
    return options


def _check_count(n: int, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):  # 2.0 or "2" were TypeErrors deep inside
        raise SketchtoolError(f"{what} {n!r}: must be a whole number")
    if n < 1:
        raise SketchtoolError(f"{what} {n}: must be at least 1")


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


def _require_strokes(model, info) -> None:
    if model.input_kind != "strokes" or info.spec.kind != "strokes":
        raise SketchtoolError(f"model {info.path} works on {model.input_kind}; this command needs a stroke model")


def _to_model_units(drawings: Sequence[np.ndarray], info) -> list[np.ndarray]:
    """Dataset units -> the model's (offsets clamped as in training, divided by the scale factor), float32."""
    if isinstance(drawings, np.ndarray) and drawings.ndim == 2:  # its rows would be taken for one-point drawings
        raise SketchtoolError(f"give a list of drawings, not one {drawings.shape} array: [drawing]")
    max_len = info.spec.max_length
    out = []
    for i, d in enumerate(drawings):
        s = as_stroke3(d, f"input drawing {i + 1}").astype(np.float32)
        if len(s) == 0:
            raise SketchtoolError(f"input drawing {i + 1} is empty")
        if not np.isfinite(s).all():
            raise SketchtoolError(f"input drawing {i + 1} holds NaN or infinite points")
        if max_len is not None and len(s) > max_len:
            raise SketchtoolError(f"input drawing {i + 1} has {len(s)} points, more than the model takes ({max_len}); "
                                  "simplify it (a larger --epsilon) or draw it with fewer points")
        s[:, :2] = np.clip(s[:, :2], -OFFSET_LIMIT, OFFSET_LIMIT) / info.spec.scale_factor
        out.append(s)
    return out


def _labels(model, info, options: SampleOptions, n: int) -> torch.Tensor | None:
    """Class indices for `--class`, or None (the model then picks a random class per drawing, if it has classes)."""
    if options.class_name is None:
        return None
    if isinstance(options.class_name, numbers.Integral) and not isinstance(options.class_name, bool):
        options = dataclasses.replace(options, class_name=str(options.class_name))  # a label index, as --class K
    if not getattr(model, "use_classes", model.num_classes > 1):
        raise SketchtoolError(f"--class {options.class_name}: model {info.path} was not trained with classes; "
                              "drop --class or train on a dataset built with --labels folder")
    if options.class_name in info.class_names:
        index = info.class_names.index(options.class_name)
    elif options.class_name.isdigit() and int(options.class_name) < len(info.class_names):
        index = int(options.class_name)  # a label index (--label K), when no class is named so
    else:
        known = ", ".join(info.class_names)
        raise SketchtoolError(f"--class {options.class_name}: not a class of this model; use one of {known} "
                              f"(or an index from 0 to {len(info.class_names) - 1})")
    return torch.full((n,), index, dtype=torch.int64)


def _sample_images(model, info, n: int, options: SampleOptions, generator: torch.Generator,
                   on_progress: ProgressFn | None, frames: bool) -> ImageSamples:
    """An image model's samples, `options.chunk_size` at a time from one generator."""
    options.validate()
    extra = _sampler_keywords(model, info, options)
    labels = _labels(model, info, options, n)
    if options.condition and not info.spec.conditions and not getattr(model, "use_classes", model.num_classes > 1):
        raise SketchtoolError(f"--condition: model {info.path} takes no conditions; drop --condition")
    given = parse_condition(options.condition, n, info.class_names) if options.condition else Condition()
    if labels is not None and (given.labels is not None or "identity" in given.vectors):
        raise SketchtoolError("--class and --condition identity= both pick the class; give one")
    labels = labels if labels is not None else given.labels
    if labels is None and "identity" not in given.vectors and getattr(model, "use_classes", False):
        labels = torch.as_tensor(sample_labels(model, info, n, options))
    images, steps = [], []
    for start in range(0, n, options.chunk_size):
        stop = min(n, start + options.chunk_size)
        condition = Condition(labels=None if labels is None else labels[start:stop].to(_device_of(model)),
                              vectors={k: v[start:stop].to(_device_of(model)) for k, v in given.vectors.items()})
        out = model.sample(stop - start, generator=generator, temperature=options.temperature, greedy=options.greedy,
                           condition=condition, precision=options.precision, frames=frames, **extra)
        images.append(out.images)
        if out.frames is not None:
            steps.append(out.frames)
        if on_progress is not None:
            on_progress(stop, n)
    return ImageSamples(np.concatenate(images), np.concatenate(steps, axis=1) if steps else None,
                        None if labels is None else labels.numpy())


def parse_condition(text: str, n: int, class_names: Sequence[str]) -> Condition:
    """"name=value,..." -> a Condition for n samples. `identity` (or `class`) is a class index or name ->
    `labels`; any other name -> `vectors[name]` (n, 1). A value "a:b" sweeps linearly from a to b over the n
    samples (ends included); an identity sweep gives soft identity codes `vectors["identity"]` (n, classes)
    blending the two classes (a morph). Values lie within ±MAX_CONDITION_VALUE."""
    labels, vectors, seen = None, {}, set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = (x.strip() for x in part.partition("="))
        if not sep or not key or not value:
            raise SketchtoolError(f"--condition: {part!r} is not name=value (example: identity=3,angle=40)")
        name = "identity" if key == "class" else key
        if name in seen:  # angle=0,angle=90: the last one won without a word
            raise SketchtoolError(f"--condition: {key} given twice; give each once")
        seen.add(name)
        ends = value.split(":")
        if len(ends) > 2:
            raise SketchtoolError(f"--condition {key}={value}: give a number or a sweep a:b")
        if key in ("identity", "class"):
            a, b = (_class_index(e, class_names, key) for e in (ends[0], ends[-1]))
            if a == b:
                labels = torch.full((n,), a, dtype=torch.int64)
            else:
                t = torch.linspace(0, 1, n)[:, None] if n > 1 else torch.zeros(1, 1)
                onehot = torch.eye(len(class_names))
                vectors["identity"] = (1 - t) * onehot[a] + t * onehot[b]  # (n, classes)
            continue
        try:
            a, b = (float(e) for e in (ends[0], ends[-1]))
        except ValueError:
            raise SketchtoolError(f"--condition {key}={value}: not a number") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise SketchtoolError(f"--condition {key}={value}: must be finite")
        if max(abs(a), abs(b)) > MAX_CONDITION_VALUE:
            raise SketchtoolError(f"--condition {key}={value}: give values from -{MAX_CONDITION_VALUE:,.0f} to "
                                  f"{MAX_CONDITION_VALUE:,.0f}")
        vectors[key] = torch.linspace(a, b, n)[:, None] if n > 1 else torch.tensor([[a]])  # (n, 1)
    if labels is None and not vectors:
        raise SketchtoolError("--condition: nothing given (example: identity=3,angle=40)")
    return Condition(labels=labels, vectors=vectors)


def _class_index(text: str, class_names: Sequence[str], key: str) -> int:
    if text in class_names:
        return list(class_names).index(text)
    try:
        index = int(text)
    except ValueError:
        index = -1
    if not 0 <= index < len(class_names):
        raise SketchtoolError(f"--condition {key}={text}: the model knows {key} 0 to {len(class_names) - 1} "
                              f"(or a name such as {class_names[0] if class_names else 'none'})")
    return index


def _decode(model, info, n: int, options: SampleOptions, *, z: np.ndarray | None = None,
            prefix: list[np.ndarray] | None = None, keys: Sequence[tuple[int, ...]] | None = None,
            labels: np.ndarray | None = None, on_progress: ProgressFn | None = None) -> list[np.ndarray]:
    """Run the model's batched sampler over n drawings, `options.chunk_size` at a time, each drawing from its
    own generator (`drawing_generators`; keys default to (seed, index)), or each chunk from one for a model
    that takes one; results scaled back to dataset units (float64). `labels`: each drawing's class (default:
    `--class`'s, else the model draws one)."""
    options.validate()
    if model.output_kind != "strokes":
        raise SketchtoolError(f"model {info.path} draws {model.output_kind}, not strokes; these commands need strokes")
    if z is not None and options.z_temperature is not None:
        raise SketchtoolError("--z-temperature: this command decodes the latents of its input drawings; it draws "
                              "no random z (use it with generate or complete)")
    device = _device_of(model)
    if keys is None:
        seed = _seed_or_fresh(options.seed)
        keys = [(seed, i) for i in range(n)]
    labels = _labels(model, info, options, n) if labels is None else torch.as_tensor(labels, dtype=torch.int64)
    extra = _sampler_keywords(model, info, options)
    z_all = None if z is None else torch.as_tensor(np.asarray(z), dtype=torch.float32, device=device)
    out: list[np.ndarray] = []
    for start in range(0, n, options.chunk_size):
        stop = min(n, start + options.chunk_size)
        step_progress = None if on_progress is None else functools.partial(_chunk_progress, on_progress, start, stop, n)
        condition = Condition(z=None if z_all is None else z_all[start:stop],
                              labels=None if labels is None else labels[start:stop].to(device),
                              prefix=None if prefix is None else prefix[start:stop])
        generator = drawing_generators(keys[start:stop]) if model.generator_per_drawing else \
            make_generator(_key_seed(keys[start]), device)
        drawings = model.sample(stop - start, generator=generator, temperature=options.temperature,
                                greedy=options.greedy, condition=condition, on_progress=step_progress,
                                precision=options.precision, **extra)
        for d in drawings:
            d = np.array(d, dtype=np.float64).reshape(-1, 3)
            d[:, :2] *= info.spec.scale_factor
            out.append(d)
        if on_progress is not None:
            on_progress(stop, n)
    return out


def _sampler_keywords(model, info, options: SampleOptions) -> dict:
    """The pen and z temperatures as keywords for models whose sampler takes them; only those set, so other models
    keep working, and one asked for them anyway is told so."""
    given = {"pen_temperature": options.pen_temperature, "z_temperature": options.z_temperature}
    keywords = {name: value for name, value in given.items() if value is not None}
    takes = inspect.signature(model.sample).parameters
    for name in keywords:
        if name not in takes:
            option, what = "--" + name.replace("_", "-"), name.replace("_", " ")
            raise SketchtoolError(f"{option}: model {info.path} ({model.name}) has no {what}")
    return keywords


def _chunk_progress(on_progress: ProgressFn, start: int, stop: int, n: int, t: int, total: int) -> None:
    """A chunk's step t of total, reported as drawings done of all n."""
    on_progress(start + (stop - start) * t // total, n)
