"""Training batches of strokes: the drawings a model is given, packed end to end, equal to the per-drawing
recipe (magenta's DataLoader) value for value, with memory that does not multiply with the set's size."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from sketchtool.batching import OFFSET_LIMIT, BatchSource, fit_spec, prepare_drawings, stroke5_batch
from sketchtool.dataset import StrokeDataset
from sketchtool.dataspec import DataSpec
from sketchtool.formats.npz import load_dataset
from sketchtool.strokes import PackedDrawings, augment_strokes, random_scale, scale_factor


def _per_drawing(drawings, max_seq_len, factor=None):
    """The recipe one drawing at a time, as sketchtool computed it before packing: float32, clamped, scaled."""
    kept, index = [], []
    for i, d in enumerate(drawings):
        if 0 < len(d) <= max_seq_len:
            s = np.array(d, dtype=np.float32)
            s[:, :2] = np.clip(s[:, :2], -OFFSET_LIMIT, OFFSET_LIMIT)
            if factor is not None:
                s[:, :2] /= factor
            kept.append(s)
            index.append(i)
    return kept, index


def _mixed(sheep):
    """Real drawings plus the awkward ones: empty, too long, float64 beyond the clamp."""
    wild = np.array([[2500.5, -1e4, 0], [0.3, 0.7, 1]])
    return [*sheep[:300], np.zeros((0, 3), np.int16), wild, np.zeros((300, 3), np.int16), *sheep[300:400]]


def test_prepared_drawings_equal_the_per_drawing_recipe(sheep_path):
    drawings = _mixed(load_dataset(sheep_path).splits["train"])
    kept, index = prepare_drawings(drawings, 250)
    expected, expected_index = _per_drawing(drawings, 250)
    assert isinstance(kept, PackedDrawings) and index.tolist() == expected_index
    assert len(kept) == len(expected)
    for got, want in zip(kept, expected):
        assert got.dtype == np.float32 and np.array_equal(got, want)


def test_batch_source_draws_the_batches_of_unpacked_drawings(sheep_path):
    """Same normalised drawings and, for a seed, the same random batches as a source built from separate arrays
    (what a training run's results depend on)."""
    drawings = _mixed(load_dataset(sheep_path).splits["train"])
    kept, _ = prepare_drawings(drawings, 250)
    factor = scale_factor(kept)
    expected, _ = _per_drawing(drawings, 250, factor)
    options = dict(scale_factor=factor, max_seq_len=250, batch_size=16, random_scale_factor=0.15,
                   augment_stroke_prob=0.1, seed=3)
    source = BatchSource(kept, np.arange(len(kept)), **options)
    listed = BatchSource(list(kept), np.arange(len(kept)), **options)  # separate arrays in, one packed copy held
    assert source.drawings is kept and listed.drawings is not kept
    rng = np.random.default_rng(3)  # magenta's random_batch on the per-drawing arrays
    for _ in range(3):
        idx = rng.permutation(len(expected))[:16]
        augmented = [augment_strokes(random_scale(expected[i], 0.15, rng), 0.1, rng) for i in idx]
        want = stroke5_batch(augmented, 250, idx)
        for got in (source.random_batch(), listed.random_batch()):
            assert all(np.array_equal(x, y) for x, y in zip((got.strokes5, got.lengths, got.labels),
                                                           (want.strokes5, want.lengths, want.labels)))
    ordered = [b.strokes5[i, 1:1 + n, :2] for b in source.batches() for i, n in enumerate(b.lengths.tolist())]
    assert len(ordered) == len(expected)
    assert all(np.array_equal(got.numpy(), want[:, :2]) for got, want in zip(ordered, expected))
    assert np.array_equal(kept.points, np.concatenate(_per_drawing(drawings, 250)[0]))  # batches left it as it was


def test_int16_sets_are_held_as_int16_and_give_the_batches_of_float32(sheep_path):
    """QuickDraw's and build-dataset's sets are int16: held as such (6 bytes a point, not 12), the same values."""
    drawings = load_dataset(sheep_path).splits["train"][:500]
    kept, _ = prepare_drawings(drawings, 250)
    assert kept.points.dtype == np.int16 and kept.points.nbytes == 6 * sum(len(d) for d in drawings if len(d) <= 250)
    as_float = PackedDrawings.pack(kept, np.float32)
    options = dict(scale_factor=scale_factor(kept), max_seq_len=250, batch_size=16, random_scale_factor=0.15,
                   augment_stroke_prob=0.1, seed=5)
    assert options["scale_factor"] == scale_factor(as_float)
    held = BatchSource(kept, np.arange(len(kept)), **options)
    floats = BatchSource(as_float, np.arange(len(kept)), **options)
    assert held.drawings is kept
    for got, want in [*((held.random_batch(), floats.random_batch()) for _ in range(3)),
                      *zip(held.batches(), floats.batches())]:
        assert got.strokes5.dtype == want.strokes5.dtype and np.array_equal(got.strokes5, want.strokes5)
        assert np.array_equal(got.lengths, want.lengths)


def test_fit_spec_matches_the_per_drawing_recipe(sheep_path):
    full = load_dataset(sheep_path)
    ds = StrokeDataset(splits={k: _mixed(v) if k == "train" else v for k, v in full.splits.items()})
    spec = fit_spec(ds, DataSpec(), 250)
    kept, _ = _per_drawing(ds.splits["train"], 250)
    assert spec.scale_factor == scale_factor(kept)
    assert spec.max_length == max(len(d) for v in ds.splits.values() for d in v if len(d) <= 250)


def test_fit_spec_of_a_large_set_holds_one_int16_copy_of_train_at_most():
    """It packed float32 copies of every split, then float64 copies of train three times over (76 bytes a point of
    train here); now one int16 copy of train (6 bytes a point) and chunks."""
    rng = np.random.default_rng(0)
    train = list(rng.integers(-60, 60, (20_000, 100, 3), dtype=np.int16))
    held_out = list(rng.integers(-60, 60, (10_000, 100, 3), dtype=np.int16))
    ds = StrokeDataset(splits={"train": train, "valid": held_out, "test": held_out})
    tracemalloc.start()
    try:
        spec = fit_spec(ds, DataSpec(), 250)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert spec.max_length == 100
    assert peak < 10 * 20_000 * 100


@pytest.mark.parametrize("key", [slice(2, 5), slice(None, None, 2), -1])
def test_packed_drawings_index_like_a_list(key):
    drawings = [np.full((n, 3), n, dtype=np.int16) for n in (1, 0, 3, 2, 5, 4)]
    packed = PackedDrawings.pack(drawings, np.float32)
    got, want = packed[key], drawings[key]
    if isinstance(key, slice):
        assert [d.tolist() for d in got] == [d.astype(np.float32).tolist() for d in want]
    else:
        assert got.tolist() == want.astype(np.float32).tolist()


def _binarized_at_once(images):
    grey = images.astype(np.float32) / 255.0
    noise = np.random.default_rng(0).random(grey.shape, dtype=np.float32)
    return ((noise < grey) * 255).astype(np.uint8)


@pytest.mark.parametrize("count", [0, 1, 1023, 20_000])
def test_fixed_binarisation_is_the_same_pixels_in_chunks_without_noise_for_the_whole_split(count):
    """Evaluation binarises once with a fixed seed; it drew float32 noise and grey levels for the whole split at
    once (8 bytes a pixel beside the 1-byte images)."""
    from sketchtool.batching import EVAL_BINARIZE_SEED, ImageBatchSource

    assert EVAL_BINARIZE_SEED == 0
    images = np.random.default_rng(count).integers(0, 256, (count, 9, 7), dtype=np.uint8)
    tracemalloc.start()
    try:
        source = ImageBatchSource(images, np.zeros(count), batch_size=8, binarize="fixed")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(source.images, _binarized_at_once(images))
    if count > 10_000:
        assert peak < 3 * images.nbytes
