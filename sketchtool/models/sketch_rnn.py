"""Sketch-RNN (Ha & Eck, arXiv 1704.03477 §3), following magenta/models/sketch_rnn/model.py: hyper-parameter
names and defaults, initialisations and loss are the reference's.

Deliberate deviations: the encoder runs only each drawing's true length (the reference's dynamic_rnn does the
same; the popular PyTorch port reads the padding); an optional class embedding conditions the decoder when the
dataset has several classes; sampling temperature scales σ² by τ as the paper says; the pen state is sampled at
the pen temperature 0.5 + 0.5·τ (magenta-js's heuristic) unless one is given (`pen_temperature=τ` is magenta's
Python `sample()`): at the paper's temperature a model whose end-of-drawing state is less than certain rarely ends
at low τ, and its drawings run on to max_seq_len (models/mixture.py; docs/BENCHMARKS.md, issue 12); random
latents are drawn at a reduced prior temperature, z ~ N(0, 0.6²I), not the paper's N(0, I) (`Z_TEMPERATURE`);
an optional linear learning-rate warm-up (`lr_warmup_steps`, off by default) for fine-tuning a trained model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchtool.dataspec import DataSpec
from sketchtool.device import resolve_precision
from sketchtool.errors import SketchtoolError
from sketchtool.models.base import Condition, SketchModel, check_ranges
from sketchtool.models.cells import CELLS, final_hidden, final_hidden_fixed, make_cell, unroll
from sketchtool.models.mixture import (
    offset_nll,
    pen_cross_entropy,
    pen_temperature_for,
    sample_mixture,
    split_output,
)
from sketchtool.strokes import stroke5_to_stroke3

__all__ = ["PRESETS", "SketchRNN", "SketchRNNHParams"]

# Random latents are drawn from N(0, Z_TEMPERATURE² I), as Glow and NVAE sample their priors at a reduced
# temperature: nearer the prior's middle the decoder draws more surely, at some cost in variety. The embedded
# sheep at T = 0.6 against the paper's 1 (10,000 samples): judge Fréchet distance 31.9 against 47.2, recognition
# 96.6% against 90.9%, run-ons 0.35% against 4.3%, recall 0.825 against 0.871 (docs/BENCHMARKS.md, issue 12).
Z_TEMPERATURE = 0.6
MAX_SEQ_LEN = 10_000  # points a drawing may have: sampling noise and stroke-5 batches grow with it

# `reference` is magenta's defaults. `small` learns recognisable sheep on one CPU thread: measured 1.1 steps/s on a
# 2-core x86 host, so its 10,000 steps take about 2.5 hours (an hour gives rough sheep; see docs/BENCHMARKS.md)
PRESETS: dict[str, dict] = {
    "reference": {},
    "small": {"enc_rnn_size": 128, "dec_rnn_size": 256, "dec_model": "layer_norm", "batch_size": 100,
              "kl_decay_rate": 0.9995, "num_steps": 10000, "save_every": 50},
}


@dataclass
class SketchRNNHParams:
    """magenta `get_default_hparams()` names and defaults, plus sketchtool's class conditioning and the
    HyperLSTM sizes that magenta fixes in `HyperLSTMCell`."""

    data_set: list = field(default_factory=lambda: ["aaron_sheep.npz"])  # informative; training sets the file used
    num_steps: int = 10000000
    save_every: int = 500
    max_seq_len: int = 250
    dec_rnn_size: int = 512
    dec_model: str = "lstm"
    enc_rnn_size: int = 256
    enc_model: str = "lstm"
    z_size: int = 128
    kl_weight: float = 0.5
    kl_weight_start: float = 0.01
    kl_tolerance: float = 0.2
    batch_size: int = 100
    grad_clip: float = 1.0
    num_mixture: int = 20
    learning_rate: float = 0.001
    decay_rate: float = 0.9999
    kl_decay_rate: float = 0.99995
    min_learning_rate: float = 0.00001
    lr_warmup_steps: int = 0  # sketchtool: ramp the rate up linearly over this many steps (0 = magenta's schedule)
    use_recurrent_dropout: bool = True
    recurrent_dropout_prob: float = 0.90
    use_input_dropout: bool = False
    input_dropout_prob: float = 0.90
    use_output_dropout: bool = False
    output_dropout_prob: float = 0.90
    random_scale_factor: float = 0.15
    augment_stroke_prob: float = 0.10
    conditional: bool = True
    class_conditional: bool = True  # sketchtool: decoder sees a class embedding when there are several classes
    class_embedding_size: int = 32
    hyper_num_units: int = 256
    hyper_embedding_size: int = 32
    hyper_use_recurrent_dropout: bool = False

    def validate(self) -> None:
        for name in ("dec_model", "enc_model"):
            if getattr(self, name) not in CELLS:
                raise SketchtoolError(f"hparam {name}={getattr(self, name)!r}: use one of {', '.join(CELLS)}")
        for name in ("max_seq_len", "dec_rnn_size", "enc_rnn_size", "z_size", "batch_size", "num_mixture",
                     "class_embedding_size", "hyper_num_units", "hyper_embedding_size"):
            if getattr(self, name) < 1:
                raise SketchtoolError(f"hparam {name}={getattr(self, name)}: must be at least 1")
        if self.max_seq_len > MAX_SEQ_LEN:  # a checkpoint's 1e9 allocated gigabytes of sampling noise, then failed
            raise SketchtoolError(f"hparam max_seq_len={self.max_seq_len}: at most {MAX_SEQ_LEN:,} points")
        if self.lr_warmup_steps < 0:
            raise SketchtoolError(f"hparam lr_warmup_steps={self.lr_warmup_steps}: must be 0 or more")
        keep = ("recurrent_dropout_prob", "input_dropout_prob", "output_dropout_prob")  # magenta's keep probabilities
        check_ranges(self, positive=("learning_rate", "grad_clip", "decay_rate", "kl_decay_rate", *keep),
                     non_negative=("min_learning_rate", "kl_weight", "kl_weight_start", "kl_tolerance"),
                     share=("decay_rate", "kl_decay_rate", *keep, "augment_stroke_prob"))
        if self.min_learning_rate > self.learning_rate:  # magenta's decay would then raise the rate towards it
            raise SketchtoolError(f"hparam min_learning_rate={self.min_learning_rate:g} is above learning_rate="
                                  f"{self.learning_rate:g}, so the rate would rise as it decays; lower min_learning_rate")
        if not 0 <= self.random_scale_factor < 1:
            raise SketchtoolError(f"hparam random_scale_factor={self.random_scale_factor}: must be from 0 to below 1")


def _at_least_fp32(t: Tensor) -> Tensor:
    """Undo autocast's bf16/fp16 for losses and heads; float64 (tests) stays float64."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


@contextlib.contextmanager
def _inference(model: nn.Module):
    """Eval mode (no dropout) without gradients, restoring the mode the caller had."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each row's first `length` steps, leaving padding in place (tf.reverse_sequence). (B, T, C)."""
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index[..., None].expand_as(x))


class SketchRNN(SketchModel):
    """Bidirectional-LSTM encoder -> z -> autoregressive decoder with a GMM + pen-state head."""

    name: ClassVar[str] = "sketch-rnn"
    HParams: ClassVar[type] = SketchRNNHParams
    PRESETS: ClassVar[dict[str, dict]] = PRESETS
    input_kind: ClassVar[str] = "strokes"
    output_kind: ClassVar[str] = "strokes"
    generator_per_drawing: ClassVar[bool] = True
    cuda_graph_capable: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate", "complete", "encode"})

    def __init__(self, hps: SketchRNNHParams, spec: DataSpec | None = None):
        super().__init__(hps, spec)
        num_classes = self.num_classes
        dropout = {"use_recurrent_dropout": hps.use_recurrent_dropout, "dropout_keep_prob": hps.recurrent_dropout_prob}
        hyper = {"hyper_num_units": hps.hyper_num_units, "hyper_embedding_size": hps.hyper_embedding_size,
                 "hyper_use_recurrent_dropout": hps.hyper_use_recurrent_dropout}
        self.use_classes = hps.class_conditional and num_classes > 1
        cond_size = 0
        if hps.conditional:
            self.enc_fw = make_cell(hps.enc_model, 5, hps.enc_rnn_size, **dropout, **hyper)
            self.enc_bw = make_cell(hps.enc_model, 5, hps.enc_rnn_size, **dropout, **hyper)
            self.enc_mu = self._gaussian_linear(2 * hps.enc_rnn_size, hps.z_size)
            self.enc_presig = self._gaussian_linear(2 * hps.enc_rnn_size, hps.z_size)
            cond_size += hps.z_size
        if self.use_classes:
            self.class_embedding = nn.Embedding(num_classes, hps.class_embedding_size)
            cond_size += hps.class_embedding_size
        self.cond_size = cond_size
        self.dec = make_cell(hps.dec_model, 5 + cond_size, hps.dec_rnn_size, **dropout, **hyper)
        if cond_size:
            self.dec_init = self._gaussian_linear(cond_size, sum(self.dec.state_sizes))
        self.output = nn.Linear(hps.dec_rnn_size, 6 * hps.num_mixture + 3)
        nn.init.xavier_uniform_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def can(self, capability: str) -> bool:
        """Without an encoder (conditional=False) there is nothing to encode with."""
        return super().can(capability) and (capability != "encode" or self.hps.conditional)

    @property
    def default_z_temperature(self) -> float | None:
        """Z_TEMPERATURE; an unconditional model draws no z."""
        return Z_TEMPERATURE if self.hps.conditional else None

    def describe(self) -> str:
        hps = self.hps
        return f"{hps.dec_model} decoder {hps.dec_rnn_size}, z {hps.z_size}" if hps.conditional else \
            f"{hps.dec_model} decoder {hps.dec_rnn_size}, unconditional"

    # --- data (magenta `DataLoader`) ------------------------------------------------------------------------
    @classmethod
    def fit_data(cls, hps: SketchRNNHParams, dataset, spec: DataSpec) -> tuple[SketchRNNHParams, DataSpec]:
        """Drop drawings over max_seq_len and, like magenta, shrink max_seq_len to the longest drawing kept."""
        from dataclasses import replace

        from sketchtool.batching import fit_spec

        spec = fit_spec(dataset, spec, hps.max_seq_len)
        path = spec.dataset.get("path")
        return replace(hps, max_seq_len=spec.max_length, data_set=[Path(path).name] if path else hps.data_set), spec

    @classmethod
    def batch_source(cls, hps: SketchRNNHParams, spec: DataSpec, dataset, split: str, *, train: bool, seed: int):
        """Training batches random-scaled and stroke-augmented (magenta `random_batch`); evaluation plain."""
        from sketchtool.batching import BatchSource, prepare_drawings

        drawings, index = prepare_drawings(dataset.splits[split], hps.max_seq_len)
        return BatchSource(drawings, dataset.labels_of(split)[index], scale_factor=spec.scale_factor,
                           max_seq_len=hps.max_seq_len, batch_size=hps.batch_size,
                           random_scale_factor=hps.random_scale_factor if train else 0.0,
                           augment_stroke_prob=hps.augment_stroke_prob if train else 0.0, seed=seed)

    # --- training schedules (magenta sketch_rnn_train.py) --------------------------------------------------
    def learning_rate(self, step: int) -> float:
        """magenta's decay, scaled by (step + 1) / lr_warmup_steps for the warm-up's steps: a fresh Adam's first
        updates are about lr in every weight, which knocks a trained model (`--init`) off its minimum."""
        hps = self.hps
        rate = (hps.learning_rate - hps.min_learning_rate) * hps.decay_rate**step + hps.min_learning_rate
        return rate * min(1.0, (step + 1) / hps.lr_warmup_steps) if hps.lr_warmup_steps else rate

    def kl_weight_at(self, step: int) -> float:
        hps = self.hps
        return hps.kl_weight - (hps.kl_weight - hps.kl_weight_start) * hps.kl_decay_rate**step

    def log_scalars(self, step: int) -> dict[str, float]:
        return {"lr": self.learning_rate(step), "kl_weight": self.kl_weight_at(step)}

    def clip_gradients(self) -> None:
        nn.utils.clip_grad_value_(self.parameters(), self.hps.grad_clip)

    @staticmethod
    def _gaussian_linear(n_in: int, n_out: int) -> nn.Linear:
        """magenta `super_linear(init_w='gaussian', weight_start=0.001)`: tiny weights, zero bias."""
        layer = nn.Linear(n_in, n_out)
        nn.init.normal_(layer.weight, std=0.001)
        nn.init.zeros_(layer.bias)
        return layer

    # --- encoder (paper §3.1) ---------------------------------------------------------------------------
    def _encode_params(self, strokes5: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """strokes5 (B, T, 5) without the start token, lengths (B,) -> mu, sigma_hat (B, z_size)."""
        run = final_hidden_fixed if self.fixed_shapes else final_hidden
        h_fw = run(self.enc_fw, strokes5, lengths)
        h_bw = run(self.enc_bw, _reverse_within_length(strokes5, lengths), lengths)
        last_h = _at_least_fp32(torch.cat([h_fw, h_bw], dim=-1))  # (B, 2 * enc_rnn_size)
        return self.enc_mu(last_h), self.enc_presig(last_h)

    def encode(self, strokes5: Tensor, lengths: Tensor, *, generator: torch.Generator | None = None,
               deterministic: bool = True) -> Tensor:
        """Latent codes (B, z_size) float32 of normalised stroke-5 drawings (B, T, 5) (no start token; e.g.
        `batching.stroke5_batch(...).strokes5[:, 1:]`): mu, or a sample mu + σ·ε when not deterministic."""
        if not self.hps.conditional:
            return super().encode(strokes5, lengths)
        weight = self.output.weight
        with _inference(self):
            mu, sigma_hat = self._encode_params(strokes5.to(weight.device, weight.dtype), lengths.to(weight.device))
            if deterministic:
                return mu
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            return mu + torch.exp(sigma_hat / 2) * eps

    # --- decoder (paper §3.2) ---------------------------------------------------------------------------
    def _condition(self, z: Tensor | None, labels: Tensor | None, batch: int, device) -> Tensor | None:
        """[z; class embedding] as present, (B, cond_size), or None for an unconditional single-class model."""
        parts = [] if z is None else [z]
        if self.use_classes:
            if labels is None:
                raise SketchtoolError("this model is class-conditional: give the class to draw")
            parts.append(self.class_embedding(labels.to(device)))
        return torch.cat(parts, dim=-1) if parts else None

    def _initial_state(self, cond: Tensor | None, batch: int, like: Tensor) -> tuple[Tensor, ...]:
        """tanh(W [z; c] + b) split into the cell's state parts (zeros without a condition)."""
        if cond is None:
            return tuple(like.new_zeros(batch, n) for n in self.dec.state_sizes)
        return tuple(torch.tanh(self.dec_init(cond)).split(list(self.dec.state_sizes), dim=-1))

    def _decode(self, inputs: Tensor, cond: Tensor | None, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple]:
        """inputs (B, T, 5) -> raw head output (B, T, 6M+3) float32 and the final state."""
        if cond is not None:
            inputs = torch.cat([inputs, cond[:, None, :].expand(-1, inputs.shape[1], -1)], dim=-1)
        if self.training and self.hps.use_input_dropout:
            inputs = F.dropout(inputs, p=1 - self.hps.input_dropout_prob)
        outputs, state = unroll(self.dec, self.dec.project_inputs(inputs), state)  # (B, T, H)
        if self.training and self.hps.use_output_dropout:
            outputs = F.dropout(outputs, p=1 - self.hps.output_dropout_prob)
        return _at_least_fp32(self.output(outputs)), state

    @torch.no_grad()
    def teacher_forced(self, batch, z: Tensor | None = None):
        """The decoder's output distribution (`MixtureParams`, (B, T) per parameter) at every step of `batch`
        given its true prefix, z the posterior mean unless given: what the loss scores, for diagnosing what the
        model believes, e.g. how sure it is that a drawing has ended (benchmarks/pen_state.py)."""
        x = batch.strokes5
        if z is None and self.hps.conditional:
            z = self._encode_params(x[:, 1:], batch.lengths)[0]
        cond = self._condition(z, batch.labels, x.shape[0], x.device)
        y, _ = self._decode(x[:, :-1], cond, self._initial_state(cond, x.shape[0], x))
        return split_output(y, self.hps.num_mixture)

    # --- loss (paper §3.3, magenta `get_lossfunc`) ------------------------------------------------------
    def loss(self, batch, step: int | None = None, *, kl_weight: float | Tensor | None = None,
             generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """batch: a `StrokeBatch`. L_R = (masked offset NLL + pen cross-entropy) averaged over B·max_seq_len
        (pen term masked after the end too in eval mode, as magenta's eval model does); L_KL averaged over
        B·z_size; loss = L_R + kl_weight·max(L_KL, kl_tolerance), the weight annealed by `step` when given.
        z's noise comes from `generator` (the global RNG when None, as in training)."""
        hps = self.hps
        x = batch.strokes5  # (B, T+1, 5)
        target, dec_in = x[:, 1:], x[:, :-1]
        mu = sigma_hat = None
        z = None
        if hps.conditional:
            mu, sigma_hat = (_at_least_fp32(t) for t in self._encode_params(target, batch.lengths))
            eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(sigma_hat / 2) * eps
        cond = self._condition(z, batch.labels, x.shape[0], x.device)
        y, _ = self._decode(dec_in, cond, self._initial_state(cond, x.shape[0], x))
        with torch.autocast(x.device.type, enabled=False):
            p = split_output(y, hps.num_mixture)
            mask = 1.0 - target[..., 4]
            l_s = offset_nll(p, target[..., 0], target[..., 1]) * mask
            l_p = pen_cross_entropy(p, target[..., 2:5])
            if not self.training:
                l_p = l_p * mask
            l_r = (l_s + l_p).mean()
            if mu is None:
                l_kl = torch.zeros((), device=x.device)
            else:
                l_kl = -0.5 * torch.mean(1 + sigma_hat - mu**2 - torch.exp(sigma_hat))
            if kl_weight is None:
                kl_weight = hps.kl_weight if step is None else self.kl_weight_at(step)
            total = l_r + kl_weight * torch.clamp(l_kl, min=hps.kl_tolerance)
        return {"loss": total, "L_R": l_r, "L_KL": l_kl, "L_s": l_s.mean(), "L_p": l_p.mean()}

    def eval_loss(self, batch, generator: torch.Generator) -> dict[str, Tensor]:
        """magenta's eval cost: its eval model never receives the annealed weight, so it reports (and picks the
        best checkpoint by) L_R + kl_weight_start·max(L_KL, kl_tolerance)."""
        return self.loss(batch, kl_weight=self.hps.kl_weight_start, generator=generator)

    # --- sampling (paper §3.4) --------------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | Sequence[torch.Generator] | None = None,
               temperature: float = 1.0, greedy: bool = False, condition: Condition | None = None,
               on_progress: Callable[[int, int], None] | None = None, precision: str = "auto", frames: bool = False,
               z: Tensor | None = None, labels: Tensor | None = None, prefix: list[np.ndarray] | None = None,
               max_len: int | None = None, pen_temperature: float | None = None,
               z_temperature: float | None = None) -> list[np.ndarray]:
        """n drawings advanced together; returns n float64 stroke-3 arrays in normalised units (multiply
        offsets by the scale factor). The condition's (or the keyword) `z` (n, z_size) decodes given latents, else
        random z (conditional models); `labels` (n,) picks classes (random when omitted); `prefix` (n normalised
        stroke-3 starts) is fed first and is included at the start of each returned drawing. Each drawing stops at
        its end-of-drawing state or after `max_len` points (default: its own prefix's length + max_seq_len). The
        random numbers come from `generator`, or from a list of n generators, one per drawing: then a drawing is
        the same whatever else is in the batch (see `_draw_noise`). `precision` "auto" lets a large batch run its
        matmuls in bfloat16 where the hardware does that natively (see `_matmul_dtype`), "bf16" always, "fp32"
        never. `pen_temperature` divides the pen logits (None: 0.5 + 0.5·temperature, magenta-js's heuristic; see
        models/mixture.py). `z_temperature` T draws the random latents from N(0, T²I) (None: Z_TEMPERATURE; 1 is
        the paper's prior)."""
        if pen_temperature is None:
            pen_temperature = pen_temperature_for(temperature)
        if z_temperature is None:
            z_temperature = Z_TEMPERATURE
        elif not self.hps.conditional:
            raise SketchtoolError("--z-temperature: this model is unconditional; it has no latent z to draw")
        if condition is not None:
            if condition.image is not None or condition.vectors:
                raise SketchtoolError("Sketch-RNN is conditioned on strokes, classes and z, not on images or vectors")
            z = condition.z if z is None else z
            labels = condition.labels if labels is None else labels
            prefix = condition.prefix if prefix is None else prefix
        device = self.output.weight.device
        if max_len is not None:
            limits = [int(max_len)] * n
        elif prefix is not None:
            limits = [len(p) + self.hps.max_seq_len for p in prefix]
        else:
            limits = [self.hps.max_seq_len] * n
        if prefix is not None and len(prefix) != n:
            raise SketchtoolError(f"prefix must hold {n} drawings, got {len(prefix)}")
        noise = _draw_noise(generator, n, limits, z_size=self.hps.z_size if self.hps.conditional and z is None else 0,
                            num_classes=self.num_classes if self.use_classes and labels is None else 0,
                            steps=not greedy, device=device)
        with _inference(self):
            cond = self._sample_condition(n, z, labels, noise, device, z_temperature)
            forced = self._prefix_rows(n, prefix, max(limits, default=0), device)
            rows = self._sample_loop(n, cond, forced, torch.tensor(limits, device=device), temperature,
                                     pen_temperature, greedy, noise, on_progress, precision)
        return [stroke5_to_stroke3(r) for r in rows.cpu().numpy()]

    def encode_drawings(self, inputs: list[np.ndarray], *, generator: torch.Generator | None = None) -> Tensor:
        """Latent means (B, z_size) of normalised stroke-3 drawings of at most max_seq_len points each."""
        from sketchtool.batching import stroke5_batch

        self.require("encode")
        for i, d in enumerate(inputs):
            if not 0 < len(d) <= self.hps.max_seq_len:
                raise SketchtoolError(f"input drawing {i + 1} has {len(d)} points; the model takes 1 to "
                                      f"{self.hps.max_seq_len}: simplify it (a larger --epsilon) or draw it with fewer")
        batch = stroke5_batch(inputs, self.hps.max_seq_len)
        return self.encode(batch.strokes5[:, 1:], batch.lengths, deterministic=True)

    def _sample_condition(self, n: int, z, labels, noise: SampleNoise, device, z_temperature: float = 1.0
                          ) -> Tensor | None:
        if self.hps.conditional:
            if z is None:
                z = noise.z * z_temperature
            z = torch.as_tensor(z, dtype=torch.float32, device=device)
            if z.shape != (n, self.hps.z_size):
                raise SketchtoolError(f"z must have shape ({n}, {self.hps.z_size}), got {tuple(z.shape)}")
        else:
            z = None
        if self.use_classes and labels is None:
            labels = noise.labels
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.int64, device=device)
            if labels.shape != (n,) or (labels < 0).any() or (labels >= self.num_classes).any():
                raise SketchtoolError(f"labels must be {n} class indices in 0..{self.num_classes - 1}")
        return self._condition(z, labels, n, device)

    @staticmethod
    def _prefix_rows(n: int, prefix, max_len: int, device) -> tuple[Tensor, Tensor]:
        """Prefix drawings as stroke-5 rows (n, max_len, 5) and their lengths (n,)."""
        rows = torch.zeros(n, max_len, 5, device=device)
        lengths = torch.zeros(n, dtype=torch.int64, device=device)
        if prefix is None:
            return rows, lengths
        for i, p in enumerate(prefix):
            p = torch.as_tensor(np.asarray(p, dtype=np.float32).reshape(-1, 3)[:max_len], device=device)
            k = len(p)
            rows[i, :k, :2] = p[:, :2]
            rows[i, :k, 2] = 1 - p[:, 2]
            rows[i, :k, 3] = p[:, 2]
            lengths[i] = k
        return rows, lengths

    def _step_projection(self, cond: Tensor | None, n: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder input [S; cond] projected in two parts, since `project_inputs` is affine: W_S (5, P) for
        the stroke and cond·W_cond + b (n, P), constant through a drawing, so it is computed once, not per step."""
        cond_size = 0 if cond is None else cond.shape[-1]
        bias = self.dec.project_inputs(like.new_zeros(1, 5 + cond_size))  # (1, P)
        eye = torch.cat([torch.eye(5, device=like.device), like.new_zeros(5, cond_size)], dim=-1)
        w_stroke = self.dec.project_inputs(eye) - bias  # (5, P)
        if cond is None:
            return w_stroke, bias.expand(n, -1)
        return w_stroke, self.dec.project_inputs(torch.cat([like.new_zeros(n, 5), cond], dim=-1))  # (n, P)

    def _sample_loop(self, n, cond, forced, limits, temperature, pen_temperature, greedy, noise, on_progress,
                     precision) -> Tensor:
        """Decode n drawings together; drawing i stops at its end-of-drawing state or after limits[i] points."""
        forced_rows, forced_len = forced
        max_len = int(limits.max()) if n else 0
        device = forced_rows.device
        prev = torch.tensor([[0, 0, 1, 0, 0]], dtype=torch.float32, device=device).expand(n, 5)
        state = self._initial_state(cond, n, prev)
        w_stroke, cond_xw = self._step_projection(cond, n, prev)
        matmul_dtype = _matmul_dtype(device, n, precision) or self.output.weight.dtype
        w_out, b_out = (t.to(matmul_dtype) for t in (self.output.weight, self.output.bias))
        # LSTM and layer-norm cells: the stroke input rides along with h, [h, S]·[W_hh; W_S] = h·W_hh + S·W_S,
        # so each step is one matmul (a separate K=5 one costs half as much again at large batch)
        w_joint = None
        if self.dec.plain_recurrent_matmul:
            w_joint = torch.cat([self.dec.W_hh, w_stroke.to(self.dec.W_hh.dtype)]).to(matmul_dtype)
        out = torch.zeros(n, max_len, 5, device=device)
        out[:, :, 4] = 1.0  # rows never reached read as end-of-drawing
        forced_until = int(forced_len.max()) if n else 0
        # finished drawings leave the batch, so the work follows the drawings' own lengths, not the longest
        # one's; it shrinks in steps of BATCH_GRAIN rows (finished rows ride along until then) because every
        # new batch size costs the matmul libraries a new kernel and its buffers (~0.5 GB for 1,000 sizes)
        active = torch.arange(n, device=device)  # the drawing in each batch row
        live = torch.ones(n, dtype=torch.bool, device=device)  # rows still drawing
        for t in range(max_len):
            if w_joint is None:
                h, state = self.dec.step(torch.addmm(cond_xw, prev, w_stroke), state)  # (batch, H)
            else:
                h_and_stroke = torch.cat([state[0], prev.to(state[0].dtype)], dim=-1)
                h, state = self.dec.step(cond_xw, (h_and_stroke, *state[1:]), w_joint)
            y = _at_least_fp32(F.linear(h.to(matmul_dtype), w_out, b_out))  # (batch, 6M+3)
            step_noise = None if greedy else (noise.uniforms[active, t], noise.normals[active, t])
            offsets, pen_state = sample_mixture(split_output(y, self.hps.num_mixture), temperature=temperature,
                                                greedy=greedy, pen_temperature=pen_temperature, noise=step_noise)
            step = torch.cat([offsets, F.one_hot(pen_state, 3).to(offsets.dtype)], dim=-1)  # (batch, 5)
            going = pen_state != 2
            if t < forced_until:
                is_forced = t < forced_len[active]
                step = torch.where(is_forced[:, None], forced_rows[active, t], step)
                going |= is_forced
            out[active, t] = step  # a finished row's later steps are cut off with everything after its end
            live = live & going & (t + 1 < limits[active])
            if on_progress is not None:
                on_progress(t + 1, max_len)
            n_live = int(live.sum())
            if n_live == 0:
                break
            size = n_live if n_live <= BATCH_GRAIN else -(-n_live // BATCH_GRAIN) * BATCH_GRAIN
            if size < len(active):
                keep = torch.cat([live.nonzero()[:, 0], (~live).nonzero()[:, 0]])[:size]  # live rows first
                active, live, step, cond_xw = active[keep], live[keep], step[keep], cond_xw[keep]
                state = tuple(part[keep] for part in state)
            prev = step
        return out


@dataclass
class SampleNoise:
    """Every random number a batch of drawings uses, drawn before decoding: standard normal latents (n, z_size),
    classes (n,), and per step the uniforms that pick the mixture component and pen state and the normals of the
    offset (n, steps, 2 each). None for what the batch does not draw."""

    z: Tensor | None
    labels: Tensor | None
    uniforms: Tensor | None
    normals: Tensor | None


def _draw_noise(generator, n: int, limits: list[int], *, z_size: int, num_classes: int, steps: bool,
                device) -> SampleNoise:
    """A batch's `SampleNoise`: from one generator (or torch's global one) for the whole batch, or from n
    generators, drawing i's numbers from the i-th alone, in a fixed order (z, class, step uniforms, step normals;
    `limits[i]` steps). With one generator per drawing, a drawing is the same whatever else is decoded with it:
    how many, their prefixes, a server's other requests. Drawn where the generators live, then moved to `device`."""
    if generator is None or isinstance(generator, torch.Generator):
        kw = {"generator": generator, "device": generator.device if generator is not None else device}
        steps_shape = (n, max(limits, default=0), 2)
        noise = SampleNoise(z=torch.randn(n, z_size, **kw) if z_size else None,
                            labels=torch.randint(num_classes, (n,), **kw) if num_classes else None,
                            uniforms=torch.rand(steps_shape, **kw) if steps else None,
                            normals=torch.randn(steps_shape, **kw) if steps else None)
    else:
        generators = list(generator)
        if len(generators) != n:
            raise SketchtoolError(f"{len(generators)} generators for {n} drawings: give one per drawing")
        rows = [_draw_noise(g, 1, [limit], z_size=z_size, num_classes=num_classes, steps=steps, device=g.device)
                for g, limit in zip(generators, limits)]
        longest = max(limits, default=0)

        def stacked(parts: list[Tensor | None]) -> Tensor | None:
            if not parts or parts[0] is None:
                return None
            if parts[0].dim() == 3:  # steps: each row as long as its own limit, padded (never read past it)
                parts = [F.pad(p, (0, 0, 0, longest - p.shape[1])) for p in parts]
            return torch.cat(parts)

        noise = SampleNoise(stacked([r.z for r in rows]), stacked([r.labels for r in rows]),
                            stacked([r.uniforms for r in rows]), stacked([r.normals for r in rows]))
    return SampleNoise(*(None if t is None else t.to(device) for t in
                         (noise.z, noise.labels, noise.uniforms, noise.normals)))


BATCH_GRAIN = 32  # the sampling batch shrinks to multiples of this (then row by row below it)
BF16_MIN_BATCH = 64  # below this a step is op overhead, not arithmetic, so bf16 would cost precision for nothing


def _matmul_dtype(device: torch.device, batch: int, precision: str) -> torch.dtype | None:
    """bfloat16 for the sampling matmuls where the hardware runs them natively (the trainer's own test,
    `device.resolve_precision`) and the batch is large, or always for "bf16"; None (the model's own dtype) otherwise
    or when `precision` is "fp32". Training uses the same bf16 matmuls under autocast (loss within 1 % of fp32)."""
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp32" or batch < BF16_MIN_BATCH:
        return None
    return torch.bfloat16 if resolve_precision("auto", device) == "bf16" else None
