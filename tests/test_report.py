"""The cross-validation report on hand-made trials: pooled scores, the spread over trials, its files."""

import json

import numpy as np
import pytest

from conftest import hand_made_trial
from mclnn.train.evaluate.report import write_report
from mclnn.train.trial_files import TrialPaths, TrialReport

SETTINGS = {"model": {"hidden": [4]}, "training": {"seed": 3}}


@pytest.fixture
def trials():
    # Trial 1 gets both its clips right, trial 2 one of its two: pooled 3 of 4.
    return [hand_made_trial(1, [(0, 0, [0.9, 0.1]), (1, 1, [0.3, 0.7])], best_epoch=4),
            hand_made_trial(2, [(2, 0, [0.6, 0.4]), (3, 1, [0.8, 0.2])], best_epoch=2)]


def test_pooled_scores_and_spread_over_trials(trials, tmp_path):
    report = write_report(trials, dataset="toy", k=4, class_names=["a", "b"], folder=tmp_path, model="mclnn",
                          settings=SETTINGS)
    assert report.pooled["mean_probability_accuracy"] == 0.75
    assert report.pooled["confusion_mean_probability"] == [[2, 0], [1, 1]]
    spread = report.over_trials["mean_probability_accuracy"]
    assert spread["mean"] == 0.75 and spread["std"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert report.seed == 3 and report.trials_finished == [1, 2]
    assert report.trials == trials  # clips included
    written = json.loads((tmp_path / "report.json").read_text())
    assert written == report.as_json()
    assert written["trials"][0] == trials[0].summary() and "clips" not in written["trials"][0]
    assert written["trials_finished"] == [1, 2] and written["created"] == report.created
    # A rerun with nothing changed leaves report.json alone and says when it was written.
    again = write_report(trials, dataset="toy", k=4, class_names=["a", "b"], folder=tmp_path, model="mclnn",
                         settings=SETTINGS)
    assert again == report and (tmp_path / "report.json").read_text() == json.dumps(written, indent=1) + "\n"
    markdown = (tmp_path / "report.md").read_text()
    assert "| 1 | 1 | 2 | 4 (4) |" in markdown and "| **pooled** |" in markdown and "**0.7500**" in markdown
    assert (tmp_path / "confusion_mean_probability.png").is_file()
    assert (tmp_path / "confusion_majority.png").is_file()


def test_curves_for_reported_trials_and_stale_pictures_removed(trials, tmp_path):
    for trial in trials:
        paths = TrialPaths.of(tmp_path, trial.trial)
        paths.folder.mkdir()
        paths.history.write_text(json.dumps({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
                                             "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.6]}))
    stale = tmp_path / "trial_03_curves.png"
    stale.write_bytes(b"from an earlier run")
    write_report(trials, dataset="toy", k=4, class_names=["a", "b"], folder=tmp_path, model="mclnn", settings=SETTINGS)
    assert (tmp_path / "trial_01_curves.png").is_file() and (tmp_path / "trial_02_curves.png").is_file()
    assert not stale.exists()


def test_trial_report_round_trips_and_other_layouts_read_as_none(trials, tmp_path):
    path = tmp_path / "report.json"
    trials[0].write(path)
    assert TrialReport.read(path) == trials[0]
    path.write_text(json.dumps({"trial": 1, "scores": {}}))  # an older or foreign report.json
    assert TrialReport.read(path) is None
    assert TrialReport.read(tmp_path / "missing.json") is None
