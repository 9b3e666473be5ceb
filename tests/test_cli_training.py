"""`sketchtool train`, `eval` and `curves` end to end: one-line errors on bad input, readable output on real data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from sketchtool.cli import cli
from sketchtool.dataset import StrokeDataset
from sketchtool.formats.npz import load_dataset, save_dataset

TINY = "enc_rnn_size=8,dec_rnn_size=16,z_size=4,num_mixture=3,batch_size=8"


@pytest.fixture(scope="module")
def small_dataset(sheep_path, tmp_path_factory):
    full = load_dataset(sheep_path)
    short = {k: [d for d in full.splits[k] if len(d) <= 40][:24] for k in full.splits}
    path = tmp_path_factory.mktemp("cli") / "tiny.npz"
    save_dataset(path, StrokeDataset(splits=short))
    return path


@pytest.fixture(scope="module")
def trained_run(small_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "run"
    result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(run), "--hparams", TINY, "--steps", "4",
                                      "--save-every", "2", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "step 4 (done)" in result.output
    return run


def test_init_fine_tunes_the_embedded_sheep(small_dataset, tmp_path):
    """`train --init sheep`: the embedded model's hparams and units, training from its weights, not from scratch."""
    from sketchtool.checkpoint import read_checkpoint
    from sketchtool.pretrained import EMBEDDED

    def one_step(name, *args):
        result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / name), "--steps", "1",
                                          "--threads", "1", *args])
        assert result.exit_code == 0, result.output
        return read_checkpoint(tmp_path / name / "latest.pt")

    tuned = one_step("tuned", "--init", "sheep", "--hparams", "batch_size=8,learning_rate=0.00001")
    fresh = one_step("fresh", "--preset", "reference", "--hparams", "batch_size=8,learning_rate=0.00001")
    sheep = read_checkpoint(EMBEDDED["sheep"].path)
    assert tuned["spec"]["scale_factor"] == sheep["spec"]["scale_factor"]
    assert tuned["hparams"]["dec_rnn_size"] == sheep["hparams"]["dec_rnn_size"] and tuned["hparams"]["batch_size"] == 8
    assert all(fresh["hparams"][k] == sheep["hparams"][k] for k in ("dec_model", "dec_rnn_size", "enc_rnn_size"))
    # the same shape trained one step from scratch reconstructs far worse
    assert tuned["metrics"]["valid"]["L_R"] < fresh["metrics"]["valid"]["L_R"] - 0.5, (tuned["metrics"], fresh["metrics"])


def test_init_on_a_dataset_with_classes_says_how_to_fine_tune(small_dataset, tmp_path):
    """"start a new run instead" did not say that a dataset built with --labels folder was the obstacle."""
    import numpy as np

    full = load_dataset(small_dataset)
    labels = {k: np.arange(len(v)) % 6 for k, v in full.splits.items()}
    save_dataset(tmp_path / "labelled.npz", StrokeDataset(splits=full.splits, labels=labels,
                                                          class_names=[f"c{i}" for i in range(6)]))
    result = CliRunner().invoke(cli, ["train", str(tmp_path / "labelled.npz"), "-o", str(tmp_path / "r"), "--init",
                                      "sheep", "--steps", "1"])
    _one_line_error(result)
    assert ("its classes (none) differ from the dataset's (6: c0, c1, c2, ...); build the dataset without --labels "
            "folder to fine-tune") in result.output, result.output


def test_train_says_how_many_drawings_are_too_long_for_the_model(small_dataset, tmp_path):
    """`--init kanji` (91 points) on the sheep kept 2,138 of 7,400 drawings and said only "2,138 train"."""
    result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--steps", "1",
                                      "--threads", "1", "--hparams", TINY + ",max_seq_len=32"])
    assert result.exit_code == 0, result.output
    summary = result.output.splitlines()[0]
    assert re.search(r"\d+ train of 24, \d+ valid of \d+ \(the rest are longer than the model takes\)", summary), summary
    data = load_dataset(small_dataset)
    with_empty = tmp_path / "with_empty.npz"  # an empty drawing was counted as too long
    save_dataset(with_empty, StrokeDataset(splits={**data.splits, "train": [*data.splits["train"], np.zeros((0, 3))]}))
    result = CliRunner().invoke(cli, ["train", str(with_empty), "-o", str(tmp_path / "e"), "--steps", "1",
                                      "--threads", "1", "--hparams", TINY])
    assert result.exit_code == 0, result.output
    assert "24 train of 25, 5 valid (the rest are empty)" in result.output.splitlines()[0]


def test_progress_lines_say_which_step_the_validation_figures_are_from(capsys):
    """Each line repeated the last validation as if measured there (step 82 showed step 50's)."""
    from sketchtool.cli import training

    progress = training._TrainProgress()
    progress.tty, progress.last_line = False, float("-inf")
    train = {"loss": 1.0}
    progress({"step": 50, "total": 100, "train": train, "valid": {"loss": 0.5}, "steps_per_s": 2.0})
    progress.last_line = float("-inf")
    progress({"step": 82, "total": 100, "train": train, "valid": {}, "steps_per_s": 2.0})
    first, second = capsys.readouterr().err.splitlines()
    assert "; valid loss 0.500" in first and "; valid (at step 50) loss 0.500" in second


def _one_line_error(result):
    assert result.exit_code != 0
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_train_writes_checkpoints_and_metrics(trained_run):
    assert {p.name for p in trained_run.iterdir()} >= {"latest.pt", "best.pt", "metrics.jsonl", "run.json"}


def test_a_run_stopped_before_validating_says_so_not_inf(small_dataset, tmp_path):
    """--minutes too short for one validation printed "valid not measured; best loss inf"."""
    result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--hparams", TINY,
                                      "--minutes", "1e-9", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "(time); valid not measured; best loss none yet" in result.output and "inf" not in result.output


def test_eval_prints_the_loss_terms(trained_run):
    result = CliRunner().invoke(cli, ["eval", str(trained_run), "--split", "test"])
    assert result.exit_code == 0, result.output
    assert "L_R" in result.output and "L_KL" in result.output and "loss" in result.output
    # which checkpoint of the run was read: a run directory quietly meant best.pt
    assert result.output.splitlines()[0] in (f"{trained_run / 'best.pt'} at step {step}" for step in (2, 4))


def test_eval_takes_the_seeds_sampling_commands_take(trained_run):
    """eval's --seed stopped at 2**63 - 1 where generate's takes torch's whole range."""
    top = CliRunner().invoke(cli, ["eval", str(trained_run), "--split", "test", "--seed", str(2**64 - 1)])
    assert top.exit_code == 0, top.output
    over = CliRunner().invoke(cli, ["eval", str(trained_run), "--split", "test", "--seed", str(2**64)])
    assert over.exit_code != 0 and "--seed" in over.output


def test_eval_finds_the_trained_dataset_beside_the_run_and_refuses_a_changed_one(small_dataset, tmp_path,
                                                                                 monkeypatch):
    """The recorded path is the trainer's working folder's: from elsewhere eval said "not there", and a different
    file of the same name there was scored without a word."""
    import shutil

    (tmp_path / "work").mkdir()
    shutil.copy(small_dataset, tmp_path / "work" / "data.npz")
    monkeypatch.chdir(tmp_path / "work")
    trained = CliRunner().invoke(cli, ["train", "data.npz", "-o", "run", "--hparams", TINY, "--steps", "1",
                                       "--threads", "1"])
    assert trained.exit_code == 0, trained.output
    here = CliRunner().invoke(cli, ["eval", "run", "--split", "test"])
    monkeypatch.chdir(tmp_path)
    full = load_dataset(small_dataset)
    save_dataset(tmp_path / "data.npz", StrokeDataset(splits={k: v[:3] for k, v in full.splits.items()}))
    elsewhere = CliRunner().invoke(cli, ["eval", "work/run", "--split", "test"])  # ./data.npz is another dataset
    assert here.exit_code == 0 and elsewhere.output.splitlines()[-1] == here.output.splitlines()[-1], elsewhere.output
    shutil.copy(tmp_path / "data.npz", tmp_path / "work" / "data.npz")
    changed = CliRunner().invoke(cli, ["eval", "work/run", "--split", "test"])
    assert changed.exit_code == 1 and "not the dataset this model trained on" in changed.output, changed.output


def test_eval_says_how_many_drawings_it_left_out(trained_run, sheep_path):
    """A model of drawings of at most 40 points read a few dozen of the full test split's 300 and said only
    "test (N items)", as if that were the split."""
    result = CliRunner().invoke(cli, ["eval", str(trained_run), "--dataset", str(sheep_path), "--split", "test"])
    assert result.exit_code == 0, result.output
    items = int(result.output.split("(")[1].split(" ")[0])
    assert 0 < items < 300 and f"({items} items of 300; the rest are longer than the model takes)" in result.output


def test_curves_draws_a_png_and_refuses_to_overwrite(trained_run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    result = CliRunner().invoke(cli, ["curves", str(trained_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _one_line_error(CliRunner().invoke(cli, ["curves", str(trained_run), "-o", str(out)]))


def test_curves_never_write_over_the_training_log_through_a_link(tmp_path):
    """--force wrote the picture over metrics.jsonl when the output path was a link to it."""
    pytest.importorskip("matplotlib")
    (tmp_path / "run").mkdir()
    log = b'{"step": 1, "split": "train", "loss": 1.0}\n{"step": 2, "split": "train", "loss": 0.5}\n'
    (tmp_path / "run" / "metrics.jsonl").write_bytes(log)
    (tmp_path / "c.png").symlink_to(tmp_path / "run" / "metrics.jsonl")
    _one_line_error(CliRunner().invoke(cli, ["curves", str(tmp_path / "run"), "-o", str(tmp_path / "c.png"), "--force"]))
    assert (tmp_path / "run" / "metrics.jsonl").read_bytes() == log


def test_curves_skip_a_damaged_line_of_metrics(tmp_path):
    """Bytes that are not UTF-8 (a damaged disk block) were an internal error in curves and in train --resume."""
    pytest.importorskip("matplotlib")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_bytes(b'{"step": 1, "split": "train", "loss": 1.0}\n\xff\xfe\x00\n'
                                                     b'{"step": 2, "split": "train", "loss": 0.5}\n')
    result = CliRunner().invoke(cli, ["curves", str(tmp_path / "run"), "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 0 and (tmp_path / "c.png").is_file(), result.output


@pytest.mark.parametrize("lines", [
    ['{"step": 1, "split": "train", "loss": 1e308}', '{"step": 2, "split": "train", "loss": -1e308}'],
    ['{"step": 1, "split": "train", "loss": 1%s}' % ("0" * 400), '{"step": 2, "split": "train", "loss": 2.0}',
     '{"step": 1%s, "split": "train", "loss": 1.0}' % ("0" * 400), '{"step": 3, "split": "train", "loss": NaN}'],
])
def test_curves_leave_out_values_and_steps_a_plot_cannot_hold(tmp_path, lines):
    """±1e308 together failed in matplotlib (arange: cannot compute length), 10**400 with an OverflowError."""
    pytest.importorskip("matplotlib")
    from sketchtool.train import read_metrics

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert all(r["step"] < 10 for r in read_metrics(tmp_path / "run"))
    result = CliRunner().invoke(cli, ["curves", str(tmp_path / "run"), "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 0 and result.output.splitlines() == [f"Wrote {tmp_path / 'c.png'}"], result.output
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args", [
    ["train", "{missing}", "-o", "{tmp}/r"],
    ["train", "{empty}", "-o", "{tmp}/r"],
    ["train", "{hostile}", "-o", "{tmp}/r"],
    ["train", "{data}", "-o", "{tmp}/r", "--hparams", "no_such=1"],
    ["train", "{data}", "-o", "{tmp}/r", "--hparams", "z_size=big"],
    ["train", "{data}", "-o", "{tmp}/r", "--device", "tpu"],
    ["train", "{data}", "-o", "{tmp}/r", "--hparams", "max_seq_len=3"],
    ["train", "{data}", "-o", "{tmp}/r", "--resume"],
    ["train", "{data}", "-o", "{tmp}/r", "--init", "sheep", "--model", "strokenet-agent"],
    ["train", "{data}", "-o", "{tmp}/r", "--init", "sheep", "--preset", "small"],
    ["train", "{data}", "-o", "{tmp}/r", "--new-dataset"],
    ["eval", "{tmp}"],
    ["eval", "{data}"],
    ["curves", "{tmp}", "-o", "{tmp}/c.png"],
])
def test_bad_input_gives_one_line_error(args, small_dataset, tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    hostile = tmp_path / "hostile.npz"
    hostile.write_bytes(b"PK\x03\x04" + b"\xff" * 64)
    names = {"missing": tmp_path / "missing.npz", "empty": empty, "hostile": hostile, "data": small_dataset,
             "tmp": tmp_path}
    argv = [a.format(**names) for a in args]
    _one_line_error(CliRunner().invoke(cli, argv))


@pytest.mark.parametrize("hparam, message", [
    ("learning_rate=-1", "learning_rate=-1.0: must be > 0"),  # was the optimiser's internal error
    ("decay_rate=nan", "decay_rate=nan: must be a finite number"),  # trained to NaN weights and exit 0
    ("kl_weight=inf", "kl_weight=inf: must be a finite number"),
    ("input_dropout_prob=2", "input_dropout_prob=2.0: must be from 0 to 1"),  # trained without a word
    ("augment_stroke_prob=-1", "augment_stroke_prob=-1.0: must be from 0 to 1"),
    ("grad_clip=-1", "grad_clip=-1.0: must be > 0"),
    ("save_every=0", "save_every=0: must be > 0"),  # was an internal error (integer modulo by zero)
    ("num_steps=-5", "num_steps=-5: must be > 0"),  # trained nothing, validated step 0 and exit 0
    ("kl_tolerance=1e300", "kl_tolerance=1e+300: must be a finite number"),  # float32 overflow: internal error
    ("dec_model=hyper,hyper_num_units=-1", "hyper_num_units=-1: must be at least 1"),  # internal error
    ("class_embedding_size=0", "class_embedding_size=0: must be at least 1"),
    ("dec_model=hyper,hyper_num_units=1e30", "cannot build model 'sketch-rnn'"),  # internal error, C++ stack trace
    ("max_seq_len=-1e400", "max_seq_len='-1e400': expected int"),  # internal error (OverflowError)
    ("dec_model=hyper,hyper_num_units=100000", "parameters, more than the 1,000,000,000"),  # tried 160 GB  # tried to allocate 160 GB: an allocator crash or a swap storm
    ("batch_size=4", "--hparams: batch_size is given twice"),
    ("learning_rate=0.000001", "min_learning_rate=1e-05 is above learning_rate=1e-06"),  # the rate rose tenfold  # TINY's batch_size=8 lost without a word
])
def test_hparams_out_of_range_are_refused_before_a_run_exists(hparam, message, small_dataset, tmp_path):
    result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--hparams",
                                      f"{TINY},{hparam}", "--steps", "2"])
    assert message in _one_line_error(result)
    assert not (tmp_path / "r").exists()


def test_a_config_that_is_a_pipe_is_refused_not_waited_on(small_dataset, tmp_path):
    """`--config FIFO` waited for a writer for ever."""
    os.mkfifo(tmp_path / "hparams.json")
    result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--config",
                                      str(tmp_path / "hparams.json")])
    assert "not a regular file" in _one_line_error(result)
    assert not (tmp_path / "r").exists()


def test_a_missing_model_is_named_as_the_command_takes_it(small_dataset, tmp_path):
    """eval's RUN and train's --init were both reported as "--model NAME"."""
    assert _one_line_error(CliRunner().invoke(cli, ["eval", "nope"])).startswith("Error: model nope: no such run")
    result = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--init", "nope"])
    assert _one_line_error(result).startswith("Error: --init nope: no such run")


def test_help_does_not_import_torch():
    code = "import sys; from sketchtool.cli import cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_resume_takes_the_same_command_and_refuses_a_changed_one(small_dataset, tmp_path):
    """A resumed run keeps its own model and hparams: the first command with --resume added continues it, while
    asking for another hparam or model is refused (and the run left as it was) instead of silently ignored."""
    from sketchtool.checkpoint import read_checkpoint

    def train(*args):
        return CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--hparams", TINY,
                                        "--threads", "1", *args])

    assert train("--steps", "2").exit_code == 0
    (tmp_path / "r" / "run.json").write_text("{damaged")
    assert train("--steps", "3", "--resume", "--preset", "reference").exit_code == 0
    assert read_checkpoint(tmp_path / "r" / "latest.pt")["step"] == 3
    assert json.loads((tmp_path / "r" / "run.json").read_text())["options"]["steps"] == 3  # was the first start's
    # reference is the defaults: on a run of other sizes it is a change (it set nothing, so it passed)
    reference = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--resume",
                                         "--steps", "4", "--preset", "reference"])
    _one_line_error(reference)
    assert "dec_rnn_size=512 (the run has 16)" in reference.output
    changed = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--resume",
                                       "--steps", "4", "--hparams", TINY.replace("batch_size=8", "batch_size=4")])
    _one_line_error(changed)
    assert "batch_size=4 (the run has 8)" in changed.output
    other = CliRunner().invoke(cli, ["train", str(small_dataset), "-o", str(tmp_path / "r"), "--resume",
                                     "--model", "draw"])
    _one_line_error(other)
    assert "--model draw (the run is sketch-rnn)" in other.output
    assert read_checkpoint(tmp_path / "r" / "latest.pt")["step"] == 3


@pytest.mark.parametrize("rank, says", [(None, True), ("0", True), ("1", False)])
def test_a_stop_signal_is_announced_once_under_torchrun(rank, says, monkeypatch, capsys):
    """torchrun passes SIGTERM to every rank; only rank 0 (or a plain run) says it is stopping."""
    import signal
    import threading

    from sketchtool.cli.training import _stop_on_signals

    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", rank)
    stop = threading.Event()
    _stop_on_signals(stop)._handle(signal.SIGTERM, None)
    assert stop.is_set() and ("Stopping after this step" in capsys.readouterr().err) == says
