"""One trial on its own: trained, scored on its test fold, its folder written; re-scored with evaluate_only."""

import time

from mclnn import load_dataset
from mclnn.config import load_config
from mclnn.folds import read_folds_manifest
from mclnn.folds.fold_files import read_trial_indices
from mclnn.preprocess.transform import dataset_path
from mclnn.train.evaluate.scorer import Scorer
from mclnn.train.model.kinds import model_kind
from mclnn.train.run import trial as trial_module
from mclnn.train.run.trial import run_trial
from mclnn.train.trial_files import ModelInfo, TrialPaths, TrialReport, recorded_settings


def test_a_trial_scores_its_test_fold_and_writes_its_folder(toy_folds, tmp_path, monkeypatch):
    # The clock jumps an hour when training returns, so evaluate_seconds under an hour leaves the training out.
    hours, real_clock, train = [0.0], time.perf_counter, trial_module.train_trial
    monkeypatch.setattr(trial_module.time, "perf_counter", lambda: real_clock() + hours[0])

    def train_for_an_hour(*args, **kwargs):
        state = train(*args, **kwargs)
        hours[0] += 3600.0
        return state

    monkeypatch.setattr(trial_module, "train_trial", train_for_an_hour)
    config = load_config("toy", overrides=["training.epochs=3"])
    kind = model_kind(config)
    entry = read_folds_manifest(toy_folds, "toy", 4)["trials"][1]
    paths = TrialPaths.of(tmp_path / "weights", entry["trial"])
    common = dict(run_hash="run", model_hash="model", settings=recorded_settings(config.model, config.training),
                  pictures=True, out_dir=toy_folds)
    with load_dataset(dataset_path(toy_folds)) as dataset:
        scorer = Scorer(kind.scoring)
        report = run_trial(config, kind, scorer, dataset, entry, paths, evaluate_only=False, **common)
        tested = read_trial_indices(toy_folds / entry["files"]["test"], dataset)
        again = run_trial(config, kind, scorer, dataset, entry, paths, evaluate_only=True, **common)
    assert (report.trial, report.test_fold, report.validation_fold) == (2, entry["test_fold"], entry["validation_fold"])
    assert sorted(clip["index"] for clip in report.clips) == sorted(tested.tolist())
    assert report.epochs_run == 3 and report.model == "mclnn" and report.training_mode == "clip"
    assert 0 < report.evaluate_seconds < 3600 and 0 < again.evaluate_seconds < 3600
    assert TrialReport.read(paths.report) == again
    assert (again.scores, again.clips) == (report.scores, report.clips)
    info = ModelInfo.read(paths.info)
    assert info.scoring == kind.scoring and info.class_names == list(dataset.class_names)
    assert not paths.checkpoint.exists()
    assert (tmp_path / "weights" / "trial_02_layer0_weights.png").is_file()
