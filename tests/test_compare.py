"""``mclnn compare`` on hand-made runs: known differences, a planted difference inside its interval,
McNemar's exact test, several seeds, and refusal of runs that scored other clips."""

import dataclasses
import math

import numpy as np
import pytest

from conftest import hand_made_trial
from mclnn.errors import DatasetError, ParameterError
from mclnn.train.evaluate.compare import compare_runs, comparison_markdown, mcnemar_exact, read_run
from mclnn.train.trial_files import TrialPaths, TrialReport


def _write_run(folder, right_per_trial, *, seed=0, labels=None):
    """A weights folder whose trial n holds len(right) two-class clips, right where ``right`` says."""
    start = 0
    for number, right in enumerate(right_per_trial, start=1):
        clips = []
        for offset, correct in enumerate(right):
            label = labels[start + offset] if labels is not None else (start + offset) % 2
            probability = 0.8 if correct else 0.2  # of the true class
            clips.append((start + offset, label, [probability, 1 - probability] if label == 0 else
                          [1 - probability, probability]))
        report = hand_made_trial(number, clips)
        report = dataclasses.replace(report, settings={"model": {}, "training": {"seed": seed}})
        paths = TrialPaths.of(folder, number)
        paths.folder.mkdir(parents=True, exist_ok=True)
        report.write(paths.report)
        start += len(right)
    return folder


def test_known_differences_per_trial_and_pooled(tmp_path):
    a = _write_run(tmp_path / "a", [[1, 1, 0, 0], [1, 1, 1, 1]])
    b = _write_run(tmp_path / "b", [[1, 1, 1, 1], [1, 1, 1, 0]])
    (a / "report.json").write_text('{"class_names": ["even", "odd"]}')
    comparison = compare_runs(read_run(a), read_run(b))
    first, second = comparison["trials"]
    assert (first["accuracy_a"], first["accuracy_b"], first["difference"]) == (0.5, 1.0, 0.5)
    assert (first["only_a_right"], first["only_b_right"]) == (0, 2)
    assert (second["only_a_right"], second["only_b_right"]) == (1, 0)
    pooled = comparison["pooled"]
    assert pooled["clips"] == 8 and pooled["difference"] == pytest.approx(0.875 - 0.75)
    assert pooled["p_value"] == pytest.approx(1.0)  # 2 against 1: 2 * P(X <= 1 | n=3) = 1
    # Clip 2 (even) and 3 (odd) turned right, clip 7 (odd) wrong.
    assert comparison["classes_moved"] == [{"class": "even", "clips": 4, "accuracy_a": 0.75, "accuracy_b": 1.0}]
    markdown = comparison_markdown(comparison)
    assert "| **pooled** | - | - | 8 | 0.7500 | 0.8750 | +0.1250 |" in markdown and "| even | 4 |" in markdown


def test_mcnemar_exact_against_the_binomial():
    assert mcnemar_exact(0, 5) == pytest.approx(2 * 0.5**5)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 2) == pytest.approx(2 * sum(math.comb(12, k) for k in range(3)) / 2**12)


def test_the_interval_contains_a_planted_difference(tmp_path):
    rng = np.random.default_rng(3)
    a_right = rng.random(400) < 0.6
    b_right = a_right | (rng.random(400) < 0.5)  # B fixes about half of A's errors: about +0.2
    a = _write_run(tmp_path / "a", [a_right[:200].tolist(), a_right[200:].tolist()])
    b = _write_run(tmp_path / "b", [b_right[:200].tolist(), b_right[200:].tolist()])
    pooled = compare_runs(read_run(a), read_run(b))["pooled"]
    planted = b_right.mean() - a_right.mean()
    low, high = pooled["interval_95"]
    assert pooled["difference"] == pytest.approx(planted)
    assert 0 < low < planted < high and high - low < 0.2
    assert pooled["only_a_right"] == 0 and pooled["p_value"] < 1e-6
    same = compare_runs(read_run(a), read_run(a))["pooled"]
    assert same["interval_95"] == [0.0, 0.0] and same["p_value"] == 1.0


def test_a_run_of_several_seeds_is_their_mean_and_its_ensemble(tmp_path):
    rng = np.random.default_rng(5)
    truth = rng.random(200) < 0.7
    for seed in range(3):  # seeds that disagree on 20% of the clips
        flips = rng.random(200) < 0.2
        _write_run(tmp_path / "a" / f"seed_{seed}", [(truth ^ flips).tolist()], seed=seed)
    _write_run(tmp_path / "b", [truth.tolist()])
    run = read_run(tmp_path / "a")
    assert run.seeds == [0, 1, 2] and run.trial_numbers == [1]
    comparison = compare_runs(run, read_run(tmp_path / "b"))
    with_seeds = comparison["pooled"]
    rights = [np.mean([clip["mean_probabilities"][clip["label"]] > 0.5 for clip in run.trials[seed][1].clips])
              for seed in range(3)]
    assert with_seeds["accuracy_a"] == pytest.approx(np.mean(rights))
    assert comparison["seeds_a"] == [0, 1, 2] and comparison["seeds_b"] == [0]
    assert with_seeds["interval_95"][0] <= with_seeds["difference"] <= with_seeds["interval_95"][1]
    # The ensemble of the seeds (probabilities averaged) decides McNemar's clips.
    ensemble = np.mean([[clip["mean_probabilities"][clip["label"]] for clip in run.trials[seed][1].clips]
                        for seed in range(3)], axis=0) > 0.5
    assert with_seeds["only_a_right"] == int(np.sum(ensemble & ~truth))
    assert with_seeds["only_b_right"] == int(np.sum(~ensemble & truth))


def test_the_same_clips_at_other_dataset_positions_are_compared(tmp_path):
    """A Dataset.hdf5 with augmented variants holds the original clips at other positions."""
    plain = _write_run(tmp_path / "plain", [[1, 0, 1, 0]])
    augmented = tmp_path / "augmented"
    report = TrialReport.read(TrialPaths.of(plain, 1).report)
    moved = [dict(clip, index=13 * clip["index"]) for clip in report.clips]
    moved[1]["mean_probabilities"] = moved[1]["mean_probabilities"][::-1]  # clip1.wav now right
    TrialPaths.of(augmented, 1).folder.mkdir(parents=True)
    dataclasses.replace(report, clips=moved).write(TrialPaths.of(augmented, 1).report)
    comparison = compare_runs(read_run(plain), read_run(augmented))
    assert comparison["pooled"]["difference"] == pytest.approx(0.25)


def test_runs_of_other_clips_or_folds_are_refused(tmp_path):
    a = _write_run(tmp_path / "a", [[1, 0, 1, 0]])
    other_labels = _write_run(tmp_path / "b", [[1, 0, 1, 0]], labels=[1, 1, 0, 0])
    with pytest.raises(ParameterError, match="trial 1 of .*b .*scored other clips than"):
        compare_runs(read_run(a), read_run(other_labels))
    on_validation = _write_run(tmp_path / "v", [[1, 0, 1, 0]])
    report = TrialReport.read(TrialPaths.of(on_validation, 1).report)
    dataclasses.replace(report, evaluated_on="validation").write(TrialPaths.of(on_validation, 1).report)
    with pytest.raises(ParameterError, match="both on test or both on validation"):
        compare_runs(read_run(a), read_run(on_validation))
    no_common = _write_run(tmp_path / "c", [[1], [1]])
    (TrialPaths.of(no_common, 1).report).unlink()
    with pytest.raises(ParameterError, match="no finished trial in common"):
        compare_runs(read_run(a), read_run(no_common))
    with pytest.raises(DatasetError, match="no finished trial here"):
        read_run(tmp_path / "empty")


def test_drawing_recordings_widens_the_interval_of_a_difference_made_by_whole_recordings(tmp_path):
    # 20 recordings of 10 clips (clip0-9.wav, clip10-19.wav, ...): B gets 5 whole recordings right that A gets wrong.
    a_right = np.ones(200, bool)
    a_right[[index for recording in (1, 6, 11, 16, 18) for index in range(recording * 10, recording * 10 + 10)]] = False
    a = _write_run(tmp_path / "a", [a_right.tolist()])
    b = _write_run(tmp_path / "b", [[True] * 200])
    by_clip = compare_runs(read_run(a), read_run(b))
    by_recording = compare_runs(read_run(a), read_run(b), recording=r"clip(\d*)\d\.wav")
    assert by_clip["pooled"]["difference"] == by_recording["pooled"]["difference"] == 0.25
    (clip_low, clip_high), (low, high) = by_clip["pooled"]["interval_95"], by_recording["pooled"]["interval_95"]
    assert low <= 0.25 <= high and clip_low <= 0.25 <= clip_high
    assert high - low > 2 * (clip_high - clip_low)  # 5 of 20 draws, not 50 of 200
    assert by_recording["recording"] == r"clip(\d*)\d\.wav" and by_clip["recording"] is None
    assert "resamples of recordings, each with all its clips" in comparison_markdown(by_recording)
    with pytest.raises(ParameterError, match=r"--recording 'clip\(' is not a regular expression"):
        compare_runs(read_run(a), read_run(b), recording="clip(")
    with pytest.raises(ParameterError, match=r"--recording 'take-\\d' does not match the clip clip0.wav"):
        compare_runs(read_run(a), read_run(b), recording=r"take-\d")
