"""sketchtool.score: the Fréchet distance against closed forms, precision/recall on constructed sets, stroke
statistics, and the whole report on real sheep (a set against itself, scribbles, the floor, determinism)."""

from __future__ import annotations

import numpy as np
import pytest

from sketchtool.errors import SketchtoolError
from sketchtool.score import (ScoreOptions, frechet_distance, gaussian_stats, noise_images, precision_recall,
                              score_samples, scribbles, stroke_statistics, wasserstein_1d)


def test_frechet_distance_of_one_dimensional_gaussians_is_the_closed_form():
    # W2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2
    got = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[0.25]]))
    assert got == pytest.approx(9 + (2 - 0.5) ** 2, rel=1e-12)


def test_frechet_distance_of_non_commuting_covariances_matches_the_matrix_square_root():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    # the textbook formula with a general (complex) matrix square root of S1 S2, computed independently
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy_linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_of_sampled_gaussians_approaches_the_population_value():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, size=(20000, 3))
    y = rng.normal(0.5, 2, size=(20000, 3))
    # three independent dimensions: 3 * (0.5^2 + (2 - 1)^2)
    assert frechet_distance(*gaussian_stats(x), *gaussian_stats(y)) == pytest.approx(3 * 1.25, rel=0.05)


def test_precision_and_recall_of_a_set_against_itself_are_one():
    x = np.random.default_rng(2).normal(size=(200, 8))
    assert precision_recall(x, x, k=3) == (1.0, 1.0)


def test_a_model_covering_one_of_two_modes_has_full_precision_and_half_recall():
    rng = np.random.default_rng(3)
    real = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(50, 1, (500, 2))])
    fake = rng.normal(0, 1, (1000, 2))  # every fake is a plausible real, but only one mode is drawn
    precision, recall = precision_recall(real, fake, k=3)
    assert precision > 0.95
    assert 0.45 < recall < 0.55


def test_samples_far_from_the_data_have_no_precision_and_no_recall():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(0, 1, (300, 4)), rng.normal(100, 1, (300, 4))
    assert precision_recall(real, fake) == (0.0, 0.0)


def test_precision_recall_needs_more_points_than_neighbours():
    with pytest.raises(SketchtoolError, match="more than 3"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)


def test_wasserstein_1d_is_the_shift_between_shifted_samples():
    a = np.arange(100.0)
    assert wasserstein_1d(a, a + 7) == pytest.approx(7)
    assert wasserstein_1d(a, np.arange(0.0, 100.0, 0.5) + 3) == pytest.approx(3, abs=0.3)


def test_stroke_statistics_count_drawings_that_hit_the_cap():
    short = np.array([[1, 0, 0], [0, 1, 1]] * 5, dtype=float)  # 10 points, 5 strokes
    long = np.array([[1, 0, 0]] * 19 + [[0, 1, 1]], dtype=float)  # 20 points: the cap
    stats = stroke_statistics([short, short, short, long], [short] * 4, max_length=20)
    assert stats["ended_by_itself"] == 0.75
    assert stats["points_distance"] == pytest.approx(2.5)
    assert stats["strokes_median"] == 5 and stats["reference_strokes_median"] == 5
    assert "ended_by_itself" not in stroke_statistics([short], [short])


def test_scribbles_match_the_reference_lengths_and_steps_but_are_new():
    rng = np.random.default_rng(5)
    reference = [rng.integers(-20, 20, size=(int(n), 3)) % [41, 41, 2] - [20, 20, 0]
                 for n in rng.integers(10, 60, 300)]
    made = scribbles(reference, 300, np.random.default_rng(0))
    assert wasserstein_1d([len(d) for d in made], [len(d) for d in reference]) < 3
    assert all(d[-1, 2] == 1 for d in made)
    rows = np.concatenate(reference)
    assert np.abs(np.concatenate(made)[:, :2]).max() <= np.abs(rows[:, :2]).max()


def test_noise_images_follow_the_mean_ink_per_pixel():
    reference = np.zeros((50, 4, 4), dtype=np.float32)
    reference[:, 0, 0] = 1
    made = noise_images(reference, 20, np.random.default_rng(0))
    assert made.shape == (20, 4, 4) and made[:, 0, 0].all() and not made[:, 1:, 1:].any()


@pytest.fixture(scope="module")
def sheep(sheep_path):
    from sketchtool.formats.npz import load_dataset

    return load_dataset(sheep_path)


@pytest.fixture(scope="module")
def judge():
    from sketchtool.judge import DEFAULT_JUDGE, load_judge

    if not DEFAULT_JUDGE.is_file():
        pytest.skip(f"needs the shipped judge weights {DEFAULT_JUDGE}")
    return load_judge()


def test_the_test_split_against_itself_scores_perfectly_and_scribbles_far_worse(sheep, judge):
    test = sheep.splits["test"]
    report = score_samples(test, test, sheep.splits["train"], judge, ScoreOptions(max_length=250))
    own, floor, baseline = report["samples"], report["floor"], report["baseline"]
    assert report["intended"] == "sheep"
    assert own["frechet"] == pytest.approx(0, abs=1e-6)
    assert own["precision"] == 1.0 and own["recall"] == 1.0
    assert own["strokes"]["points_distance"] == 0
    assert own["strokes"]["ended_by_itself"] > 0.99  # one test drawing has exactly 250 points
    # train drawings are new but from the same distribution; scribbles have the data's steps and lengths only
    assert 0 < floor["frechet"] < baseline["frechet"] / 10
    assert floor["precision"] > 0.6 and floor["recall"] > 0.6
    assert baseline["precision"] < floor["precision"] - 0.2 and baseline["recognition"] < 0.2
    assert floor["recognition"] > 0.9
    assert baseline["strokes"]["points_distance"] < 10  # the baseline is no worse on lengths: the judge is needed


def test_the_report_is_identical_across_runs(sheep, judge):
    samples = sheep.splits["valid"]
    first = score_samples(samples, sheep.splits["test"], sheep.splits["train"], judge, ScoreOptions(seed=3))
    again = score_samples(samples, sheep.splits["test"], sheep.splits["train"], judge, ScoreOptions(seed=3))
    assert first == again
    other = score_samples(samples, sheep.splits["test"], sheep.splits["train"], judge, ScoreOptions(seed=4))
    assert other["samples"] == first["samples"] and other["floor"] != first["floor"]


def test_image_samples_are_scored_against_images(digits_npz, judge):
    from sketchtool.images import load_image_dataset

    ds = load_image_dataset(digits_npz)
    test, train = ds.images("test"), ds.images("train")
    report = score_samples(test, test, train, judge)
    assert report["samples"]["frechet"] == pytest.approx(0, abs=1e-6)
    assert report["baseline"]["frechet"] > report["floor"]["frechet"]
    assert "strokes" not in report["samples"]


def test_too_few_samples_are_refused(sheep, judge):
    with pytest.raises(SketchtoolError, match="at least 10"):
        score_samples(sheep.splits["test"][:5], sheep.splits["test"], sheep.splits["train"], judge)
    with pytest.raises(SketchtoolError, match="knows"):
        score_samples(sheep.splits["test"], sheep.splits["test"], sheep.splits["train"], judge,
                      ScoreOptions(intended="cats"))


def test_score_command_prints_the_three_rows_and_writes_the_report(sheep, sheep_path, judge, tmp_path):
    import json

    from click.testing import CliRunner

    from sketchtool.cli import cli
    from sketchtool.formats.npz import save_drawings

    save_drawings(tmp_path / "samples.npz", sheep.splits["valid"])
    args = ["score", str(tmp_path / "samples.npz"), "--ref", f"{sheep_path}:test", "--max-length", "250",
            "--json", str(tmp_path / "report.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["samples", "floor", "baseline"]
    report = json.loads((tmp_path / "report.json").read_text())
    expected = score_samples(sheep.splits["valid"], sheep.splits["test"], sheep.splits["train"], judge,
                             ScoreOptions(max_length=250))
    assert report["samples"] == json.loads(json.dumps(expected["samples"]))
    assert report["inputs"]["ref"].endswith(":test") and report["intended"] == "sheep"
    assert report["warnings"] == [] and "Warning" not in result.output
    assert CliRunner().invoke(cli, args).exit_code != 0  # the report exists: --force to replace it
    result = CliRunner().invoke(cli, [*args, "--force", "--n", "5", "--temperature", "9"])  # were ignored
    assert result.exit_code == 1 and "--n, --temperature: for sampling with --model" in result.output
    import shutil

    from sketchtool.judge import DEFAULT_JUDGE

    own_judge = shutil.copy(DEFAULT_JUDGE, tmp_path / "judge.json")  # a judge named like a report is still an input
    result = CliRunner().invoke(cli, [*args[:-1], str(own_judge), "--judge", str(own_judge), "--force"])
    assert result.exit_code == 1 and "overwrite" in result.output
    assert (tmp_path / "judge.json").read_bytes() == DEFAULT_JUDGE.read_bytes()


def test_a_small_reference_and_a_short_floor_are_warned_of(sheep, judge):
    """A personal dataset's 8 test drawings gave Fréchet distances in the thousands, read as figures."""
    report = score_samples(sheep.splits["valid"][:200], sheep.splits["test"][:8], sheep.splits["train"][:150], judge)
    assert report["floor_n"] == 150 and len(report["warnings"]) == 2
    assert "the reference split has 8 drawings, under 100" in report["warnings"][0]
    assert "the floor has 150 train drawings, fewer than the 200 samples" in report["warnings"][1]


def test_k_as_large_as_a_set_is_refused(sheep, judge):
    """--k 10 with 10 samples printed every figure as "-" and exited 0."""
    with pytest.raises(SketchtoolError, match="10 samples: precision and recall with --k 10 need more than 10"):
        score_samples(sheep.splits["valid"][:10], sheep.splits["test"], sheep.splits["train"], judge,
                      ScoreOptions(k=10))
    with pytest.raises(SketchtoolError, match="a reference split of 5 drawings: precision and recall with --k 5"):
        score_samples(sheep.splits["valid"][:20], sheep.splits["test"][:5], sheep.splits["train"], judge,
                      ScoreOptions(k=5))


def test_score_command_samples_a_model_first(tiny_model, sheep_path, judge, tmp_path):
    import json

    from click.testing import CliRunner

    from sketchtool.cli import cli

    args = ["score", "--model", str(tiny_model), "--n", "12", "--seed", "5", "--ref", f"{sheep_path}:test",
            "--json", str(tmp_path / "r.json")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n"] == 12 and report["inputs"]["max_length"] == 64
    assert 0 <= report["samples"]["strokes"]["ended_by_itself"] <= 1
    before = (tiny_model / "run.json").read_bytes()  # a report over the sampled run's own files: refused, --force or not
    args[-1] = str(tiny_model / "run.json")
    result = CliRunner().invoke(cli, [*args, "--force"])
    assert result.exit_code == 1 and "a file in the input folder" in result.output
    assert (tiny_model / "run.json").read_bytes() == before


def test_sets_beyond_the_bound_are_refused_before_any_work():
    from sketchtool.score import MAX_SAMPLES

    many = [np.array([[1.0, 0, 1]])] * (MAX_SAMPLES + 1)
    with pytest.raises(SketchtoolError, match="at most"):
        score_samples(many, many[:20], many[:20], judge=None)
    with pytest.raises(SketchtoolError, match="at most"):
        score_samples(many[:20], many, many[:20], judge=None)


@pytest.mark.parametrize("n", ["5", "25000"])
def test_score_command_refuses_a_sample_count_out_of_bounds_before_sampling(tiny_model, sheep_path, tmp_path, n):
    """--n 25000 sampled every drawing before 'at most 20,000'; the missing --judge, read before sampling, shows
    the order."""
    from click.testing import CliRunner

    from sketchtool.cli import cli

    result = CliRunner().invoke(cli, ["score", "--model", str(tiny_model), "--n", n, "--ref", f"{sheep_path}:test",
                                      "--judge", str(tmp_path / "missing.pt")])
    assert result.exit_code == 1 and result.output.startswith(f"Error: --n {n}: score needs 10 to 20,000 samples")
    assert len(result.output.strip().splitlines()) == 1


def test_score_command_refuses_a_length_cap_for_images_and_says_the_sample_range(digits_npz):
    """--max-length changed nothing for images and was taken without a word."""
    from click.testing import CliRunner

    from sketchtool.cli import cli
    from sketchtool.score import MAX_SAMPLES, MIN_SAMPLES

    result = CliRunner().invoke(cli, ["score", f"{digits_npz}:test", "--ref", f"{digits_npz}:test", "--max-length", "5"])
    assert result.exit_code == 1 and "images have no length" in result.output, result.output
    assert f"({MIN_SAMPLES} to {MAX_SAMPLES:,})" in CliRunner().invoke(cli, ["score", "--help"]).output


def test_precision_recall_in_chunks_equals_the_whole_matrix():
    from sketchtool import score

    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(2500, 3)), rng.normal(0.3, 1, size=(2100, 3))
    radii = np.sort(score._distances(real, real), axis=1)[:, 3]
    whole = float((score._distances(fake, real) <= radii[None, :]).any(axis=1).mean())
    assert precision_recall(real, fake)[0] == whole
