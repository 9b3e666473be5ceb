"""Sketch-RNN: loss assembled as magenta does it, encoder padding ignored, batched reproducible sampling,
class conditioning, registry and hparam parsing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sketchtool.batching import StrokeBatch, stroke5_batch
from sketchtool.errors import SketchtoolError
from sketchtool.models import available_models, get_model_class
from sketchtool.models.base import hparams_from_dict, parse_hparams
from sketchtool.models.mixture import split_output
from sketchtool.dataspec import DataSpec
from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

TINY = {"enc_rnn_size": 8, "dec_rnn_size": 16, "z_size": 4, "num_mixture": 3, "max_seq_len": 12, "batch_size": 4,
        "hyper_num_units": 8, "hyper_embedding_size": 4}


def _drawings(n=4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        length = 3 + 2 * k
        pen = (rng.random(length) < 0.3).astype(float)
        pen[-1] = 1
        out.append(np.column_stack([rng.normal(size=(length, 2)), pen]))
    return out


def _batch(labels=None):
    b = stroke5_batch(_drawings(), 12, labels=labels)
    return StrokeBatch(b.strokes5.double(), b.lengths, b.labels)


def _model(**kw):
    torch.manual_seed(0)
    return SketchRNN(SketchRNNHParams(**{**TINY, **kw})).double()


def _independent_loss(model, batch, z, training):
    """magenta get_lossfunc from the decoder's output, written out with torch.distributions."""
    x = batch.strokes5.double()
    cond = model._condition(z, batch.labels, x.shape[0], "cpu")
    y, _ = model._decode(x[:, :-1], cond, model._initial_state(cond, x.shape[0], x))
    p = split_output(y.double(), model.hps.num_mixture)
    target = x[:, 1:]
    cov = torch.stack([torch.stack([p.sigma1**2, p.rho * p.sigma1 * p.sigma2], -1),
                       torch.stack([p.rho * p.sigma1 * p.sigma2, p.sigma2**2], -1)], -2)
    mvn = torch.distributions.MultivariateNormal(torch.stack([p.mu1, p.mu2], -1), covariance_matrix=cov)
    log_n = mvn.log_prob(target[..., None, :2])
    likelihood = torch.exp(torch.logsumexp(torch.log_softmax(p.pi_logits, -1) + log_n, -1))
    mask = 1 - target[..., 4]
    l_s = -torch.log(likelihood + 1e-6) * mask
    l_p = torch.nn.functional.cross_entropy(p.pen_logits.reshape(-1, 3), target[..., 2:].argmax(-1).reshape(-1),
                                            reduction="none").reshape(mask.shape)
    if not training:
        l_p = l_p * mask
    return (l_s.sum() + l_p.sum()) / (x.shape[0] * model.hps.max_seq_len)


@pytest.mark.parametrize("dec_model", ["lstm", "layer_norm", "hyper"])
def test_loss_terms_match_an_independent_computation(dec_model):
    model = _model(dec_model=dec_model, use_recurrent_dropout=False, conditional=False)
    batch = _batch()
    for training in (True, False):
        model.train(training)
        terms = model.loss(batch)
        want = _independent_loss(model, batch, None, training)
        torch.testing.assert_close(terms["L_R"], want)
        # unconditional: KL is 0 and the floored KL term is kl_weight * kl_tolerance
        torch.testing.assert_close(terms["loss"], want + 0.5 * 0.2)
    assert batch.strokes5.shape == (4, 13, 5)


def test_teacher_forced_is_the_distribution_the_loss_scores():
    """With z the posterior mean, `teacher_forced`'s output scores the batch exactly as an independently written
    magenta loss does (eval mode): the diagnosis reads the distribution training optimised."""
    from sketchtool.models.mixture import offset_nll, pen_cross_entropy

    model, batch = _model().eval(), _batch()
    p = model.teacher_forced(batch)
    target = batch.strokes5[:, 1:]
    mask = 1 - target[..., 4]
    mu = model._encode_params(target, batch.lengths)[0]
    decoded = _independent_loss(model, batch, mu, training=False)
    ours = ((offset_nll(p, target[..., 0], target[..., 1]) * mask).sum()
            + (pen_cross_entropy(p, target[..., 2:5]) * mask).sum()) / (target.shape[0] * model.hps.max_seq_len)
    torch.testing.assert_close(ours, decoded)


def test_kl_is_the_mean_over_batch_and_latent_dimensions_with_a_floor():
    model = _model(use_recurrent_dropout=False).eval()
    batch = _batch()
    mu, sigma_hat = model._encode_params(batch.strokes5[:, 1:].double(), batch.lengths)
    want = -0.5 * torch.mean(1 + sigma_hat - mu**2 - torch.exp(sigma_hat))
    terms = model.loss(batch, kl_weight=0.3)
    torch.testing.assert_close(terms["L_KL"], want)
    torch.testing.assert_close(terms["loss"], terms["L_R"] + 0.3 * torch.clamp(want, min=0.2))


def test_encoder_ignores_padding():
    model = _model().eval()
    drawings = _drawings()
    short = _batch()
    garbage = short.strokes5.clone()
    for i, d in enumerate(drawings):  # overwrite every padding row with noise
        garbage[i, 1 + len(d):] = torch.randn(13 - 1 - len(d), 5, dtype=torch.float64)
    z1 = model.encode(short.strokes5[:, 1:], short.lengths)
    z2 = model.encode(garbage[:, 1:], short.lengths)
    assert z1.shape == (4, 4)
    torch.testing.assert_close(z1, z2)


def test_sampling_is_batched_reproducible_and_ends_at_end_of_drawing():
    model = _model().float()
    out1 = model.sample(5, temperature=0.5, generator=torch.Generator().manual_seed(3))
    out2 = model.sample(5, temperature=0.5, generator=torch.Generator().manual_seed(3))
    assert len(out1) == 5
    for a, b in zip(out1, out2):
        assert a.shape[1] == 3 and len(a) <= 12  # an untrained model may end at once: an empty drawing
        np.testing.assert_array_equal(a, b)
        assert len(a) == 0 or a[-1, 2] == 1.0
    assert sum(len(a) for a in out1) > 0
    assert model.training  # sampling restores the mode it found


def test_sampling_given_z_and_prefix():
    model = _model().float().eval()
    z = torch.zeros(2, 4)
    greedy = [model.sample(2, z=z, greedy=True) for _ in range(2)]
    np.testing.assert_array_equal(greedy[0][0], greedy[1][0])
    np.testing.assert_array_equal(greedy[0][0], greedy[0][1])  # same z, greedy: same drawing
    prefix = [np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]), np.zeros((0, 3))]
    out = model.sample(2, prefix=prefix, max_len=6, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(out[0][:2], prefix[0])
    with pytest.raises(SketchtoolError):
        model.sample(2, z=torch.zeros(3, 4))


def test_z_temperature_scales_the_random_latents():
    """z_temperature T decodes T times the standard normal draw (the same draw, so T = 1 is the paper's sampler),
    the default is Z_TEMPERATURE, and T = 0 decodes the prior mean: one drawing for every row when greedy."""
    from sketchtool.models.sketch_rnn import Z_TEMPERATURE

    model = _model().float().eval()

    def sample(**kw):
        return model.sample(3, temperature=0.5, generator=torch.Generator().manual_seed(7), **kw)

    def with_z(scale):
        g = torch.Generator().manual_seed(7)
        z = torch.randn(3, 4, generator=g) * scale
        return model.sample(3, temperature=0.5, generator=g, z=z)

    for kw, scale in (({"z_temperature": 0.3}, 0.3), ({"z_temperature": 1.0}, 1.0), ({}, Z_TEMPERATURE)):
        for a, b in zip(sample(**kw), with_z(scale)):
            np.testing.assert_array_equal(a, b)
    with torch.no_grad():
        model.dec_init.weight.mul_(200)  # so that z visibly moves the (untrained) decoder
    at_mean = model.sample(3, greedy=True, z_temperature=0.0, generator=torch.Generator().manual_seed(1))
    spread = model.sample(3, greedy=True, z_temperature=1.0, generator=torch.Generator().manual_seed(1))
    def same(a, b):  # rows of one batch may differ in the last bit
        return a.shape == b.shape and np.allclose(a, b, atol=1e-6)

    assert all(same(at_mean[0], d) for d in at_mean[1:])
    assert not all(same(spread[0], d) for d in spread[1:])
    with pytest.raises(SketchtoolError, match="unconditional"):
        SketchRNN(SketchRNNHParams(**TINY, conditional=False)).sample(1, z_temperature=0.5)


def test_one_generator_per_drawing_makes_each_drawing_its_own():
    """Given a generator per drawing, drawing i is what its generator draws alone, whatever the other rows are;
    a wrong number of generators is refused."""
    model = _model().float().eval()

    def generators(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    three = model.sample(3, temperature=0.5, generator=generators(1, 2, 3))
    others = model.sample(3, temperature=0.5, generator=generators(9, 2, 8))
    alone = model.sample(1, temperature=0.5, generator=generators(2))[0]
    for drawing in (three[1], others[1]):
        assert drawing.shape == alone.shape and np.allclose(drawing, alone, atol=1e-5)
    assert not (three[0].shape == alone.shape and np.allclose(three[0], alone, atol=1e-5))
    with pytest.raises(SketchtoolError, match="one per drawing"):
        model.sample(3, generator=generators(1, 2))


def test_class_conditioning_changes_the_drawing():
    torch.manual_seed(0)
    model = SketchRNN(SketchRNNHParams(**TINY, conditional=False), DataSpec(class_names=["a", "b", "c"])).eval()
    assert model.use_classes
    with torch.no_grad():
        model.class_embedding.weight.mul_(50)
    a = model.sample(1, labels=torch.tensor([0]), greedy=True)
    b = model.sample(1, labels=torch.tensor([2]), greedy=True)
    assert not np.array_equal(a[0], b[0])
    batch = stroke5_batch(_drawings(), 12, labels=[0, 1, 2, 0])
    assert torch.isfinite(model.loss(batch)["loss"])
    with pytest.raises(SketchtoolError):
        model.sample(1, labels=torch.tensor([3]))


def test_learning_rate_is_magentas_decay_with_an_optional_linear_warm_up():
    magenta = _model(learning_rate=0.001, decay_rate=0.9999, min_learning_rate=0.00001)
    warmed = _model(learning_rate=0.001, decay_rate=0.9999, min_learning_rate=0.00001, lr_warmup_steps=4)
    for step in (0, 1, 7, 5000):
        assert magenta.learning_rate(step) == pytest.approx((0.001 - 0.00001) * 0.9999**step + 0.00001, rel=1e-12)
    assert [warmed.learning_rate(s) / magenta.learning_rate(s) for s in range(6)] == pytest.approx([.25, .5, .75, 1, 1, 1])
    with pytest.raises(SketchtoolError, match="lr_warmup_steps"):
        SketchRNNHParams(lr_warmup_steps=-1).validate()


def test_registry_and_hparam_parsing():
    assert "sketch-rnn" in available_models()
    assert get_model_class("sketch-rnn") is SketchRNN
    with pytest.raises(SketchtoolError, match="unknown model"):
        get_model_class("nope")
    hps = hparams_from_dict(SketchRNNHParams, parse_hparams("dec_model=hyper, z_size=64,use_recurrent_dropout=false"))
    assert (hps.dec_model, hps.z_size, hps.use_recurrent_dropout) == ("hyper", 64, False)
    for bad, msg in [("zz=1", "unknown hparam"), ("z_size=abc", "expected int"), ("dec_model=gru", "dec_model"),
                     ("z_size", "name=value")]:
        with pytest.raises(SketchtoolError, match=msg):
            hparams_from_dict(SketchRNNHParams, parse_hparams(bad))
