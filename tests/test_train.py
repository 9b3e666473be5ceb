"""The trainer on a small real subset of aaron_sheep: resume equals an uninterrupted run, validation loss falls,
bad input fails clearly, bf16 stays close to fp32, and DDP runs with 2 CPU processes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchtool.batching import BatchSource, prepare_drawings
from sketchtool.checkpoint import load_model, read_checkpoint
from sketchtool.dataset import StrokeDataset
from sketchtool.errors import SketchtoolError
from sketchtool.formats.npz import load_dataset, save_dataset
from sketchtool.models.sketch_rnn import SketchRNN, SketchRNNHParams
from sketchtool.strokes import scale_factor
from sketchtool.train import (
    TrainOptions,
    evaluate,
    init_hparams,
    read_metrics,
    resolve_hparams,
    train,
)

TINY = "enc_rnn_size=16,dec_rnn_size=32,z_size=8,num_mixture=5,batch_size=16"


def _hps(extra=""):
    from sketchtool.models.base import parse_hparams

    return resolve_hparams("sketch-rnn", overrides=parse_hparams(TINY + ("," + extra if extra else "")))


def _options(steps, **kw):
    return TrainOptions(steps=steps, save_every=kw.pop("save_every", 3), precision="fp32", **kw)


def test_resume_equals_an_uninterrupted_run(subset, tmp_path):
    train(subset, tmp_path / "a", hps=_hps(), options=_options(6))
    train(subset, tmp_path / "b", hps=_hps(), options=_options(3))
    result = train(subset, tmp_path / "b", resume=True, options=_options(6))
    assert result.step == 6
    a, b = read_checkpoint(tmp_path / "a" / "latest.pt"), read_checkpoint(tmp_path / "b" / "latest.pt")
    assert a["step"] == b["step"] == 6
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    for k, state in a["training"]["optimizers"]["model"]["state"].items():
        assert torch.equal(state["exp_avg"], b["training"]["optimizers"]["model"]["state"][k]["exp_avg"])
    lines = []  # resumed to a step it has passed: says so, and leaves the run as it was
    again = train(subset, tmp_path / "b", resume=True, options=_options(4), on_start=lines.append)
    assert again.step == 6 and "already at step 6, so nothing to train" in lines[0], lines
    assert read_checkpoint(tmp_path / "b" / "latest.pt")["step"] == 6
    train_a = [r for r in read_metrics(tmp_path / "a") if r["split"] == "valid"]
    train_b = [r for r in read_metrics(tmp_path / "b") if r["split"] == "valid"]
    assert [r["loss"] for r in train_a] == [r["loss"] for r in train_b]


@pytest.mark.slow
def test_validation_loss_falls_over_a_few_hundred_steps(subset, tmp_path):
    result = train(subset, tmp_path / "run", hps=_hps(), options=_options(240, save_every=40))
    valid = [r for r in read_metrics(tmp_path / "run") if r["split"] == "valid"]
    assert len(valid) == 6
    assert valid[-1]["L_R"] < valid[0]["L_R"] - 0.1
    assert result.best_valid == min(r["loss"] for r in valid)
    model, info = load_model(tmp_path / "run")
    assert info.step == min(r["step"] for r in valid if r["loss"] == result.best_valid)
    test = evaluate(tmp_path / "run", split="test")
    assert test["items"] == len(load_dataset(subset).splits["test"]) and np.isfinite(test["L_R"])
    drawings = model.sample(4, generator=torch.Generator().manual_seed(0))
    assert sum(len(d) for d in drawings) > 0


def test_metrics_go_to_tensorboard_when_installed(subset, tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard logging is optional; not installed here")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(subset, tmp_path / "run", hps=_hps(), options=_options(10, log_every=5, save_every=5))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("valid/L_R")] == [5, 10]
    assert [e.step for e in events.Scalars("train/loss")] == [5, 10]


def _cli_train(subset, run, *args, wait=True):
    cmd = [sys.executable, "-m", "sketchtool", "train", str(subset), "-o", str(run), "--hparams", TINY,
           "--precision", "fp32", "--threads", "1", *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        return out, err
    return proc


def _wait_for(path, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert path.is_file(), f"{path} never appeared"


def _assert_same_weights(run_a, run_b):
    a, b = read_checkpoint(run_a / "latest.pt"), read_checkpoint(run_b / "latest.pt")
    assert a["step"] == b["step"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    states_a, states_b = a["training"]["optimizers"]["model"]["state"], b["training"]["optimizers"]["model"]["state"]
    for k in states_a:
        assert torch.equal(states_a[k]["exp_avg_sq"], states_b[k]["exp_avg_sq"]), k


REFERENCE_STEPS = 150


@pytest.fixture(scope="module")
def reference_run(subset, tmp_path_factory):
    """An uninterrupted CLI run every interrupted-and-resumed run must equal, tensor for tensor."""
    run = tmp_path_factory.mktemp("reference") / "run"
    _cli_train(subset, run, "--steps", REFERENCE_STEPS, "--save-every", 50)
    return run


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "sigint", "kill-9"])
def test_a_run_stopped_any_way_resumes_to_the_uninterrupted_weights(how, subset, reference_run, tmp_path):
    run = tmp_path / "run"
    proc = _cli_train(subset, run, "--steps", 100_000, "--save-every", 5, "--log-every", 1, wait=False)
    _wait_for(run / "latest.pt", proc)
    time.sleep(0.3)  # land inside some later step
    proc.send_signal({"sigterm": signal.SIGTERM, "sigint": signal.SIGINT, "kill-9": signal.SIGKILL}[how])
    _, err = proc.communicate(timeout=120)
    step = read_checkpoint(run / "latest.pt")["step"]
    assert step < REFERENCE_STEPS, "stopped too late to prove anything; make the reference longer"
    if how != "kill-9":
        assert proc.returncode == 130 and f"step {step} is saved" in err and "--resume" in err, err
    _cli_train(subset, run, "--resume", "--steps", REFERENCE_STEPS)
    _assert_same_weights(reference_run, run)
    steps = [(r["split"], r["step"]) for r in read_metrics(run)]
    assert len(steps) == len(set(steps)), "metrics.jsonl repeats records after resume"


@pytest.mark.slow
@pytest.mark.parametrize("first", [["--steps", 37], ["--minutes", 0.02]], ids=["off-boundary-steps", "minutes"])
def test_off_boundary_ends_resume_to_the_uninterrupted_weights(first, subset, reference_run, tmp_path):
    run = tmp_path / "run"
    _cli_train(subset, run, "--save-every", 50, *first)
    assert read_checkpoint(run / "latest.pt")["step"] < REFERENCE_STEPS
    _cli_train(subset, run, "--resume", "--steps", REFERENCE_STEPS)
    _assert_same_weights(reference_run, run)


def test_off_a_terminal_training_prints_progress_lines(subset, tmp_path):
    _, err = _cli_train(subset, tmp_path / "run", "--steps", 6, "--save-every", 3)
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert lines and "steps/s" in lines[-1] and "ETA" in lines[-1] and "loss" in lines[-1], err


def test_a_second_trainer_on_a_live_run_is_refused_with_the_holders_pid(subset, tmp_path):
    run = tmp_path / "run"
    proc = _cli_train(subset, run, "--steps", 100_000, "--save-every", 5, wait=False)
    try:
        _wait_for(run / "latest.pt", proc)
        with pytest.raises(SketchtoolError, match=f"in use by another training process \\(PID {proc.pid}\\)"):
            train(subset, run, resume=True, options=_options(100_001))
        with pytest.raises(SketchtoolError, match="already exists|in use"):
            train(subset, run, hps=_hps(), options=_options(1))
    finally:
        proc.terminate()
        proc.communicate(timeout=120)
    assert read_checkpoint(run / "latest.pt")["step"] >= 5


def test_resume_on_another_dataset_needs_new_dataset_and_resets_best(subset, tmp_path):
    train(subset, tmp_path / "run", hps=_hps(), options=_options(3))
    other = tmp_path / "other.npz"
    full = load_dataset(subset)
    save_dataset(other, StrokeDataset(splits={k: v[: len(v) // 2] for k, v in full.splits.items()}))
    with pytest.raises(SketchtoolError, match="not the dataset this run was trained on.*--new-dataset"):
        train(other, tmp_path / "run", resume=True, options=_options(6))
    result = train(other, tmp_path / "run", resume=True, options=_options(6, new_dataset=True))
    valid = [r for r in read_metrics(tmp_path / "run") if r["split"] == "valid" and r["step"] == 6]
    assert result.step == 6 and result.best_valid == valid[0]["loss"]
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["spec"]["dataset"]["path"] == str(other)


def test_init_fine_tunes_from_a_models_weights_in_its_units(subset, tmp_path):
    """--init: a new run on another dataset starts from the source's weights, hparams and scale factor (its
    weights mean offsets in those units), with fresh optimisers from step 0."""
    train(subset, tmp_path / "source", hps=_hps(), options=_options(20, save_every=20))
    full = load_dataset(subset)
    bigger = tmp_path / "bigger.npz"  # the same drawings at 3x: a dataset with a scale factor of its own
    save_dataset(bigger, StrokeDataset(splits={k: [d * np.array([3, 3, 1], dtype=d.dtype) for d in v]
                                               for k, v in full.splits.items()}))
    result = train(bigger, tmp_path / "tuned", options=_options(1, init=str(tmp_path / "source")))
    source, tuned = (read_checkpoint(tmp_path / run / "latest.pt") for run in ("source", "tuned"))
    assert result.step == 1 and tuned["spec"]["scale_factor"] == source["spec"]["scale_factor"]
    assert tuned["hparams"] == source["hparams"]
    assert tuned["spec"]["dataset"]["path"] == str(bigger)
    moved = max((tuned["state_dict"][k] - w).abs().max().item() for k, w in source["state_dict"].items())
    assert moved <= 1.5 * source["hparams"]["learning_rate"]  # one Adam step from the source's weights
    fresh = SketchRNN(_hps(), load_model(tmp_path / "source")[1].spec).state_dict()
    assert max((fresh[k] - w).abs().max().item() for k, w in source["state_dict"].items()) > 0.05
    assert json.loads((tmp_path / "tuned" / "run.json").read_text())["options"]["init"] == str(tmp_path / "source")


def test_init_with_a_warm_up_takes_a_small_first_step(subset, tmp_path):
    """lr_warmup_steps=100: the first of a fine-tuning run's Adam steps moves no weight by more than about lr/100,
    where a cold start moves them by about lr (the test above)."""
    train(subset, tmp_path / "source", hps=_hps(), options=_options(20, save_every=20))
    _, hps = init_hparams(str(tmp_path / "source"), {"lr_warmup_steps": 100})
    result = train(subset, tmp_path / "tuned", hps=hps, options=_options(1, init=str(tmp_path / "source")))
    source, tuned = (read_checkpoint(tmp_path / run / "latest.pt") for run in ("source", "tuned"))
    assert result.step == 1 and tuned["hparams"]["lr_warmup_steps"] == 100
    moved = max((tuned["state_dict"][k] - w).abs().max().item() for k, w in source["state_dict"].items())
    assert 0 < moved <= 1.5 * source["hparams"]["learning_rate"] / 100


def test_runs_that_could_not_train_are_refused_up_front(subset, tmp_path):
    full = load_dataset(subset)
    no_valid = tmp_path / "no_valid.npz"
    save_dataset(no_valid, StrokeDataset(splits={"train": full.splits["train"], "valid": [], "test": []}))
    with pytest.raises(SketchtoolError, match="valid split has no usable items"):
        train(no_valid, tmp_path / "r1", hps=_hps(), options=_options(2))
    assert not (tmp_path / "r1").exists()
    with pytest.raises(SketchtoolError, match="--steps 0"):
        train(subset, tmp_path / "r2", hps=_hps(), options=_options(0))


def test_run_json_names_the_dataset_trained_on(subset, tmp_path):
    train(subset, tmp_path / "run", hps=_hps(), options=_options(1))
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["hparams"]["data_set"] == [subset.name] and info["spec"]["dataset"]["path"] == str(subset)


def test_resume_with_weights_of_another_shape_is_one_clear_error(subset, tmp_path):
    train(subset, tmp_path / "run", hps=_hps(), options=_options(1))
    payload = read_checkpoint(tmp_path / "run" / "latest.pt")
    payload["state_dict"]["output.weight"] = torch.zeros(3, 3)
    torch.save(payload, tmp_path / "run" / "latest.pt")
    with pytest.raises(SketchtoolError, match="do not fit") as info:
        train(subset, tmp_path / "run", resume=True, options=_options(2))
    assert "\n" not in str(info.value)


def test_a_checkpoint_whose_hparams_ask_for_a_huge_model_is_refused_before_anything_is_allocated(subset, tmp_path):
    """Sizing on the meta device refuses hparams that would build 160 GB of weights, whatever the file holds."""
    train(subset, tmp_path / "run", hps=_hps(), options=_options(1))
    payload = read_checkpoint(tmp_path / "run" / "latest.pt")
    payload["hparams"].update(dec_model="hyper", hyper_num_units=100000)
    torch.save(payload, tmp_path / "tampered.pt")
    with pytest.raises(SketchtoolError, match="parameters, more than the 1,000,000,000"):
        load_model(tmp_path / "tampered.pt")


@pytest.mark.parametrize("key, value", [("best_valid", "abc"), ("metrics", ["not", "a", "dict"])])
def test_resume_with_a_tampered_training_record_is_one_clear_error(key, value, subset, tmp_path):
    train(subset, tmp_path / "run", hps=_hps(), options=_options(1))
    payload = read_checkpoint(tmp_path / "run" / "latest.pt")
    (payload["training"] if key == "best_valid" else payload)[key] = value
    torch.save(payload, tmp_path / "run" / "latest.pt")
    with pytest.raises(SketchtoolError, match="training state does not fit"):
        train(subset, tmp_path / "run", resume=True, options=_options(2))


def test_several_classes_train_a_class_conditional_decoder(subset, tmp_path):
    full = load_dataset(subset)
    splits = {k: full.splits[k][:32] for k in full.splits}
    labels = {k: np.arange(len(v)) % 2 for k, v in splits.items()}
    path = tmp_path / "two.npz"
    save_dataset(path, StrokeDataset(splits=splits, class_names=["left", "right"], labels=labels))
    train(path, tmp_path / "run", hps=_hps(), options=_options(2, save_every=2))
    model, info = load_model(tmp_path / "run")
    assert info.class_names == ["left", "right"] and model.use_classes
    assert len(model.sample(2, labels=torch.tensor([0, 1]), max_len=5)) == 2

    # generate draws a class per drawing and an .npz records which; drawing i is then what --class gives it
    from click.testing import CliRunner

    from sketchtool.cli import cli

    def sampled(out, *extra):
        result = CliRunner().invoke(cli, ["generate", "--model", str(tmp_path / "run"), "--n", "12", "--seed", "4",
                                          "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        return load_dataset(out)

    mixed = sampled(tmp_path / "mixed.npz")
    labels = mixed.labels_of("train")
    assert mixed.class_names == ["left", "right"] and set(labels) == {0, 1}
    for index, name in enumerate(["left", "right"]):
        one = sampled(tmp_path / f"{name}.npz", "--class", name)
        assert (one.labels_of("train") == index).all()
        for i in np.flatnonzero(labels == index):
            assert np.array_equal(one.splits["train"][i], mixed.splits["train"][i])


def test_random_classes_come_in_the_train_split_s_proportions(subset, tmp_path):
    """Without --class, a class-conditional model's samples are a mixture like the data (what `score` compares
    them with): 24, 8 and 0 train drawings of three classes give about 3:1 and never the third. A checkpoint
    made before the counts were recorded draws uniformly, as it did."""
    from sketchtool.sampling import SampleOptions, sample_labels

    full = load_dataset(subset)
    splits = {"train": full.splits["train"][:32], "valid": full.splits["valid"][:6], "test": full.splits["test"][:6]}
    labels = {"train": np.repeat([0, 1], [24, 8]), "valid": np.arange(6) % 3, "test": np.arange(6) % 3}
    path = tmp_path / "three.npz"
    save_dataset(path, StrokeDataset(splits=splits, class_names=["a", "b", "c"], labels=labels))
    train(path, tmp_path / "run", hps=_hps(), options=_options(1, save_every=1))
    model, info = load_model(tmp_path / "run")
    assert info.spec.class_counts == [24, 8, 0]

    drawn = sample_labels(model, info, 4000, SampleOptions(seed=3))
    assert np.bincount(drawn, minlength=3)[2] == 0
    assert abs(np.mean(drawn == 0) - 0.75) < 0.03
    assert np.array_equal(sample_labels(model, info, 10, SampleOptions(seed=3)), drawn[:10])  # same for any n

    info.spec.class_counts = []  # as an older checkpoint
    assert set(sample_labels(model, info, 300, SampleOptions(seed=3))) == {0, 1, 2}


def test_run_directory_is_never_overwritten(subset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(SketchtoolError, match="already exists"):
        train(subset, run, hps=_hps(), options=_options(1))
    with pytest.raises(SketchtoolError, match="nothing to resume"):
        train(subset, run, resume=True, options=_options(1))
    assert (run / "notes.txt").read_text() == "mine"


def test_resume_goes_on_to_the_steps_the_run_was_started_with(subset, tmp_path):
    """`train ... --resume`, as the stop message says, went on to the model's default 10,000,000 steps, saving every
    500: the run's own --steps and --save-every were forgotten."""

    class StopAfter:  # a stop (Ctrl-C) seen once step 4 is done
        def __init__(self, loop_steps):
            self.calls = 0
            self.loop_steps = loop_steps

        def is_set(self):
            self.calls += 1
            return self.calls > self.loop_steps

    run = tmp_path / "run"
    stopped = train(subset, run, hps=_hps(), options=_options(9, save_every=3, stop=StopAfter(4)))
    assert stopped.step == 4
    result = train(subset, run, resume=True, options=TrainOptions(precision="fp32"))
    assert result.step == 9
    assert [r["step"] for r in read_metrics(run) if r["split"] == "valid"] == [3, 6, 9]  # every 3, as started
    assert json.loads((run / "run.json").read_text())["options"]["steps"] == 9
    longer = train(subset, run, resume=True, options=TrainOptions(steps=10, precision="fp32"))  # still overridable
    assert longer.step == 10


def test_the_same_command_with_resume_added_is_taken_when_max_seq_len_shrank_to_the_data(subset, tmp_path):
    """max_seq_len=1000 shrinks to the longest drawing, and --resume compared 1000 with that and refused."""
    run = tmp_path / "run"
    longest = max(len(d) for d in load_dataset(subset).splits["train"])
    cmd = [sys.executable, "-m", "sketchtool", "train", str(subset), "-o", str(run), "--hparams",
           TINY + ",max_seq_len=1000", "--precision", "fp32", "--steps", "2", "--save-every", "2"]
    for extra in ([], ["--resume", "--steps", "3"]):
        done = subprocess.run(cmd + extra, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert read_checkpoint(run / "latest.pt")["hparams"]["max_seq_len"] == longest
    changed = subprocess.run([*cmd[:8], TINY + f",max_seq_len={longest - 1}", "--resume"], capture_output=True,
                             text=True, timeout=300)
    assert changed.returncode == 1 and f"not max_seq_len={longest - 1} (the run has {longest})" in changed.stderr


def test_a_resumed_run_removes_what_a_killed_save_left(subset, tmp_path):
    run = tmp_path / "run"
    train(subset, run, hps=_hps(), options=_options(2, save_every=2))
    stale = [run / ".latest.pt.k1l2m3n4.tmp", run / ".best.pt.a_b9c8d7.tmp"]  # as atomic_write names them
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    mine = run / ".notes.tmp"
    mine.write_text("not the trainer's")
    train(subset, run, resume=True, options=_options(3))
    assert not any(path.exists() for path in stale) and mine.read_text() == "not the trainer's"


def test_a_run_killed_before_its_first_checkpoint_starts_again_in_place(subset, tmp_path):
    run = tmp_path / "run"
    proc = _cli_train(subset, run, "--steps", 100_000, "--save-every", 100_000, "--log-every", 1, wait=False)
    _wait_for(run / "metrics.jsonl", proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert not (run / "latest.pt").exists() and (run / "run.json").is_file()
    with pytest.raises(SketchtoolError, match="stopped before its first checkpoint; start it again without --resume"):
        train(subset, run, resume=True, options=_options(1))
    train(subset, run, hps=_hps(), options=_options(2, log_every=1, save_every=2))
    assert [r["step"] for r in read_metrics(run) if r["split"] == "train"] == [1, 2]  # the dead run's are gone
    assert read_checkpoint(run / "latest.pt")["step"] == 2


@pytest.mark.parametrize("model, hparam, message", [
    ("draw", {"T": 10**9}, "at most 1,000 glimpses"),  # memory grew without end, past SIGTERM
    ("gran", {"T": 5000}, "from 1 to 1,000 steps"),
    ("strokenet-agent", {"steps": 10**6}, "steps must be from 1 to 1,000"),
    ("sketch-rnn", {"batch_size": 10**8}, "batch_size=100000000: at most 65,536"),
])
def test_hparams_that_would_exhaust_memory_are_refused_at_once(model, hparam, message):
    with pytest.raises(SketchtoolError, match=message):
        resolve_hparams(model, overrides=hparam)


def test_bad_inputs_fail_clearly(subset, tmp_path):
    with pytest.raises(SketchtoolError, match="no training drawings: all .* have more than 5 points; raise"):
        train(subset, tmp_path / "r1", hps=_hps("max_seq_len=5"), options=_options(1))
    held_out_only = load_dataset(subset)
    save_dataset(tmp_path / "no-train.npz", StrokeDataset(splits={**held_out_only.splits, "train": []}))
    with pytest.raises(SketchtoolError, match=r"the train split is empty; build the dataset with a train share"):
        train(tmp_path / "no-train.npz", tmp_path / "r3", hps=_hps(), options=_options(1))
    with pytest.raises(SketchtoolError, match="no such dataset"):
        train(tmp_path / "missing.npz", tmp_path / "r2", hps=_hps(), options=_options(1))
    if not torch.cuda.is_available():
        with pytest.raises(SketchtoolError, match="no CUDA GPU"):
            train(subset, tmp_path / "r3", hps=_hps(), options=TrainOptions(steps=1, device="cuda"))
    with pytest.raises(SketchtoolError, match="unknown preset"):
        resolve_hparams("sketch-rnn", preset="huge")


def test_divergence_stops_with_a_clear_message_and_keeps_the_checkpoint(subset, tmp_path):
    hps = _hps("learning_rate=1e30,min_learning_rate=1e30")
    with pytest.raises(SketchtoolError, match="diverged"):
        train(subset, tmp_path / "run", hps=hps, options=_options(10, save_every=1))
    payload = read_checkpoint(tmp_path / "run" / "latest.pt")
    assert 1 <= payload["step"] < 10
    with pytest.raises(SketchtoolError, match="before its first checkpoint; nothing to resume"):  # not "latest.pt"
        train(subset, tmp_path / "early", hps=hps, options=_options(10, save_every=100))
    assert not (tmp_path / "early" / "latest.pt").exists()


def test_bf16_loss_is_within_tolerance_of_fp32(sheep_path):
    """bf16 matmuls (autocast) against fp32 on a real batch at reference widths."""
    ds = load_dataset(sheep_path)
    drawings, _ = prepare_drawings(ds.splits["valid"][:20], 250)
    source = BatchSource(drawings, np.zeros(len(drawings)), scale_factor=scale_factor(drawings), max_seq_len=250,
                         batch_size=20)
    batch = next(source.batches())
    torch.manual_seed(0)
    model = SketchRNN(SketchRNNHParams(dec_rnn_size=512, enc_rnn_size=256)).eval()
    with torch.no_grad():
        fp32 = model.loss(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model.loss(batch)
    for term in ("L_R", "loss"):
        assert abs(float(bf16[term]) - float(fp32[term])) < 0.01 * abs(float(fp32[term])), term


@pytest.mark.slow
def test_distributed_data_parallel_with_two_cpu_processes(subset, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
           "-m", "sketchtool", "train", str(subset), "-o", str(tmp_path / "ddp"), "--hparams", TINY,
           "--steps", "4", "--save-every", "2", "--precision", "fp32", "--threads", "1"]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-8000:]  # the ranks' own errors come before torchrun's report
    assert read_checkpoint(tmp_path / "ddp" / "latest.pt")["step"] == 4
    records = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "valid"] == [2, 4]  # written once, by rank 0
    assert done.stdout.count("step 4 (done)") == 1, done.stdout  # and reported once


# `python RANKS_COMPARED REPO train ...` under torchrun: the CLI's own training, after which every process says at
# which step it stopped and how far its weights are from rank 0's; with STOP_AT set, rank 0 alone is asked to stop
# after that step, as when a signal reaches one process
RANKS_COMPARED = """
import os, sys
import torch, torch.distributed as dist
sys.path.insert(0, sys.argv.pop(1))  # the repository, for a checkout that is not installed
from sketchtool import train as training
from sketchtool.cli import main

class RankZeroStops:
    def __init__(self, loop, at):
        self.loop, self.at = loop, at
    def is_set(self):
        return dist.get_rank() == 0 and self.loop.step >= self.at

run = training._Loop.run
def compared_run(self, on_progress):
    if "STOP_AT" in os.environ:
        self.options.stop = RankZeroStops(self, int(os.environ["STOP_AT"]))
    result = run(self, on_progress)
    state = [*self.model.parameters(), *(b for b in self.model.buffers() if b.is_floating_point())]
    mine = torch.cat([t.detach().flatten().float() for t in state])
    every = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    gap = max(float((other - mine).abs().max()) for other in every)
    print(f"rank {dist.get_rank()}: step {self.step}, rank gap {gap};")  # ";" ends the figure: lines interleave
    return result
training._Loop.run = compared_run

import sketchtool.cli as cli  # the exit code, said before the product's own exit (which skips the teardown)
exit_process = cli.exit_process
def said_exit(code):
    print(f"rank {os.environ['RANK']}: exit {code}")  # the run has left its process group by now
    exit_process(0)  # torchrun would stop the other rank at a non-zero exit (an interrupted run's 130)
cli.exit_process = said_exit
main()
"""


@pytest.mark.parametrize("world_size", ["1", "2"])
def test_a_torchrun_worker_skips_the_interpreters_teardown_after_saying_everything(world_size, tmp_path):
    """Under torchrun the CLI leaves by os._exit (torch's C++ objects sometimes aborted at teardown, failing a
    saved run): the exit code and the flushed output are kept, and teardown handlers no longer run."""
    script = ("import atexit, sys, torch.distributed\n"
              "atexit.register(lambda: print('teardown ran'))\n"
              "sys.path.insert(0, sys.argv.pop(1))\n"
              "from sketchtool.cli import main\n"
              "print('before', end='')\n"
              "sys.argv = ['sketchtool', 'info', sys.argv[1]]\n"
              "main()\n")
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parents[1]), str(tmp_path / "none.npz")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "WORLD_SIZE": world_size})
    assert done.returncode == 1 and done.stdout.startswith("before")
    assert done.stderr.strip().splitlines()[-1].startswith("Error: ") and "none.npz" in done.stderr
    assert ("teardown ran" in done.stdout) == (world_size == "1")


def _two_processes(tmp_path, args: list[str], **env) -> subprocess.CompletedProcess:
    script = tmp_path / "ranks_compared.py"
    script.write_text(RANKS_COMPARED)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone", str(script),
           str(Path(__file__).parents[1]), "train", *args, "--precision", "fp32", "--threads", "1"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **env})


def _training_args(model: str, request, tmp_path) -> list[str]:
    """A dataset and tiny hparams for `model`, two validations in four steps."""
    from test_strokenet import TINY_AGENT, TINY_RENDERER

    renderer = TINY_RENDERER.replace("pretrain_steps=20", "pretrain_steps=2")  # both phases in four steps
    if model == "sketch-rnn":
        data, size = request.getfixturevalue("subset"), ["--hparams", TINY]
    elif model == "gran":
        data, size = request.getfixturevalue("digits_npz"), ["--preset", "tiny"]
    elif model == "strokenet-renderer":
        data, size = request.getfixturevalue("digits_npz"), ["--hparams", renderer]
    else:
        from sketchtool.models.base import parse_hparams

        data = request.getfixturevalue("digits_npz")
        train(data, tmp_path / "renderer", model="strokenet-renderer", options=TrainOptions(steps=4, save_every=4),
              hps=resolve_hparams("strokenet-renderer", overrides=parse_hparams(renderer)))
        size = ["--hparams", f"renderer={tmp_path / 'renderer'},steps=2,{TINY_AGENT},tune_renderer_every=1"]
    return [str(data), "-o", str(tmp_path / "run"), "--model", model, *size, "--steps", "4", "--save-every", "2"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["sketch-rnn", "gran", "strokenet-renderer", "strokenet-agent"])
def test_every_model_trains_as_one_model_under_torchrun(model, request, tmp_path):
    """Two processes end with the same weights and BatchNorm statistics (each process used to keep the statistics
    of its own half of the batches, and rank 0 saved its own), whatever parts of itself a model's step trains. Under
    DistributedDataParallel the renderer failed when its second phase began ("Expected to have finished reduction":
    the first phase trains the position encoder alone) and the agent's renderer tuning needed its own averaging."""
    done = _two_processes(tmp_path, _training_args(model, request, tmp_path))
    assert done.returncode == 0, done.stderr[-8000:]  # the ranks' own errors come before torchrun's report
    for rank in (0, 1):
        assert f"rank {rank}: step 4, rank gap 0.0;" in done.stdout, done.stdout
        assert f"rank {rank}: exit 0" in done.stdout, done.stdout
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["step"] == 4


@pytest.mark.slow
def test_a_stop_in_one_process_stops_every_process_at_the_same_step(digits_npz, tmp_path):
    """A stop request seen by one process stops them all after the same step, saved once; before, rank 0 stopped
    alone and rank 1 died waiting for it ("Connection closed by peer")."""
    done = _two_processes(tmp_path, [str(digits_npz), "-o", str(tmp_path / "run"), "--model", "gran", "--preset", "tiny",
                                     "--steps", "6", "--save-every", "6"], STOP_AT="2")
    assert done.returncode == 0, done.stderr[-8000:]  # the ranks' own errors come before torchrun's report
    for rank in (0, 1):
        assert f"rank {rank}: step 2, rank gap 0.0;" in done.stdout, done.stdout
        assert f"rank {rank}: exit 130" in done.stdout, done.stdout  # both report the stop as an interruption
    assert done.stdout.count("step 2 (interrupted)") == 1, done.stdout
    assert read_checkpoint(tmp_path / "run" / "latest.pt")["step"] == 2


def test_checkpoint_records_how_the_dataset_was_built(subset, tmp_path):
    """`complete` reads SVG inputs with the dataset's own epsilon and size, so the checkpoint must carry them."""
    train(subset, tmp_path / "run", hps=_hps(), options=_options(2))
    settings = read_checkpoint(tmp_path / "run" / "latest.pt")["spec"]["settings"]
    assert settings == {"epsilon": 1.5, "size": 256.0}


def test_init_or_resume_on_images_of_another_size_is_one_clear_error(digits_npz, tmp_path):
    """A DRAW model of 8x8 digits started (--init) or continued (--resume --new-dataset) on 16x16 images was an
    internal error ("The size of tensor a (16) must match the size of tensor b (8)") at its first step."""
    from sketchtool.images import load_image_dataset, save_image_dataset

    digits = load_image_dataset(digits_npz)
    big = tmp_path / "big.npz"
    save_image_dataset(big, dataclasses.replace(digits, splits={k: v.repeat(2, 1).repeat(2, 2)
                                                                for k, v in digits.splits.items()}, meta={}))
    hps = resolve_hparams("draw", overrides={"T": 2, "enc_size": 8, "dec_size": 8, "z_size": 2, "batch_size": 8})
    train(digits_npz, tmp_path / "run", model="draw", hps=hps, options=_options(1))
    with pytest.raises(SketchtoolError, match="holds 16x16 images; the model reads 8x8"):
        train(big, tmp_path / "tuned", options=_options(1, init=str(tmp_path / "run")))
    assert not (tmp_path / "tuned").exists()
    with pytest.raises(SketchtoolError, match="holds 16x16 images; the model reads 8x8"):
        train(big, tmp_path / "run", resume=True, options=_options(2, new_dataset=True))


def test_hparams_of_another_model_are_one_line_naming_the_model_they_fit(subset, tmp_path):
    """train(data, run, hps=resolve_hparams("draw")) left model at sketch-rnn: an AttributeError deep in fit_data."""
    with pytest.raises(SketchtoolError, match="hps are draw's hparams, but the model is 'sketch-rnn'; pass "
                                              "model='draw'"):
        train(subset, tmp_path / "run", hps=resolve_hparams("draw"), options=TrainOptions(steps=1, save_every=1))
    assert not (tmp_path / "run").exists()  # a run that never started leaves nothing behind
