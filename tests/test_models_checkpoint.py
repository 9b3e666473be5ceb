"""Checkpoints: round trip, inference-only export, and refusal of anything that is not a safe checkpoint."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from sketchtool.checkpoint import (
    export_model,
    load_model,
    read_checkpoint,
    save_checkpoint,
)
from sketchtool.dataspec import DataSpec
from sketchtool.errors import SketchtoolError
from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams

TINY = SketchRNNHParams(enc_rnn_size=8, dec_rnn_size=16, z_size=4, num_mixture=3, max_seq_len=20)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    spec = DataSpec(class_names=["sheep"], scale_factor=12.5, max_length=20,
                    dataset={"name": "sheep", "path": "/x/sheep.npz"})
    model = SketchRNN(TINY, spec)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, step=7, metrics={"valid": {"L_R": 0.5}},
                    training={"optimizers": {}, "torch_rng": torch.get_rng_state()})
    return model.eval(), path


def _greedy(model):
    return model.sample(2, z=torch.ones(2, 4), greedy=True, max_len=15)


def test_round_trip_restores_model_and_info(saved):
    model, path = saved
    loaded, info = load_model(path)
    assert (info.model, info.step, info.scale_factor, info.class_names) == ("sketch-rnn", 7, 12.5, ["sheep"])
    assert info.hparams["dec_rnn_size"] == 16 and info.metrics["valid"]["L_R"] == 0.5
    assert not loaded.training and loaded.can("encode")
    for a, b in zip(_greedy(model), _greedy(loaded)):
        np.testing.assert_array_equal(a, b)


def test_run_directory_prefers_best(saved, tmp_path):
    _, path = saved
    run = tmp_path / "run"
    run.mkdir()
    os.replace(path, run / "latest.pt")
    assert load_model(run)[1].path.endswith("latest.pt")
    export_model(run / "latest.pt", run / "best.pt")
    assert load_model(run)[1].path.endswith("best.pt")


def test_export_is_small_inference_only_and_loads_as_float32(saved, tmp_path):
    model, path = saved
    out = tmp_path / "sheep.pt"
    export_model(path, out)
    payload = read_checkpoint(out)
    assert "training" not in payload
    assert all(v.dtype == torch.float16 for v in payload["state_dict"].values())
    assert out.stat().st_size < path.stat().st_size
    loaded, info = load_model(out)
    assert info.step == 7 and next(loaded.parameters()).dtype == torch.float32
    z = torch.ones(2, 4)
    y1 = model._decode(torch.zeros(2, 3, 5), z, model._initial_state(z, 2, z))[0]
    y2 = loaded._decode(torch.zeros(2, 3, 5), z, loaded._initial_state(z, 2, z))[0]
    torch.testing.assert_close(y1, y2, atol=1e-2, rtol=1e-2)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_checkpoint",))


@pytest.mark.parametrize("content", ["garbage", "not-a-checkpoint", "pickle-with-code", "missing"])
def test_bad_files_are_refused_with_one_clear_error(tmp_path, content, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.pt"
    if content == "garbage":
        path.write_bytes(b"\x00not a zip at all")
    elif content == "not-a-checkpoint":
        torch.save({"weights": torch.zeros(2)}, path)
    elif content == "pickle-with-code":
        torch.save({"format": "sketchtool-checkpoint", "evil": _Evil()}, path)
    with pytest.raises(SketchtoolError) as err:
        load_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "pwned_by_checkpoint").exists()


def test_a_directory_without_checkpoints_is_not_a_run(tmp_path):
    with pytest.raises(SketchtoolError, match="not a training run"):
        load_model(tmp_path)
