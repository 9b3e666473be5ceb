"""GRAN: Generating Images with Recurrent Adversarial Networks (Im, Kim, Jiang, Memisevic, arXiv 1602.05110,
section 3), following the official Theano code jiwoongim/GRAN (recGenI28.py, main_granI_*.py).

Noise z is drawn once per sample, h_z = tanh(BN(W z)); at each of T steps the decoder maps [h_z, h_c,t] through
FC + BN + ReLU and transposed convolutions to a canvas increment delta C_t, and an encoder (convolutions, FC +
BN + tanh) maps delta C_t back to h_c,t+1 (h_c,1 = 0), as recGenI28.py does; the image is sigmoid(sum_t delta C_t).
A DCGAN-like discriminator; alternating updates (discriminator, then generator with the non-saturating loss) in
this model's own `training_step`, Adam at epsilon_dis = 4e-5 and epsilon_gen = 1e-4 as main_granI_cifar10.py.
T = 1 is the DCGAN-like ablation. Deliberate deviations: the step count is the hparam `T` (the reference's
num_steps); transposed convolutions are 4x4 stride 2 (one stage per entry of `nkerns`, any image side divisible
by 2^len(nkerns)) instead of the reference's per-resolution filter sizes; Adam beta1 = 0.5 (DCGAN's); no weight
decay (the reference's lam); grey images, one channel. The validation "loss" (which picks best.pt) is the pixel
moment mismatch between samples and data (mean and std per pixel), a crude discriminator-free quality proxy,
since GAN losses do not fall as samples improve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from sketchtool.errors import SketchtoolError
from sketchtool.models.base import MAX_UNROLLED_STEPS, Condition, ImageSamples, SketchModel, check_finite

__all__ = ["GRAN", "GRANHParams"]


@dataclass
class GRANHParams:
    T: int = 3  # recurrent steps (reference num_steps); 1 = DCGAN-like ablation
    num_z: int = 100  # noise size, also the size of h_z and h_c
    ckern: int = 32  # generator channels = nkerns * ckern (reference)
    nkerns: list = field(default_factory=lambda: [8, 4])  # one up-sampling stage per entry
    dis_ckern: int = 32  # discriminator channels of its first layer, doubling per layer
    conv_num_hid: int = 100  # discriminator hidden units before the output (reference)
    epsilon_gen: float = 1e-4
    epsilon_dis: float = 4e-5
    batch_size: int = 100
    binarize: str = "none"  # a GAN sees grey images as they are
    num_steps: int = 10_000  # training steps (the trainer's default length)
    save_every: int = 500

    def validate(self) -> None:
        if not 1 <= self.T <= MAX_UNROLLED_STEPS:
            raise SketchtoolError(f"hparam T={self.T}: from 1 to {MAX_UNROLLED_STEPS:,} steps")
        if min(self.num_z, self.ckern, self.dis_ckern, self.conv_num_hid, self.batch_size) < 1:
            raise SketchtoolError("hparams num_z, ckern, dis_ckern, conv_num_hid and batch_size must be >= 1")
        if not self.nkerns or not all(isinstance(k, int) and k >= 1 for k in self.nkerns):
            raise SketchtoolError(f"hparam nkerns={self.nkerns}: a list of whole numbers >= 1, e.g. [8,4]")
        if not (self.epsilon_gen > 0 and self.epsilon_dis > 0):
            raise SketchtoolError("hparams epsilon_gen and epsilon_dis (learning rates) must be > 0")


# --- parts --------------------------------------------------------------------------------------------------------
class Decoder(nn.Module):
    """[h_z, h_c] (B, 2 num_z) -> delta C (B, 1, H, W): FC + BN + ReLU, then 4x4 stride-2 transposed convs."""

    def __init__(self, hps: GRANHParams, shape: tuple[int, int]):
        super().__init__()
        stages = len(hps.nkerns)
        self.h0, self.w0 = shape[0] >> stages, shape[1] >> stages
        self.channels = [k * hps.ckern for k in hps.nkerns] + [1]
        self.fc = nn.Linear(2 * hps.num_z, self.channels[0] * self.h0 * self.w0)
        self.bn = nn.BatchNorm1d(self.channels[0] * self.h0 * self.w0)
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(self.channels, self.channels[1:])):
            layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            if i < stages - 1:
                layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
        self.deconv = nn.Sequential(*layers)  # the last stage is linear (reference atype='linear')

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn(self.fc(r)))  # (B, C0 * h0 * w0)
        return self.deconv(h.view(len(r), self.channels[0], self.h0, self.w0))  # (B, 1, H, W)


class Encoder(nn.Module):
    """delta C (B, 1, H, W) -> h_c (B, num_z): the decoder mirrored (stride-2 convs), then FC + BN + tanh."""

    def __init__(self, hps: GRANHParams, shape: tuple[int, int]):
        super().__init__()
        channels = [1] + [k * hps.ckern for k in reversed(hps.nkerns)]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        stages = len(hps.nkerns)
        self.fc = nn.Linear(channels[-1] * (shape[0] >> stages) * (shape[1] >> stages), hps.num_z)
        self.bn = nn.BatchNorm1d(hps.num_z)

    def forward(self, delta_c: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.bn(self.fc(self.conv(delta_c).flatten(1))))  # (B, num_z)


class Discriminator(nn.Module):
    """DCGAN-like: stride-2 convs with leaky ReLU (BN after the first), FC conv_num_hid, one logit."""

    def __init__(self, hps: GRANHParams, shape: tuple[int, int]):
        super().__init__()
        stages = len(hps.nkerns)
        channels = [1] + [hps.dis_ckern * 2 ** i for i in range(stages)]
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            layers.append(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1))
            if i:
                layers.append(nn.BatchNorm2d(c_out))
            layers.append(nn.LeakyReLU(0.2))
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(channels[-1] * (shape[0] >> stages) * (shape[1] >> stages), hps.conv_num_hid),
                                nn.LeakyReLU(0.2), nn.Linear(hps.conv_num_hid, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))[:, 0]  # (B,) logits of "real"


# --- model --------------------------------------------------------------------------------------------------------
class GRAN(SketchModel):
    name: ClassVar[str] = "gran"
    HParams: ClassVar[type] = GRANHParams
    PRESETS: ClassVar[dict] = {"reference": {}, "dcgan": {"T": 1},
                               "tiny": {"num_z": 16, "ckern": 4, "nkerns": [4, 2], "dis_ckern": 8,
                                        "conv_num_hid": 32, "batch_size": 64}}
    input_kind: ClassVar[str] = "images"
    output_kind: ClassVar[str] = "images"
    capabilities: ClassVar[frozenset[str]] = frozenset({"generate", "discriminate"})

    def __init__(self, hps: GRANHParams, spec=None):
        super().__init__(hps, spec)
        shape = tuple(self.spec.image_shape or (0, 0))
        _check_shape(shape, hps)
        self.w_z = nn.Linear(hps.num_z, hps.num_z)
        self.bn_z = nn.BatchNorm1d(hps.num_z)
        self.decoder = Decoder(hps, shape)
        self.encoder = Encoder(hps, shape)
        self.discriminator = Discriminator(hps, shape)

    @classmethod
    def fit_data(cls, hps, dataset, spec):
        hps, spec = super().fit_data(hps, dataset, spec)
        _check_shape(tuple(spec.image_shape), hps)
        return hps, spec

    @property
    def frame_count(self) -> int:
        return self.hps.T

    def describe(self) -> str:
        return f"GRAN, T={self.hps.T} steps, z={self.hps.num_z}, image {self.spec.image_shape}"

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.w_z.parameters(), *self.bn_z.parameters(), *self.decoder.parameters(),
                *self.encoder.parameters()]

    def canvas_increments(self, z: torch.Tensor) -> torch.Tensor:
        """delta C_1..T (T, B, 1, H, W) from noise z (B, num_z); the image is sigmoid(their sum)."""
        h_z = torch.tanh(self.bn_z(self.w_z(z)))  # (B, num_z), drawn once for all steps
        h_c = torch.zeros_like(h_z)  # (B, num_z)
        increments = []
        for _ in range(self.hps.T):
            delta_c = self.decoder(torch.cat([h_z, h_c], dim=1))  # (B, 1, H, W)
            h_c = self.encoder(delta_c)  # (B, num_z)
            increments.append(delta_c)
        return torch.stack(increments)  # (T, B, 1, H, W)

    def generate_images(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.canvas_increments(z).sum(0))  # (B, 1, H, W)

    # --- training -----------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"gen": torch.optim.Adam(self.generator_parameters(), lr=self.hps.epsilon_gen, betas=(0.5, 0.999)),
                "dis": torch.optim.Adam(self.discriminator.parameters(), lr=self.hps.epsilon_dis, betas=(0.5, 0.999))}

    def training_step(self, batch, ctx):
        """One discriminator update on real and generated images, then one generator update."""
        x = batch.images  # (B, 1, H, W)
        z = torch.randn(len(x), self.hps.num_z, device=x.device)  # (B, num_z)
        with ctx.autocast():
            fake = self.generate_images(z)  # (B, 1, H, W)
        d_terms = self.discriminator_step(x, fake.detach(), ctx)
        g_terms = self.generator_step(fake, ctx)
        with torch.no_grad():
            moments = _moment_mismatch(fake[:, 0], x[:, 0])
        return {"loss": moments, **d_terms, **g_terms}

    def discriminator_step(self, x: torch.Tensor, fake: torch.Tensor, ctx) -> dict[str, torch.Tensor]:
        """-log D(x) - log(1 - D(G(z))), one step of the discriminator's optimiser only."""
        with ctx.autocast():
            real_logit, fake_logit = self.discriminator(x), self.discriminator(fake)  # (B,), (B,)
            d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                      + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        check_finite({"loss": d_loss}, ctx.step)
        ctx.optimizers["dis"].zero_grad(set_to_none=True)
        ctx.backward(d_loss)
        ctx.optimizers["dis"].step()
        return {"d_loss": d_loss.detach(), "d_real": torch.sigmoid(real_logit).mean().detach(),
                "d_fake": torch.sigmoid(fake_logit).mean().detach()}

    def generator_step(self, fake: torch.Tensor, ctx) -> dict[str, torch.Tensor]:
        """The non-saturating generator loss -log D(G(z)), one step of the generator's optimiser only."""
        with ctx.autocast():
            logit = self.discriminator(fake)  # (B,)
            g_loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        check_finite({"loss": g_loss}, ctx.step)
        ctx.optimizers["gen"].zero_grad(set_to_none=True)
        ctx.optimizers["dis"].zero_grad(set_to_none=True)
        ctx.backward(g_loss)
        ctx.optimizers["gen"].step()
        ctx.optimizers["dis"].zero_grad(set_to_none=True)  # the discriminator's share of this backward is dropped
        return {"g_loss": g_loss.detach()}

    def loss(self, batch, step=None, generator: torch.Generator | None = None):
        """Validation terms: "loss" = pixel moment mismatch of samples vs data, plus the adversarial losses."""
        x = batch.images  # (B, 1, H, W)
        z = torch.randn(len(x), self.hps.num_z, generator=generator, device=x.device)
        fake = self.generate_images(z)  # (B, 1, H, W)
        real_logit, fake_logit = self.discriminator(x), self.discriminator(fake)
        d_loss = (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                  + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))
        g_loss = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        return {"loss": _moment_mismatch(fake[:, 0], x[:, 0]), "d_loss": d_loss, "g_loss": g_loss}

    def eval_loss(self, batch, generator):
        return self.loss(batch, generator=generator)

    # --- sampling and judging -------------------------------------------------------------------------------------
    def sample(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None, on_progress=None,
               precision="auto", frames=False):
        """n images; temperature scales the noise (greedy: z = 0); frames: sigmoid of the running sum of
        increments after each step, (T, n, H, W)."""
        condition = condition or Condition()
        if condition.labels is not None or condition.vectors:
            raise SketchtoolError("model 'gran' is unconditional; drop --class and --condition")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        with torch.no_grad():
            z = torch.randn(n, self.hps.num_z, generator=generator, device=device) * temperature
            if greedy:
                z = torch.zeros_like(z)
            steps = torch.sigmoid(self.canvas_increments(z).cumsum(0))[:, :, 0]  # (T, n, H, W)
        self.train(was_training)
        images = steps[-1].float().cpu().numpy()
        return ImageSamples(images, steps.float().cpu().numpy() if frames else None)

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        was_training = self.training
        self.eval()
        with torch.no_grad():
            p = torch.sigmoid(self.discriminator(images.float()[:, None]))  # (B,)
        self.train(was_training)
        return p


def _moment_mismatch(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of (mean difference)^2 + (std difference)^2 between two batches (B, H, W)."""
    mean = (fake.mean(0) - real.mean(0)) ** 2
    std = (fake.std(0, unbiased=False) - real.std(0, unbiased=False)) ** 2
    return (mean + std).mean()


def _check_shape(shape: tuple[int, int], hps: GRANHParams) -> None:
    stages = len(hps.nkerns)
    if len(shape) != 2 or min(shape) < 2 ** stages or any(s % 2 ** stages for s in shape):
        raise SketchtoolError(f"GRAN with {stages} up-sampling stages (hparam nkerns={hps.nkerns}) needs image "
                              f"sides divisible by {2 ** stages}; these images are {shape}; change nkerns or "
                              "rasterize to another --size")

