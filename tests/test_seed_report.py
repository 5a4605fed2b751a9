import json

import numpy as np
import pytest

from conftest import hand_made_trial
from mclnn.train.evaluate.seed_report import write_seeds_report


def trial(number, clips):
    return hand_made_trial(number, clips)


def test_seeds_mean_spread_and_ensemble_on_hand_made_clips(tmp_path):
    # Four clips over two trials; seed 0 gets clips 0, 1, 2 right, seed 1 gets 0, 1, 3 right.
    seed_trials = {
        0: [trial(1, [(0, 0, [0.9, 0.1]), (1, 1, [0.4, 0.6])]), trial(2, [(2, 0, [0.55, 0.45]), (3, 1, [0.8, 0.2])])],
        1: [trial(2, [(2, 0, [0.3, 0.7]), (3, 1, [0.35, 0.65])]), trial(1, [(0, 0, [0.7, 0.3]), (1, 1, [0.2, 0.8])])],
    }
    report = write_seeds_report(seed_trials, dataset="toy", model="mclnn", k=4, class_names=["a", "b"],
                                folder=tmp_path)
    assert [row["mean_probability_accuracy"] for row in report.per_seed] == [0.75, 0.75]
    assert report.mean == 0.75 and report.std == 0.0
    # Ensemble: clip 2 averages to [0.425, 0.575] (wrong), clip 3 to [0.575, 0.425] (wrong).
    assert report.ensemble["mean_probability_accuracy"] == 0.5
    assert report.ensemble["confusion"] == [[1, 1], [1, 1]]
    # Per clip, the share of seeds right is 1, 1, 0.5, 0.5: a resample of 4 clips averages 0.5 at
    # worst and 1 at best, and each of those happens with chance 1/16, more than the 2.5% tails.
    assert report.bootstrap_95 == [0.5, 1.0]
    # The ensemble is right on clips 0 and 1 only: its resamples reach 0 and 1 the same way.
    assert report.ensemble["bootstrap_95"] == [0.0, 1.0]
    assert json.loads((tmp_path / "report_seeds.json").read_text()) == report.as_json()
    assert "Mean over seeds: **0.7500** ± 0.0000" in (tmp_path / "report_seeds.md").read_text()
    assert (tmp_path / "confusion_ensemble.png").is_file()


def test_only_trials_every_seed_finished_count(tmp_path):
    seed_trials = {0: [trial(1, [(0, 0, [0.9, 0.1])]), trial(2, [(1, 1, [0.9, 0.1])])],
                   1: [trial(1, [(0, 0, [0.2, 0.8])])]}
    report = write_seeds_report(seed_trials, dataset="toy", model="mclnn", k=4, class_names=["a", "b"],
                                folder=tmp_path)
    assert report.trials == [1] and report.clips == 1
    assert [row["mean_probability_accuracy"] for row in report.per_seed] == [1.0, 0.0]
    assert report.std == pytest.approx(np.std([1.0, 0.0], ddof=1))
