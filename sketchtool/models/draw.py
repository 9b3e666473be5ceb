"""DRAW (Gregor, Danihelka, Graves, Rezende, Wierstra, ICML 2015, arXiv 1502.04623): a recurrent variational
auto-encoder that builds an image as a sum of writes on a canvas, optionally through Gaussian filterbank attention.

Equations in order: §2.2 eqs. 3-8 (one step), §2.3 eqs. 9-12 (loss), §3.1-3.3 eqs. 17-29 (reading and
writing, without and with attention), §2.3 (generation).
There is no official code; names follow the paper (`T`, `read_n`/`write_n` for N) and the popular TensorFlow port
(ericjang/draw: `enc_size`, `dec_size`, `z_size`, `read_attn`, `write_attn`). Indices of filters and pixels are
1-based as in eqs. 19-22, so with N = image size, δ = 1 and a tiny σ a glimpse is the image itself.

Deliberate deviations: the initial canvas c_0 is a learned bias (zero at the start), LSTM states start at zero;
gradients are clipped by norm (`grad_clip`, as the ports do); an optional linear KL warm-up (`kl_warmup_steps`)
lets the paper's MNIST configuration leave the independent-pixel plateau (a probe sat there for 700 steps
without it). Training minimises L^x + β·L^z with β the warm-up weight; evaluation always reports β = 1, the bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.models.base import MAX_UNROLLED_STEPS, Condition, ImageSamples, SketchModel

__all__ = ["DRAW", "DRAWHParams", "PRESETS", "Attention", "Pass", "filterbank", "gaussian_kl", "glimpse", "paste",
           "window_boxes", "mark_windows"]

FILTER_EPS = 1e-8  # Z_X, Z_Y floor: a filter centred far off the image reads (and writes) nothing

# The default is the TensorFlow port's configuration (T=10, z=10, 5x5 attention), the quickest to learn of those
# probed on CPU (RASTER_MODELS.md; docs/BENCHMARKS.md has its first 2,000 steps). `paper-mnist` is Table 3's MNIST
# row as we recall it (64 glimpses, 256-unit LSTMs, z of 100, read 2x2, write 5x5) with KL warm-up;
# `paper-mnist-no-attention` the same without attention (Table 2's 87.40 nats row).
PRESETS: dict[str, dict] = {
    "default": {},
    "paper-mnist": {"T": 64, "read_n": 2, "write_n": 5, "z_size": 100, "enc_size": 256, "dec_size": 256,
                    "kl_warmup_steps": 2000},
    "paper-mnist-no-attention": {"T": 64, "read_attn": False, "write_attn": False, "z_size": 100, "enc_size": 256,
                                 "dec_size": 256, "kl_warmup_steps": 2000},
}


@dataclass
class DRAWHParams:
    """The paper's symbols where it has them (T glimpses, N = read_n / write_n), the port's names otherwise."""

    T: int = 10
    read_attn: bool = True
    write_attn: bool = True
    read_n: int = 5
    write_n: int = 5
    z_size: int = 10
    enc_size: int = 256
    dec_size: int = 256
    batch_size: int = 100
    learning_rate: float = 0.001
    beta1: float = 0.9
    grad_clip: float = 5.0
    kl_warmup_steps: int = 0
    binarize: str = "stochastic"
    num_steps: int = 10000
    save_every: int = 500

    def validate(self) -> None:
        for name in ("T", "read_n", "write_n", "z_size", "enc_size", "dec_size", "batch_size"):
            if getattr(self, name) < 1:
                raise SketchtoolError(f"hparam {name}={getattr(self, name)}: must be at least 1")
        if self.T > MAX_UNROLLED_STEPS:  # T=1e9 grew memory without end, past Ctrl-C
            raise SketchtoolError(f"hparam T={self.T}: at most {MAX_UNROLLED_STEPS:,} glimpses (the paper: 64)")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise SketchtoolError(f"hparam learning_rate={self.learning_rate}: must be a number > 0")
        if not 0 <= self.beta1 < 1:
            raise SketchtoolError(f"hparam beta1={self.beta1}: must be in [0, 1)")
        if not self.grad_clip > 0:
            raise SketchtoolError(f"hparam grad_clip={self.grad_clip}: must be > 0")
        if self.kl_warmup_steps < 0:
            raise SketchtoolError(f"hparam kl_warmup_steps={self.kl_warmup_steps}: must be 0 (off) or more")


# --- attention (§3.2, eqs. 19-27) ------------------------------------------------------------------------------
def filterbank(g_x_tilde: Tensor, g_y_tilde: Tensor, log_sigma2: Tensor, log_delta_tilde: Tensor, n: int,
               height: int, width: int) -> tuple[Tensor, Tensor]:
    """Eqs. 22-25: the (B,) attention parameters -> F_x (B, N, W) and F_y (B, N, H), each row a normalised
    Gaussian over 1-based pixel positions centred at mu_i = g + (i - N/2 - 1/2) δ, i = 1..N."""
    g_x = (width + 1) / 2 * (g_x_tilde + 1)  # (B,)  eq. 22
    g_y = (height + 1) / 2 * (g_y_tilde + 1)  # (B,)  eq. 23
    delta = (max(height, width) - 1) / max(n - 1, 1) * torch.exp(log_delta_tilde)  # (B,)  eq. 24
    i = torch.arange(1, n + 1, dtype=g_x.dtype, device=g_x.device)  # (N,)
    offset = (i - n / 2 - 0.5)[None] * delta[:, None]  # (B, N)  eqs. 19-20
    sigma2 = torch.exp(log_sigma2)[:, None, None]  # (B, 1, 1)

    def bank(centre: Tensor, size: int) -> Tensor:
        a = torch.arange(1, size + 1, dtype=g_x.dtype, device=g_x.device)  # (A,)
        mu = (centre[:, None] + offset)[..., None]  # (B, N, 1)
        f = torch.exp(-((a - mu) ** 2) / (2 * sigma2))  # (B, N, A)  eqs. 25-26
        return f / f.sum(-1, keepdim=True).clamp(min=FILTER_EPS)

    return bank(g_x, width), bank(g_y, height)


def glimpse(x: Tensor, f_x: Tensor, f_y: Tensor) -> Tensor:
    """F_y x F_x^T: (B, H, W) image -> (B, N, N) patch (eq. 27 without γ)."""
    return f_y @ x @ f_x.transpose(1, 2)


def paste(w: Tensor, f_x: Tensor, f_y: Tensor) -> Tensor:
    """F_y^T w F_x: (B, N, N) patch -> (B, H, W) image, the adjoint of `glimpse` (eq. 29 without 1/γ)."""
    return f_y.transpose(1, 2) @ w @ f_x


class Attention(nn.Module):
    """W(h^dec) -> (g~_x, g~_y, log σ², log δ~, log γ) (eq. 21) and the filterbanks they make."""

    def __init__(self, dec_size: int, n: int, height: int, width: int):
        super().__init__()
        self.n, self.height, self.width = n, height, width
        self.params = nn.Linear(dec_size, 5)

    def forward(self, h_dec: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """-> F_x (B, N, W), F_y (B, N, H), gamma (B,), and the raw (B, 5) parameters (for drawing the window)."""
        p = self.params(h_dec)  # (B, 5)
        f_x, f_y = filterbank(p[:, 0], p[:, 1], p[:, 2], p[:, 3], self.n, self.height, self.width)
        return f_x, f_y, torch.exp(p[:, 4]), p


def window_boxes(p: Tensor, n: int, height: int, width: int) -> Tensor:
    """(B, 5) attention parameters -> (B, 4) float boxes (x0, y0, x1, y1) in 0-based pixels: the span of the
    filter centres mu_1..mu_N, which the paper draws as the attended rectangle."""
    g_x = (width + 1) / 2 * (p[:, 0] + 1) - 1
    g_y = (height + 1) / 2 * (p[:, 1] + 1) - 1
    half = (max(height, width) - 1) / max(n - 1, 1) * torch.exp(p[:, 3]) * (n - 1) / 2
    return torch.stack([g_x - half, g_y - half, g_x + half, g_y + half], dim=1)


def mark_windows(frames: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Draw each box (T, n, 4) as a one-pixel border into a copy of frames (T, n, H, W), black over light pixels
    and white over dark ones so it shows on any canvas (the paper draws it in red); parts outside are clipped."""
    out = frames.copy()
    height, width = frames.shape[2:]
    border = np.zeros((height, width), dtype=bool)
    for t, n in np.ndindex(*frames.shape[:2]):
        x0, y0, x1, y1 = np.round(boxes[t, n]).astype(np.int64)
        border[:] = False
        cx0, cx1, cy0, cy1 = max(x0, 0), min(x1, width - 1), max(y0, 0), min(y1, height - 1)
        if cx0 > cx1 or cy0 > cy1:
            continue
        for x in (x0, x1):
            if 0 <= x < width:
                border[cy0:cy1 + 1, x] = True
        for y in (y0, y1):
            if 0 <= y < height:
                border[y, cx0:cx1 + 1] = True
        frame = out[t, n]
        frame[border] = np.where(frame[border] < 0.5, 1.0, 0.0)
    return out


# --- latent (§2.2 eq. 1, §2.3 eq. 11) --------------------------------------------------------------------------
def gaussian_kl(mu: Tensor, log_sigma: Tensor) -> Tensor:
    """KL(N(mu, σ²) || N(0, I)) summed over the last axis: ½ Σ (mu² + σ² - log σ² - 1), eq. 11 for one step."""
    return 0.5 * (mu**2 + torch.exp(2 * log_sigma) - 2 * log_sigma - 1).sum(-1)


@dataclass
class Pass:
    """One run of the network over a batch: canvases (T, B, H, W) logits c_1..c_T, mu and log_sigma (T, B, z)
    of Q(Z_t | h^enc_t) (None when generating), write parameters (T, B, 5) (None without write attention)."""

    canvases: Tensor
    mu: Tensor | None
    log_sigma: Tensor | None
    write_params: Tensor | None


class DRAW(SketchModel):
    """Encoder LSTM reads (x, x̂) given h^dec; z_t ~ Q(Z_t | h^enc_t); decoder LSTM writes onto the canvas."""

    name: ClassVar[str] = "draw"
    HParams: ClassVar[type] = DRAWHParams
    PRESETS: ClassVar[dict[str, dict]] = PRESETS
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate"})
    use_classes: ClassVar[bool] = False  # unconditional: `--class` is refused

    def __init__(self, hps: DRAWHParams, spec: DataSpec | None = None):
        super().__init__(hps, spec)
        if not self.spec.image_shape:
            raise SketchtoolError("DRAW needs the image shape of its data (train it on an image dataset)")
        self.height, self.width = (int(v) for v in self.spec.image_shape)
        h, w = self.height, self.width
        read_size = 2 * hps.read_n**2 if hps.read_attn else 2 * h * w
        self.encoder = nn.LSTMCell(read_size + hps.dec_size, hps.enc_size)  # eq. 5
        self.q_mu = nn.Linear(hps.enc_size, hps.z_size)  # eq. 1
        self.q_log_sigma = nn.Linear(hps.enc_size, hps.z_size)  # eq. 2
        self.decoder = nn.LSTMCell(hps.z_size, hps.dec_size)  # eq. 7
        self.read_attention = Attention(hps.dec_size, hps.read_n, h, w) if hps.read_attn else None
        self.write_attention = Attention(hps.dec_size, hps.write_n, h, w) if hps.write_attn else None
        self.write_patch = nn.Linear(hps.dec_size, hps.write_n**2 if hps.write_attn else h * w)  # eqs. 18, 28
        self.c_0 = nn.Parameter(torch.zeros(h, w))

    @property
    def frame_count(self) -> int:
        return self.hps.T

    def describe(self) -> str:
        hps = self.hps
        read = f"read {hps.read_n}x{hps.read_n}" if hps.read_attn else "read whole image"
        write = f"write {hps.write_n}x{hps.write_n}" if hps.write_attn else "write whole image"
        return f"DRAW, T={hps.T}, {read}, {write}, z={hps.z_size}, LSTM {hps.enc_size}/{hps.dec_size}"

    # --- training settings ----------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.parameters(), lr=self.hps.learning_rate, betas=(self.hps.beta1, 0.999))}

    def clip_gradients(self) -> None:
        nn.utils.clip_grad_norm_(self.parameters(), self.hps.grad_clip)

    def kl_weight_at(self, step: int | None) -> float:
        """β of the linear warm-up: (step + 1) / kl_warmup_steps up to 1; always 1 without a step or warm-up."""
        if step is None or self.hps.kl_warmup_steps == 0:
            return 1.0
        return min(1.0, (step + 1) / self.hps.kl_warmup_steps)

    def log_scalars(self, step: int) -> dict[str, float]:
        return {"kl_weight": self.kl_weight_at(step)} if self.hps.kl_warmup_steps else {}

    # --- one step of the network (§2.2 eqs. 3-8) -------------------------------------------------------------
    def read(self, x: Tensor, x_hat: Tensor, h_dec: Tensor) -> Tensor:
        """Eq. 17 or eq. 27: (B, H, W) image and error image -> (B, 2N²) or (B, 2HW)."""
        if self.read_attention is None:
            return torch.cat([x.flatten(1), x_hat.flatten(1)], dim=1)
        f_x, f_y, gamma, _ = self.read_attention(h_dec)
        both = torch.stack([glimpse(x, f_x, f_y), glimpse(x_hat, f_x, f_y)], dim=1)  # (B, 2, N, N)
        return (gamma[:, None, None, None] * both).flatten(1)

    def write(self, h_dec: Tensor) -> tuple[Tensor, Tensor | None]:
        """Eq. 18 or eq. 29: (B, dec_size) -> the (B, H, W) addition to the canvas, and the (B, 5) write
        attention parameters (None without attention)."""
        w = self.write_patch(h_dec)
        if self.write_attention is None:
            return w.view(-1, self.height, self.width), None
        f_x, f_y, gamma, p = self.write_attention(h_dec)
        n = self.hps.write_n
        return paste(w.view(-1, n, n), f_x, f_y) / gamma[:, None, None], p

    def run(self, x: Tensor | None, n: int, *, generator: torch.Generator | None = None,
            temperature: float = 1.0) -> Pass:
        """T steps over images x (B, H, W) in [0, 1] (inference: z_t from Q), or, with x None, n samples with
        z_t ~ N(0, temperature² I) from the prior (generation, §2.3). Noise comes from `generator`."""
        hps = self.hps
        ref = self.c_0
        batch = n if x is None else x.shape[0]
        h_enc = ref.new_zeros(batch, hps.enc_size)
        c_enc = ref.new_zeros(batch, hps.enc_size)
        h_dec = ref.new_zeros(batch, hps.dec_size)
        c_dec = ref.new_zeros(batch, hps.dec_size)
        canvas = self.c_0.expand(batch, self.height, self.width)  # (B, H, W) logits
        canvases, mus, log_sigmas, windows = [], [], [], []
        for _ in range(hps.T):
            eps = torch.randn(batch, hps.z_size, generator=generator, device=ref.device, dtype=ref.dtype)
            if x is None:
                z = temperature * eps  # (B, z)
            else:
                x_hat = x - torch.sigmoid(canvas)  # (B, H, W)  eq. 3
                r = self.read(x, x_hat, h_dec)  # eq. 4
                h_enc, c_enc = self.encoder(torch.cat([r, h_dec], dim=1), (h_enc, c_enc))  # eq. 5
                mu, log_sigma = self.q_mu(h_enc), self.q_log_sigma(h_enc)  # (B, z)
                z = mu + torch.exp(log_sigma) * eps  # eq. 6, reparameterised
                mus.append(mu)
                log_sigmas.append(log_sigma)
            h_dec, c_dec = self.decoder(z, (h_dec, c_dec))  # eq. 7
            delta, p = self.write(h_dec)
            canvas = canvas + delta  # eq. 8
            canvases.append(canvas)
            if p is not None:
                windows.append(p)
        return Pass(torch.stack(canvases), torch.stack(mus) if mus else None,
                    torch.stack(log_sigmas) if log_sigmas else None, torch.stack(windows) if windows else None)

    # --- loss (§2.3 eqs. 9-12) -------------------------------------------------------------------------------
    def loss(self, batch, step: int | None = None, *, generator: torch.Generator | None = None,
             kl_weight: float | None = None) -> dict[str, Tensor]:
        """batch: an `ImageBatch` of binary images. L_x = -log D(x | c_T), Bernoulli with mean σ(c_T), and
        L_z = Σ_t KL(Q(Z_t | h^enc_t) || N(0, I)), both in nats per image (batch mean); loss = L_x + β·L_z,
        β the warm-up weight at `step` (1 when evaluating), so with β = 1 the loss is the bound on -log p(x)."""
        x = batch.images[:, 0].to(self.c_0.dtype)  # (B, H, W)
        with torch.autocast(x.device.type, enabled=False):
            out = self.run(x, x.shape[0], generator=generator)
            l_x = F.binary_cross_entropy_with_logits(out.canvases[-1], x, reduction="none").sum((1, 2))  # (B,)
            l_z = gaussian_kl(out.mu, out.log_sigma).sum(0)  # (B,)  eq. 11 summed over t
            beta = self.kl_weight_at(step) if kl_weight is None else kl_weight
            return {"loss": (l_x + beta * l_z).mean(), "L_x": l_x.mean(), "L_z": l_z.mean()}

    def eval_loss(self, batch, generator: torch.Generator) -> dict[str, Tensor]:
        """The bound with β = 1, one z sample per image from `generator` (an unbiased estimate of eq. 12)."""
        return self.loss(batch, generator=generator, kl_weight=1.0)

    # --- generation (§2.3) -----------------------------------------------------------------------------------
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0,
               greedy: bool = False, condition: Condition | None = None, on_progress=None, precision: str = "auto",
               frames: bool = False) -> ImageSamples:
        """n images (n, H, W) float32: the Bernoulli means σ(c_T) (as the paper shows them), or their modes
        (σ(c_T) > ½) when `greedy`; z_t ~ N(0, temperature² I). With `frames`, σ(c_t) for t = 1..T (T, n, H, W)
        with the write window drawn in."""
        condition = condition or Condition()
        if condition.z is not None or condition.prefix is not None or condition.image is not None:
            raise SketchtoolError("DRAW draws unconditionally; it takes no latent, start or image to continue")
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                out = self.run(None, n, generator=generator, temperature=temperature)
        finally:
            self.train(was_training)
        p = torch.sigmoid(out.canvases.float())  # (T, n, H, W)
        images = (p[-1] > 0.5).float() if greedy else p[-1]
        steps = None
        if frames:
            steps = p.cpu().numpy()
            if out.write_params is not None:
                boxes = torch.stack([window_boxes(w.float(), self.hps.write_n, self.height, self.width)
                                     for w in out.write_params])  # (T, n, 4)
                steps = mark_windows(steps, boxes.cpu().numpy())
        return ImageSamples(images.cpu().numpy().astype(np.float32), steps)
