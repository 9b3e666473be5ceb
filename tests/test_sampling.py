"""sketchtool.sampling on a tiny real model: counts, seeds, units, chunking, the latent-space identities
(interpolation ends, analogy with A = B), and clear errors for what a model cannot do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sketchtool.checkpoint import ModelInfo, load_model
from sketchtool.dataspec import DataSpec
from sketchtool.device import cpu_has_bf16
from sketchtool.errors import SketchtoolError
from sketchtool.formats.npz import load_dataset
from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams
from sketchtool.strokes import stroke3_to_polylines
from sketchtool.sampling import _draws_no_line  # noqa: E402 (the rule generate redraws by)
from sketchtool.sampling import (
    SampleOptions,
    analogy,
    complete,
    complete_many,
    drawing_generators,
    encode,
    generate,
    interpolate,
    lerp,
    make_generator,
    parse_condition,
    reconstruct,
    slerp,
)


@pytest.fixture(scope="module")
def tiny(tiny_model):
    return load_model(tiny_model)


@pytest.fixture(scope="module")
def sheep_test(sheep_path):
    """Short real drawings (they fit the tiny model's max_seq_len of 64)."""
    return [d for d in load_dataset(sheep_path).splits["test"] if len(d) <= 60][:4]


def _fresh_model(**hps) -> tuple[SketchRNN, ModelInfo]:
    """An untrained model with real weights, for behaviours that do not depend on training."""
    torch.manual_seed(0)
    params = SketchRNNHParams(max_seq_len=20, enc_rnn_size=8, dec_rnn_size=16, z_size=4, num_mixture=2,
                              **{k: v for k, v in hps.items() if k != "classes"})
    classes = hps.get("classes", [])
    spec = DataSpec(class_names=list(classes), scale_factor=10.0, max_length=params.max_seq_len)
    model = SketchRNN(params, spec).eval()
    return model, ModelInfo("sketch-rnn", {}, spec, 0, {}, "fresh")


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def test_generate_returns_n_stroke3_drawings(tiny):
    model, info = tiny
    drawings = generate(model, info, 7, SampleOptions(seed=1))
    assert len(drawings) == 7
    for d in drawings:
        assert d.ndim == 2 and d.shape[1] == 3 and len(d) <= model.hps.max_seq_len
        assert set(np.unique(d[:, 2])) <= {0.0, 1.0}


def test_same_seed_same_drawings_other_seed_others(tiny):
    model, info = tiny
    first = generate(model, info, 5, SampleOptions(seed=3))
    assert _same(first, generate(model, info, 5, SampleOptions(seed=3)))
    assert not _same(first, generate(model, info, 5, SampleOptions(seed=4)))


def test_generate_is_the_model_sampler_in_dataset_units(tiny):
    model, info = tiny
    ours = generate(model, info, 4, SampleOptions(seed=9, temperature=0.7))
    raw = model.sample(4, temperature=0.7, generator=drawing_generators([(9, i) for i in range(4)]))
    assert all(np.allclose(d[:, :2], r[:, :2] * info.scale_factor) and np.array_equal(d[:, 2], r[:, 2])
               for d, r in zip(ours, raw) if not _draws_no_line(r))  # those are drawn again


def test_drawings_that_end_at_once_are_drawn_again():
    model, info = _fresh_model()
    with torch.no_grad():
        model.output.bias[2] = 0.0  # the end-of-drawing logit: most drawings end before a line (17 of 40 at once)
    raw = model.sample(40, temperature=1.0, generator=make_generator(0))
    ours = generate(model, info, 40, SampleOptions(seed=0, temperature=1.0))
    assert len(ours) == 40
    assert sum(len(d) == 0 for d in raw) > 8
    assert sum(_draws_no_line(d) for d in ours) < sum(_draws_no_line(d) for d in raw) / 4
    assert _same(ours, generate(model, info, 40, SampleOptions(seed=0, temperature=1.0)))


def test_a_drawing_of_lone_points_draws_no_line():
    """A drawing whose every stroke is one point shows a dot at most (the embedded kanji drew one in a grid of
    25), so `generate` draws it again, as it does an empty one."""
    dot = np.array([[-58.8, 76.5, 1.0]])
    dots = np.array([[3.0, 4.0, 1.0], [5.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    line = np.array([[3.0, 4.0, 0.0], [5.0, 0.0, 1.0]])
    assert _draws_no_line(np.zeros((0, 3))) and _draws_no_line(dot) and _draws_no_line(dots)
    assert not _draws_no_line(line) and not _draws_no_line(np.vstack([dots, line]))


def test_chunks_cover_every_drawing_and_report_progress(tiny):
    model, info = tiny
    calls = []
    drawings = generate(model, info, 7, SampleOptions(seed=2, chunk_size=3),
                        on_progress=lambda done, total: calls.append((done, total)))
    assert len(drawings) == 7
    assert calls[-1] == (7, 7)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def _close(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """The same drawings up to float rounding (batches of other sizes may round matmuls differently)."""
    return len(a) == len(b) and all(x.shape == y.shape and np.allclose(x, y, atol=1e-3) for x, y in zip(a, b))


def test_a_drawing_of_a_seed_does_not_depend_on_how_many_are_drawn(tiny):
    """Each drawing has its own random stream, so the first drawings of a seed are the same for any n and any
    chunk size (with one stream for the whole batch, drawing 0 of n = 3 and of n = 9 would differ)."""
    model, info = tiny
    nine = generate(model, info, 9, SampleOptions(seed=4, temperature=1.0))
    assert _close(generate(model, info, 3, SampleOptions(seed=4, temperature=1.0)), nine[:3])
    assert _close(generate(model, info, 9, SampleOptions(seed=4, temperature=1.0, chunk_size=2)), nine)
    assert len({len(d) for d in nine}) > 1 and not _same(nine[:1], nine[1:2])


def test_completions_batched_together_are_each_what_they_are_alone(tiny, sheep_test):
    """A server decodes waiting requests in one batch; each start, with its own seed, gets exactly the endings
    `complete` gives it alone, although the starts differ in length (and so in how long each may go on)."""
    model, info = tiny
    starts = [sheep_test[0][:5].astype(np.float64), sheep_test[1][:25].astype(np.float64)]
    options = SampleOptions(temperature=1.0)
    together = complete_many(model, info, starts, 3, options, seeds=[7, 8])
    for start, seed, endings in zip(starts, [7, 8], together):
        assert _close(endings, complete(model, info, start, 3, SampleOptions(temperature=1.0, seed=seed)))
    assert not _close(together[0], complete(model, info, starts[0], 3, SampleOptions(temperature=1.0, seed=8)))
    with pytest.raises(SketchtoolError, match="one each"):
        complete_many(model, info, starts, 3, options, seeds=[7])


def test_complete_keeps_the_given_start(tiny, sheep_test):
    model, info = tiny
    start = sheep_test[0][:20].astype(np.float64)
    start[-1, 2] = 1
    endings = complete(model, info, start, 3, SampleOptions(seed=0))
    assert len(endings) == 3
    for d in endings:
        np.testing.assert_array_equal(d[:20], start)
    assert not _same(endings[:1], endings[1:2])


def test_reconstruct_greedy_ignores_the_seed(tiny, sheep_test):
    model, info = tiny
    rows = reconstruct(model, info, sheep_test[:2], 2, SampleOptions(seed=1, greedy=True))
    assert [len(r) for r in rows] == [2, 2]
    again = reconstruct(model, info, sheep_test[:2], 2, SampleOptions(seed=2, greedy=True))
    assert _same(rows[0], again[0]) and _same(rows[0][:1], rows[0][1:])


def test_a_batch_decodes_each_drawing_as_it_would_alone():
    """Greedy decoding has no randomness, so batching (and dropping finished rows from the batch, which keeps
    some finished rows until it can shrink by BATCH_GRAIN) must not change a drawing. Scaled weights make an
    untrained decoder end its drawings at different steps."""
    from sketchtool.models.sketch_rnn import BATCH_GRAIN

    n = 2 * BATCH_GRAIN + 5
    model, _ = _fresh_model()
    with torch.no_grad():
        model.dec.W_hh *= 5
        model.dec.W_xh *= 5
        model.output.weight[:3] *= 10
        model.output.bias[2] = -2.0  # the end-of-drawing logit
    z = torch.randn(n, model.hps.z_size, generator=make_generator(0))
    together = model.sample(n, z=z, greedy=True, precision="fp32")
    alone = [model.sample(1, z=z[i:i + 1], greedy=True)[0] for i in range(n)]
    assert len({len(d) for d in together}) > 5, "drawings of different lengths exercise the shrinking batch"
    assert all(a.shape == b.shape and np.allclose(a, b, atol=1e-4) for a, b in zip(together, alone))


def _teacher_forced_greedy_points(model, z: torch.Tensor, drawing: np.ndarray) -> np.ndarray:
    """The training decoder (whole sequence, float32) run over a drawing: at each step the most likely
    component's mean, i.e. the point greedy sampling should have drawn there. (T, 2) normalised offsets."""
    from sketchtool.models.mixture import split_output
    from sketchtool.strokes import stroke3_to_stroke5

    rows = torch.as_tensor(stroke3_to_stroke5(drawing, len(drawing)), dtype=torch.float32)  # (T, 5)
    inputs = torch.cat([torch.tensor([[0, 0, 1, 0, 0]], dtype=torch.float32), rows[:-1]])[None]  # (1, T, 5)
    cond = model._condition(z[None], None, 1, "cpu")
    with torch.no_grad():
        y, _ = model._decode(inputs, cond, model._initial_state(cond, 1, inputs))
    p = split_output(y[0], model.hps.num_mixture)
    k = p.pi_logits.argmax(-1, keepdim=True)
    return torch.cat([p.mu1.gather(-1, k), p.mu2.gather(-1, k)], dim=-1).numpy()


@pytest.mark.parametrize("cell", ["lstm", "layer_norm", "hyper"])
def test_greedy_sampling_agrees_with_the_teacher_forced_decoder(cell):
    """The sampler's step-by-step decoder (z projected once, stroke input folded into the recurrent matmul,
    batch shrinking) must give what the training decoder computes over the whole sampled sequence: each point
    is the most likely component's mean."""
    model, _ = _fresh_model(dec_model=cell)
    noise = make_generator(2)
    with torch.no_grad():  # no zero biases or unit gains left, so every term of the projection counts
        for weight in model.parameters():
            weight.add_(0.1 * torch.randn(weight.shape, generator=noise))
    z = torch.randn(3, model.hps.z_size, generator=make_generator(1))
    drawings = model.sample(3, z=z, greedy=True, max_len=12)
    for i, d in enumerate(drawings):
        assert np.allclose(d[:, :2], _teacher_forced_greedy_points(model, z[i], d), atol=1e-4)


@pytest.mark.skipif(not cpu_has_bf16(),
                    reason="this CPU has no native bfloat16 (AVX512-BF16 or AMX), so precision auto is float32")
def test_bfloat16_sampling_agrees_with_the_float32_decoder_to_bfloat16_precision():
    """precision auto: a batch of >= BF16_MIN_BATCH runs its matmuls in bfloat16. On the embedded sheep model
    its greedy points must still be the float32 training decoder's, to bf16's ~3 significant digits (a few
    near-tied mixture components may pick the other one)."""
    from sketchtool.models.sketch_rnn import BF16_MIN_BATCH, _matmul_dtype
    from sketchtool.pretrained import resolve_model

    model, _ = load_model(resolve_model("sheep"))
    n = BF16_MIN_BATCH
    assert _matmul_dtype(torch.device("cpu"), n, "auto") == torch.bfloat16
    assert _matmul_dtype(torch.device("cpu"), n, "fp32") is None
    assert _matmul_dtype(torch.device("cpu"), n - 1, "auto") is None
    z = torch.randn(n, model.hps.z_size, generator=make_generator(3))
    drawings = model.sample(n, z=z, greedy=True, max_len=16, precision="auto")
    close = [np.isclose(d[:, :2], _teacher_forced_greedy_points(model, z[i], d), rtol=0.02, atol=0.02).all(-1)
             for i, d in enumerate(drawings)]
    agree = np.concatenate(close).mean()
    assert agree > 0.97, f"only {agree:.1%} of bf16 greedy points match the float32 decoder"
    float32 = model.sample(n, z=z, greedy=True, max_len=16, precision="fp32")
    assert not _same(drawings, float32), "precision auto should have used bfloat16 here"


def test_interpolation_rows_start_and_end_at_the_inputs(tiny, sheep_test):
    model, info = tiny
    options = SampleOptions(seed=0, greedy=True)
    rows = interpolate(model, info, sheep_test[:3], 4, options)
    assert [len(r) for r in rows] == [4, 4]
    ends = reconstruct(model, info, sheep_test[:3], 1, options)
    assert np.allclose(rows[0][0], ends[0][0], atol=1e-3) and np.allclose(rows[0][-1], ends[1][0], atol=1e-3)
    assert np.allclose(rows[1][-1], ends[2][0], atol=1e-3)


def test_analogy_with_a_equal_b_decodes_c(tiny, sheep_test):
    model, info = tiny
    a, c = sheep_test[0], sheep_test[1]
    options = SampleOptions(seed=0, greedy=True)
    samples = analogy(model, info, a, a, c, 2, options)
    assert np.allclose(samples[0], reconstruct(model, info, [c], 1, options)[0][0], atol=1e-3)


def test_encode_is_the_latent_mean(tiny, sheep_test):
    model, info = tiny
    z = encode(model, info, sheep_test[:2])
    assert z.shape == (2, model.hps.z_size)
    assert torch.allclose(z[1], encode(model, info, sheep_test[1:2])[0], atol=1e-5)


def test_class_picks_the_label(tiny):
    model, info = _fresh_model(classes=["cat", "pig"])
    ours = generate(model, info, 3, SampleOptions(seed=5, class_name="pig"))
    raw = model.sample(3, temperature=0.4, labels=torch.ones(3, dtype=torch.int64),
                       generator=drawing_generators([(5, i) for i in range(3)]))
    assert all(np.allclose(d[:, :2], r[:, :2] * info.scale_factor) for d, r in zip(ours, raw) if not _draws_no_line(r))
    with pytest.raises(SketchtoolError, match="use one of cat, pig"):
        generate(model, info, 1, SampleOptions(class_name="dog"))
    with pytest.raises(SketchtoolError, match="not trained with classes"):
        generate(*tiny, 1, SampleOptions(class_name="pig"))


def test_a_class_index_given_as_an_int_is_that_class():
    """Was an AttributeError ('int' object has no attribute 'isdigit')."""
    model, info = _fresh_model(classes=["cat", "pig"])
    assert _same(generate(model, info, 3, SampleOptions(seed=5, class_name=1)),
                 generate(model, info, 3, SampleOptions(seed=5, class_name="pig")))


def test_options_default_to_sample_options(tiny, sheep_test):
    """A notebook's `st.generate(model, info, 8)`; a seed cannot be given without options, so compare shapes."""
    assert len(generate(*tiny, 3)) == 3
    assert len(complete(*tiny, sheep_test[0][:5], 2)) == 2
    assert [len(row) for row in interpolate(*tiny, sheep_test[:3], 4)] == [4, 4]
    assert len(reconstruct(*tiny, sheep_test[:2], 1)) == 2 and len(analogy(*tiny, *sheep_test[:3], 2)) == 2


@pytest.mark.parametrize("call, message", [
    (lambda m, i: generate(m, i, 2.0, SampleOptions()), "2.0: must be a whole number"),
    (lambda m, i: generate(m, i, "2", SampleOptions()), "'2': must be a whole number"),
    (lambda m, i: generate(m, i, 2, SampleOptions(seed=1.5)), "seed 1.5: must be a whole number"),  # was seed 1
    (lambda m, i: generate(m, i, 2, SampleOptions(seed="3")), "seed '3': must be a whole number"),  # was seed 3
    (lambda m, i: generate(m, i, 2, SampleOptions(temperature="0.3")), "temperature '0.3': must be a number"),
    (lambda m, i: complete(m, i, np.zeros((2, 3)), 1, SampleOptions(pen_temperature="1")), "pen_temperature '1'"),
])
def test_values_of_the_wrong_type_are_one_line_not_a_type_error_or_a_silent_cast(tiny, call, message):
    with pytest.raises(SketchtoolError, match=message):
        call(*tiny)


def test_unconditional_model_cannot_encode_but_generates_and_completes(sheep_test):
    model, info = _fresh_model(conditional=False)
    assert len(generate(model, info, 2, SampleOptions(seed=0))) == 2
    assert len(complete(model, info, sheep_test[0][:5], 2, SampleOptions(seed=0))) == 2
    for call in (lambda: interpolate(model, info, sheep_test[:2], 3, SampleOptions()),
                 lambda: analogy(model, info, *sheep_test[:3], 1, SampleOptions()),
                 lambda: reconstruct(model, info, sheep_test[:1], 1, SampleOptions())):
        with pytest.raises(SketchtoolError, match="cannot encode"):
            call()


@pytest.mark.parametrize("call, message", [
    (lambda m, i, d: generate(m, i, 0, SampleOptions()), "--n 0"),
    (lambda m, i, d: generate(m, i, 2, SampleOptions(temperature=0)), "--temperature"),
    (lambda m, i, d: generate(m, i, 2, SampleOptions(temperature=float("nan"))), "--temperature"),
    (lambda m, i, d: complete(m, i, np.zeros((0, 3)), 2, SampleOptions()), "empty"),
    (lambda m, i, d: reconstruct(m, i, [np.ones((65, 3))], 1, SampleOptions()), "more than the model takes \\(64\\)"),
    (lambda m, i, d: interpolate(m, i, d[:1], 3, SampleOptions()), "at least two"),
    (lambda m, i, d: interpolate(m, i, d[:2], 1, SampleOptions()), "--steps 1"),
    (lambda m, i, d: interpolate(m, i, d[:2], 3, SampleOptions(), method="cubic"), "slerp"),
])
def test_invalid_requests_are_clear_errors(tiny, sheep_test, call, message):
    with pytest.raises(SketchtoolError, match=message):
        call(*tiny, sheep_test)


@pytest.mark.parametrize("call, message", [
    (lambda m, i, d: complete(m, i, d[0][:, :2], 2, SampleOptions(seed=0)), "got shape \\(\\d+, 2\\); a polyline"),
    (lambda m, i, d: complete(m, i, d[0][:6, :2], 2, SampleOptions(seed=0)), "got shape \\(6, 2\\)"),  # 12 numbers
    (lambda m, i, d: complete(m, i, stroke3_to_polylines(d[0]), 2, SampleOptions(seed=0)), "polylines_to_stroke3"),
    (lambda m, i, d: interpolate(m, i, [stroke3_to_polylines(x) for x in d[:2]], 3, SampleOptions()), "drawing 1"),
    (lambda m, i, d: interpolate(m, i, d[0], 3, SampleOptions()), "give a list of drawings"),  # its rows, 1 point each
    (lambda m, i, d: reconstruct(m, i, d[0], 1, SampleOptions()), "give a list of drawings"),
    (lambda m, i, d: encode(m, i, d[0]), "give a list of drawings"),
])
def test_polylines_or_a_lone_drawing_where_stroke3_drawings_belong_are_refused(tiny, sheep_test, call, message):
    """Were read as something else: (n, 2) points reshaped into three columns of offsets, a drawing's rows taken for
    one-point drawings; a list of polylines was a numpy traceback."""
    with pytest.raises(SketchtoolError, match=message):
        call(*tiny, sheep_test)


def test_integer_and_float32_drawings_are_the_same_drawings(tiny, sheep_test):
    start = sheep_test[0][:8]
    expected = complete(*tiny, start.astype(np.float64), 2, SampleOptions(seed=4))
    for same in (start.astype(np.int16), start.astype(np.float32), start.tolist()):
        assert _same(complete(*tiny, same, 2, SampleOptions(seed=4)), expected)


@pytest.mark.parametrize("text", ["identity=3,angle=1e308", "angle=-1e308:1e308", "width=1e39", "shift_x=-1e39",
                                  "scale=1000001"])
def test_condition_values_beyond_a_million_are_one_line(text):
    """Were an internal error: torch.linspace cannot hold 1e308 in float32."""
    with pytest.raises(SketchtoolError, match="give values from -1,000,000 to 1,000,000"):
        parse_condition(text, 4, ["a", "b", "c", "d"])
    assert parse_condition("angle=-1e6:1e6", 3, []).vectors["angle"][:, 0].tolist() == [-1e6, 0, 1e6]


def test_conditions_for_a_model_that_takes_none_say_so():
    """An unconditional image model said 'the model knows identity 0 to -1'."""
    from sketchtool.models.draw import DRAW, DRAWHParams

    torch.manual_seed(0)
    spec = DataSpec(kind="images", image_shape=(8, 8))
    model = DRAW(DRAWHParams(T=2, enc_size=8, dec_size=8, z_size=2, read_n=2, write_n=2), spec).eval()
    info = ModelInfo("draw", {}, spec, 0, {}, "fresh")
    for condition in ("identity=3", "angle=40"):
        with pytest.raises(SketchtoolError, match="model fresh takes no conditions; drop --condition"):
            generate(model, info, 2, SampleOptions(seed=0, condition=condition))
    assert generate(model, info, 2, SampleOptions(seed=0)).images.shape == (2, 8, 8)


codes = arrays(np.float64, 6, elements=st.floats(-3, 3))


@settings(max_examples=60, deadline=None)
@given(codes, codes, st.floats(0, 1))
def test_slerp_meets_both_ends_and_stays_between_the_norms(z0, z1, t):
    assert np.allclose(slerp(z0, z1, 0.0), z0) and np.allclose(slerp(z0, z1, 1.0), z1)
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if n0 > 1e-3 and n1 > 1e-3 and np.dot(z0, z1) / (n0 * n1) > -0.99:
        # on the great circle between two codes of equal norm the norm never changes
        a, b = z0 / n0, z1 / n1
        assert np.isclose(np.linalg.norm(slerp(a, b, t)), 1.0, atol=1e-6)
    assert np.allclose(lerp(z0, z1, t), z0 + t * (z1 - z0))
