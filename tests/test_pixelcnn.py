"""Gated PixelCNN (sketchtool/models/pixelcnn.py): causality, no blind spot (a plain masked stack as the contrast),
conditioning, the incremental sampler against the full-recompute one, completion, learning on sklearn digits
against independent-pixel baselines measured in the same test, and the commands around it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sketchtool.cli import cli
from sketchtool.dataspec import DataSpec
from sketchtool.models.base import Condition
from sketchtool.models.pixelcnn import GatedPixelCNN, GatedPixelCNNHParams, MaskedPixelCNN

TINY = "n_layers=3,n_filters=12,first_kernel_size=5,kernel_size=3"


def _model(shape=(12, 12), classes=3, seed=0, **hps) -> GatedPixelCNN:
    """A randomly initialised model with weights large enough that no gradient underflows to zero by accident."""
    torch.manual_seed(seed)
    spec = DataSpec(kind="images", class_names=[str(i) for i in range(classes)] if classes > 1 else [],
                    image_shape=shape)
    model = GatedPixelCNN(GatedPixelCNNHParams(**{"n_layers": 3, "n_filters": 8, **hps}), spec).double()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.4)
    return model.eval()


def _input_gradients(logits_of, shape, i, j, seed=1) -> np.ndarray:
    """|d logit(i, j) / d x| over the image, for a random input x."""
    x = torch.rand(1, *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64, requires_grad=True)
    out = logits_of(x)
    pixel = out[0, i, j] if out.dim() == 3 else out[0, :, i, j].sum()
    (grad,) = torch.autograd.grad(pixel, x)
    return grad[0].abs().numpy()


@pytest.mark.parametrize("output", ["bernoulli", "softmax"])
def test_each_logit_ignores_its_own_pixel_and_every_later_one(output):
    model = _model(shape=(7, 6), output=output, levels=4, first_kernel_size=5, h_size=2)
    labels, h = torch.tensor([1]), torch.randn(1, 2, dtype=torch.float64)
    H, W = 7, 6
    for i in range(H):
        for j in range(W):
            grad = _input_gradients(lambda x: model.logits(x, labels, h), (H, W), i, j).reshape(-1)
            assert (grad[i * W + j:] == 0).all(), (i, j)
            if i * W + j > 0:
                assert grad[:i * W + j].max() > 0, (i, j)


def _gated_receptive_field(model: GatedPixelCNN, shape, i, j) -> np.ndarray:
    """The pixels logit (i, j) should see, from the architecture alone: the vertical stack of layer l covers a
    rectangle of P_l = p_0 + ... + p_l rows above (after its one-row shift) and P_l columns each side, and the
    later horizontal layers widen it to the left by p_(l+1) + ... ; the current row: the P pixels on the left."""
    ps = [m.p for m in model.layers]
    total = sum(ps)
    seen = np.zeros(shape, dtype=bool)
    for layer in range(len(ps)):
        p_l = sum(ps[:layer + 1])
        seen[max(0, i - 1 - p_l):i, max(0, j - total):j + p_l + 1] = True
    seen[i, max(0, j - 1 - total):j] = True
    return seen


def test_gated_stacks_see_every_past_pixel_of_their_receptive_field_while_a_masked_stack_has_a_blind_spot():
    shape, (i, j) = (14, 14), (10, 6)
    model = _model(shape=shape, classes=1, n_layers=4, first_kernel_size=3, kernel_size=3)
    gated = _input_gradients(lambda x: model.logits(x), shape, i, j) > 0
    expected = _gated_receptive_field(model, shape, i, j)
    assert expected.sum() > 30
    assert (gated == expected).all(), f"seen but not expected:\n{gated & ~expected}\nmissed:\n{expected & ~gated}"
    assert i - np.nonzero(gated.any(axis=1))[0].min() == model.rows_seen  # what describe() tells the user

    torch.manual_seed(0)
    masked = MaskedPixelCNN(n_layers=4, kernel_size=3).double()
    seen = _input_gradients(masked, shape, i, j) > 0
    causal = np.arange(shape[0] * shape[1]).reshape(shape) < i * shape[1] + j
    assert not (seen & ~causal).any()  # the masked stack is causal too...
    # ...but blind: (i-1, j+2) lies between the current pixel and (i-2, j+2), which it does see
    assert seen[i - 2, j + 2] and not seen[i - 1, j + 2]
    assert seen[i - 3, j + 3] and not seen[i - 1, j + 3] and not seen[i - 2, j + 3]


def test_logits_depend_on_the_class_and_on_the_embedding_vector():
    model = _model(h_size=3)
    x = torch.bernoulli(torch.full((2, 12, 12), 0.3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    h = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    a = model.logits(x, torch.tensor([0, 0]), h)
    b = model.logits(x, torch.tensor([2, 2]), h)
    assert (a - b).abs().min() > 0  # every pixel, the first included, depends on the class
    (grad,) = torch.autograd.grad(a.sum(), h)
    assert (grad.abs() > 0).all()
    z = torch.zeros(4, 3)
    samples = [model.float().sample(4, generator=torch.Generator().manual_seed(5),
                                    condition=Condition(labels=torch.tensor([k] * 4), z=v)).images
               for k, v in ((0, z), (2, z), (0, z + 1))]
    assert (samples[0] != samples[1]).any() and (samples[0] != samples[2]).any()


@pytest.mark.parametrize("output", ["bernoulli", "softmax"])
def test_incremental_sampler_draws_exactly_what_the_full_recompute_sampler_draws(output):
    model = _model(shape=(6, 7), output=output, levels=5, h_size=2, first_kernel_size=5).float()
    condition = Condition(labels=torch.tensor([0, 1, 2, 1]), z=torch.randn(4, 2))
    fast = model.sample(4, generator=torch.Generator().manual_seed(3), condition=condition, temperature=0.9)
    slow = model.sample_naive(4, generator=torch.Generator().manual_seed(3), condition=condition, temperature=0.9)
    assert fast.images.shape == (4, 6, 7)
    assert len(np.unique(fast.images)) > 1
    np.testing.assert_array_equal(fast.images, slow.images)


def test_completion_keeps_the_given_pixels_and_varies_the_missing_ones():
    model = _model(shape=(8, 8)).float()
    image = (torch.rand(8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[:4] = True
    mask[5, 2:6] = True  # a given island inside the missing part
    out = model.sample(6, generator=torch.Generator().manual_seed(1),
                       condition=Condition(image=image.expand(6, 8, 8), mask=mask.expand(6, 8, 8))).images
    assert (out[:, mask.numpy()] == image.numpy()[mask.numpy()]).all()
    missing = out[:, ~mask.numpy()]
    assert len({row.tobytes() for row in missing}) > 1


def _independent_nll(train: np.ndarray, test: np.ndarray) -> float:
    """Mean NLL (nats per image) of binary test images under independent pixels with the train means."""
    p = np.clip(train.mean(0), 1e-3, 1 - 1e-3)
    return float(-(test * np.log(p) + (1 - test) * np.log(1 - p)).sum((1, 2)).mean())


def _binarised(dataset, split: str) -> np.ndarray:
    from sketchtool.batching import ImageBatchSource

    source = ImageBatchSource(dataset.splits[split], dataset.labels_of(split), batch_size=10_000, binarize="fixed")
    return np.concatenate([b.images[:, 0].numpy() for b in source.batches()])


def test_learns_digits_beyond_independent_pixels_and_classes_help(digits_npz, tmp_path):
    from sketchtool.images import load_image_dataset
    from sketchtool.models.base import parse_hparams
    from sketchtool.train import TrainOptions, evaluate, resolve_hparams, train

    data = load_image_dataset(digits_npz)
    train_x, test_x = _binarised(data, "train"), _binarised(data, "test")
    independent = _independent_nll(train_x, test_x)
    nll = {}
    for conditional in (False, True):
        hps = resolve_hparams("gated-pixelcnn", overrides=parse_hparams(
            f"{TINY},batch_size=64,learning_rate=0.01,conditional={conditional}"))
        run = tmp_path / f"c{int(conditional)}"
        train(digits_npz, run, model="gated-pixelcnn", hps=hps,
              options=TrainOptions(steps=150, save_every=150, device="cpu", precision="fp32", log_every=50))
        nll[conditional] = evaluate(run / "latest.pt", split="test")["nll_nats"]
    # measured: independent 26.9 nats, unconditional 25.0, class-conditional 24.1 (the digits are binarised
    # stochastically from 17 grey levels, so much of each image is noise no model can predict)
    assert nll[False] < independent - 1.0, (nll, independent)
    assert nll[True] < nll[False] - 0.5, (nll, independent)


def test_softmax_output_reads_grey_levels_without_binarising(digits_npz):
    from sketchtool.images import load_image_dataset

    data = load_image_dataset(digits_npz)
    hps = GatedPixelCNNHParams(n_layers=2, n_filters=8, output="softmax", levels=17)
    spec = DataSpec(kind="images", class_names=data.class_names, image_shape=(8, 8))
    source = GatedPixelCNN.batch_source(hps, spec, data, "train", train=True, seed=0)
    model = GatedPixelCNN(hps, spec)
    batch = source.random_batch()
    targets = model.targets(batch.images)
    assert len(torch.unique(targets)) > 2  # the digits' 17 grey levels survive
    with torch.no_grad():
        terms = model.loss(batch)
    uniform = 64 * math.log(17)
    assert 0 < float(terms["nll_nats"]) < 2 * uniform
    assert float(terms["bits_per_dim"]) == pytest.approx(float(terms["nll_nats"]) / (64 * math.log(2)))


@pytest.fixture(scope="module")
def digits_run(digits_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("pixelcnn") / "run"
    result = CliRunner().invoke(cli, ["train", str(digits_npz), "-o", str(run), "--model", "gated-pixelcnn",
                                      "--hparams", TINY, "--steps", "30", "--save-every", "30", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    # the start line says what is trained: 5 rows above = 1 + p of the 5x5 first layer (2) + two 3x3 layers (1 + 1)
    assert "Training gated-pixelcnn (gated PixelCNN, 3 layers x 12 filters, sees 5 rows above" in result.output
    assert "digits.npz: 1,437 train, 180 valid; to step 30 on cpu" in result.output
    return run


def test_eval_prints_nats_and_bits_per_dim(digits_run):
    result = CliRunner().invoke(cli, ["eval", str(digits_run), "--split", "test"])
    assert result.exit_code == 0, result.output
    words = result.output.split()
    nats, bits = float(words[words.index("nll_nats") + 1]), float(words[words.index("bits_per_dim") + 1])
    assert bits == pytest.approx(nats / (64 * math.log(2)), rel=1e-3)


def test_generate_label_and_complete_write_images(digits_run, digits_npz, tmp_path):
    from PIL import Image

    runner = CliRunner()
    out = tmp_path / "sevens.npz"
    result = runner.invoke(cli, ["generate", "--model", str(digits_run), "--label", "7", "--n", "3", "--seed", "1",
                                 "--temperature", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from sketchtool.images import load_image_dataset

    sevens = load_image_dataset(out)
    assert sevens.splits["train"].shape == (3, 8, 8)
    assert list(sevens.labels_of("train")) == [7] * 3 and sevens.class_names[7] == "7"

    # without --label each image gets a random class, recorded; image i is what --label gives it
    mixed = tmp_path / "mixed.npz"
    result = runner.invoke(cli, ["generate", "--model", str(digits_run), "--n", "8", "--seed", "1",
                                 "--temperature", "1", "--out", str(mixed)])
    assert result.exit_code == 0, result.output
    mixed = load_image_dataset(mixed)
    labels = mixed.labels_of("train")
    assert len(set(labels)) > 2 and mixed.class_names == sevens.class_names
    first = tmp_path / "first.npz"
    result = runner.invoke(cli, ["generate", "--model", str(digits_run), "--label", str(labels[0]), "--n", "8",
                                 "--seed", "1", "--temperature", "1", "--out", str(first)])
    assert result.exit_code == 0, result.output
    same = labels == labels[0]
    assert (load_image_dataset(first).splits["train"][same] == mixed.splits["train"][same]).all()

    given = load_image_dataset(digits_npz).images("test")[0]
    filled = tmp_path / "filled.npz"
    result = runner.invoke(cli, ["complete", f"{digits_npz}:test:0", "--model", str(digits_run), "--n", "4",
                                 "--seed", "2", "--temperature", "1", "--out", str(filled)])
    assert result.exit_code == 0, result.output
    images = load_image_dataset(filled).images("train")
    assert (images[:, :4] == (given[:4] > 0.5)).all()  # the upper half is the binarised input

    png = tmp_path / "digit.png"  # dark ink on white, as a scanned drawing: read back inverted, not cropped
    Image.fromarray(255 - np.round(given * 255).astype(np.uint8)).save(png)
    from_png = tmp_path / "from_png.npz"
    result = runner.invoke(cli, ["complete", str(png), "--model", str(digits_run), "--n", "2", "--out", str(from_png)])
    assert result.exit_code == 0, result.output
    assert (load_image_dataset(from_png).images("train")[:, :4] == (given[:4] > 0.5)).all()

    mask = tmp_path / "mask.png"
    light = np.zeros((8, 8), np.uint8)
    light[:, 5:] = 255  # fill in the right three columns
    Image.fromarray(light).resize((32, 32), Image.Resampling.NEAREST).save(mask)
    masked = tmp_path / "masked.npz"
    result = runner.invoke(cli, ["complete", f"{digits_npz}:test:0", "--model", str(digits_run), "--mask", str(mask),
                                 "--n", "2", "--temperature", "1", "--out", str(masked)])
    assert result.exit_code == 0, result.output
    images = load_image_dataset(masked).images("train")
    assert (images[:, :, :5] == (given[:, :5] > 0.5)).all()  # only the light part of the mask was filled in

    grid = tmp_path / "grid.png"
    result = runner.invoke(cli, ["complete", f"{digits_npz}:test:0", "--model", str(digits_run), "--n", "2",
                                 "--out", str(grid)])
    assert result.exit_code == 0, result.output
    with Image.open(grid) as picture:
        assert picture.width > picture.height  # the input, then two completions, in one row
