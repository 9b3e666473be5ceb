"""The GAM battle (`sketchtool.gam`): its arithmetic on stub discriminators of known error rates, the 0/0 case,
the r_test gate and the verdict. The battle of real trained models is in tests/test_gran.py."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.gam import ErrorCount, battle, decide, error_count, ratio
from sketchtool.models.base import ImageSamples, SketchModel

TEST, FAKE_A, FAKE_B = 0.1, 0.2, 0.3  # pixel (0, 0) says what an image is; pixel (0, 1) is its rank u in (0, 1)


@dataclass
class StubHParams:
    kind: float = FAKE_A
    e_test: float = 0.0
    e_fake: float = 0.0


class StubGAN(SketchModel):
    """Generates marked images; its discriminator is wrong on exactly a share e_test of real and e_fake of generated
    images (the ones whose rank u falls below the share)."""

    name = "stub-gan"
    HParams = StubHParams
    input_kind = output_kind = "images"
    capabilities = frozenset({"generate", "discriminate"})

    def __init__(self, hps, spec=None):
        super().__init__(hps, spec or DataSpec(kind="images", image_shape=(4, 4)))
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def sample(self, n, *, generator=None, temperature=1.0, greedy=False, condition=None, on_progress=None,
               precision="auto", frames=False):
        return ImageSamples(marked(n, self.hps.kind))

    def discriminate(self, images):
        kind, u = images[:, 0, 0], images[:, 0, 1]
        real = torch.isclose(kind, torch.tensor(TEST))
        called_real = torch.where(real, u >= self.hps.e_test, u < self.hps.e_fake)
        return called_real.float()


def marked(n: int, kind: float) -> np.ndarray:
    images = np.zeros((n, 4, 4), dtype=np.float32)
    images[:, 0, 0] = kind
    images[:, 0, 1] = (np.arange(n) + 0.5) / n
    return images


def test_stub_discriminators_give_their_known_error_rates_and_the_expected_ratios():
    a = StubGAN(StubHParams(FAKE_A, e_test=0.3, e_fake=0.1))
    b = StubGAN(StubHParams(FAKE_B, e_test=0.3, e_fake=0.4))
    result = battle(a, b, marked(200, TEST), n_samples=200)
    assert (result.test_a, result.test_b) == (ErrorCount(60, 200), ErrorCount(60, 200))
    assert (result.sample_a, result.sample_b) == (ErrorCount(20, 200), ErrorCount(80, 200))
    assert result.r_test.raw == pytest.approx(1.0) and result.r_sample.raw == pytest.approx(0.25)
    assert result.gate_passed and result.winner == "A"
    swapped = battle(b, a, marked(200, TEST), n_samples=200)
    assert swapped.r_sample.raw == pytest.approx(4.0) and swapped.winner == "B"
    json.dumps(result.to_dict())  # the CLI's --json


def test_both_perfect_discriminators_are_0_over_0_reported_raw_and_smoothed():
    a = StubGAN(StubHParams(FAKE_A))
    b = StubGAN(StubHParams(FAKE_B))
    result = battle(a, b, marked(100, TEST), n_samples=300)
    assert result.test_a == ErrorCount(0, 100) and result.sample_b == ErrorCount(0, 300)
    for r in (result.r_test, result.r_sample):
        assert r.raw is None and r.smoothed_used and r.smoothed == pytest.approx(1.0)
    assert result.gate_passed and result.winner == "tie"
    assert json.loads(json.dumps(result.to_dict()))["r_sample"]["raw"] is None


def test_one_perfect_discriminator_is_a_raw_zero_or_infinite_ratio():
    r = ratio(ErrorCount(0, 1000), ErrorCount(5, 1000))
    assert r.raw == 0.0 and not r.smoothed_used
    r = ratio(ErrorCount(5, 1000), ErrorCount(0, 1000))
    assert r.raw == math.inf and r.smoothed_used and r.value == pytest.approx((6 / 1002) / (1 / 1002))
    assert decide(ErrorCount(30, 100), ErrorCount(30, 100), ErrorCount(0, 500), ErrorCount(7, 500)).winner == "A"


def test_smoothed_ratio_and_its_interval_follow_the_formulas():
    r = ratio(ErrorCount(11, 180), ErrorCount(5, 180), smoothing=1.0)
    expected = (12 / 182) / (6 / 182)
    se = math.sqrt(1 / 12 - 1 / 182 + 1 / 6 - 1 / 182)
    assert r.raw == pytest.approx(2.2) and r.smoothed == pytest.approx(expected)
    assert r.low == pytest.approx(expected * math.exp(-1.959964 * se))
    assert r.high == pytest.approx(expected * math.exp(1.959964 * se))


def test_swapping_the_two_models_mirrors_the_verdict():
    """The band 1 ± tolerance passed an r_test interval ending at 0.807 and failed its reciprocal (1.24 to 6.6):
    `battle A B` said B wins, `battle B A` no decision."""
    test_a, test_b, sample_a, sample_b = ErrorCount(6, 180), ErrorCount(19, 180), ErrorCount(40, 100), ErrorCount(9, 100)
    forth, back = decide(test_a, test_b, sample_a, sample_b), decide(test_b, test_a, sample_b, sample_a)
    assert 0.8 < forth.r_test.high < 1 / 1.2  # the interval ends between the old band's edge and the new one's
    assert forth.gate_passed == back.gate_passed and forth.winner is back.winner is None
    for a in range(1, 60):
        for b in range(1, 60):
            one = decide(ErrorCount(a, 180), ErrorCount(b, 180), sample_a, sample_b)
            other = decide(ErrorCount(b, 180), ErrorCount(a, 180), sample_b, sample_a)
            assert one.gate_passed == other.gate_passed, (a, b)
            assert {one.winner, other.winner} in ({"A", "B"}, {None}, {"tie"}), (a, b)


def test_gate_fails_when_the_discriminators_judge_real_data_differently():
    # 20% against 60% error on 1,000 test images: r_test = 1/3, its interval nowhere near 1
    result = decide(ErrorCount(200, 1000), ErrorCount(600, 1000), ErrorCount(10, 1000), ErrorCount(500, 1000))
    assert result.r_sample.value < 1 and not result.gate_passed and result.winner is None
    assert "no decision" in result.reason
    # a discriminator that calls everything real: 0 errors on test, all wrong on samples
    degenerate = decide(ErrorCount(20, 180), ErrorCount(0, 180), ErrorCount(0, 1000), ErrorCount(1000, 1000))
    assert not degenerate.gate_passed


def test_error_count_decides_at_one_half():
    assert error_count(np.array([0.2, 0.5, 0.9]), real=True) == ErrorCount(1, 3)
    assert error_count(np.array([0.2, 0.5, 0.9]), real=False) == ErrorCount(2, 3)


def test_a_model_that_cannot_discriminate_is_refused(tmp_path):
    from toy_models import PixelBernoulli, PixelBernoulliHParams

    toy = PixelBernoulli(PixelBernoulliHParams(), DataSpec(kind="images", image_shape=(4, 4)))
    with pytest.raises(SketchtoolError, match="cannot tell real from generated"):
        battle(toy, StubGAN(StubHParams()), marked(10, TEST))
    with pytest.raises(SketchtoolError, match="smoothing"):
        ratio(ErrorCount(0, 1), ErrorCount(0, 1), smoothing=0)
    with pytest.raises(SketchtoolError, match="image"):
        battle(StubGAN(StubHParams()), StubGAN(StubHParams()), np.zeros((5, 8, 8), np.float32))


@pytest.mark.parametrize("settings, message", [
    ({"smoothing": math.inf}, "smoothing inf: must be a finite number > 0"),
    ({"smoothing": math.nan}, "smoothing nan: must be a finite number > 0"),
    ({"tolerance": math.inf}, "tolerance inf: must be a finite number >= 0"),
    ({"tolerance": -0.1}, "tolerance -0.1: must be a finite number >= 0"),
])
def test_smoothing_and_tolerance_must_be_finite_and_are_checked_before_sampling(settings, message):
    """--smoothing inf was accepted and gave 'interval nan to nan', after every sample was drawn."""
    drawn = []

    class Counting(StubGAN):
        def sample(self, n, **kwargs):
            drawn.append(n)
            return super().sample(n, **kwargs)

    with pytest.raises(SketchtoolError, match=message):
        battle(Counting(StubHParams(FAKE_A)), Counting(StubHParams(FAKE_B)), marked(10, TEST), n_samples=10,
               **settings)
    assert drawn == []
    with pytest.raises(SketchtoolError, match=message):
        decide(ErrorCount(1, 10), ErrorCount(1, 10), ErrorCount(1, 10), ErrorCount(1, 10), **settings)


def test_the_result_as_a_dict_is_valid_json_even_with_nothing_judged():
    result = decide(ErrorCount(0, 0), ErrorCount(3, 10), ErrorCount(5, 10), ErrorCount(0, 10))
    out = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert out["test_a"]["rate"] is None and out["r_sample"]["raw"] == "inf"


@pytest.mark.parametrize("option, value, message", [
    ("--smoothing", "inf", "smoothing inf: must be a finite number > 0"),
    ("--smoothing", "0", "smoothing 0.0: must be a finite number > 0"),
    ("--tolerance", "nan", "tolerance nan: must be a finite number >= 0"),
])
def test_battle_refuses_settings_on_the_command_line_before_loading_anything(tmp_path, option, value, message):
    from click.testing import CliRunner

    from sketchtool.cli import cli

    result = CliRunner().invoke(cli, ["battle", str(tmp_path / "a"), str(tmp_path / "b"), "--data",
                                      str(tmp_path / "d.npz"), option, value])
    assert result.exit_code == 1 and result.output.startswith(f"Error: {message}"), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_battle_refuses_an_empty_split_before_loading_the_models(tmp_path):
    from click.testing import CliRunner

    from sketchtool.cli import cli
    from sketchtool.images import ImageDataset, save_image_dataset

    images = np.zeros((4, 8, 8), np.uint8)
    data = tmp_path / "d.npz"
    save_image_dataset(data, ImageDataset(splits={"train": images, "valid": images[:0], "test": images}))
    result = CliRunner().invoke(cli, ["battle", str(tmp_path / "a"), str(tmp_path / "b"), "--data", f"{data}:valid"])
    assert result.exit_code == 1 and "the valid split is empty" in result.output, result.output
