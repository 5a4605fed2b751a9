"""Each stage killed (SIGKILL) at each of its renames: the previous outputs stay whole and usable,
and a rerun gives what an uninterrupted run gives."""

import json
import shutil

import h5py
import numpy as np
import pytest

from conftest import TINY_FEATURES
from faults import count_replaces, run_killed_after, run_killed_at_replace
from mclnn import load_dataset
from mclnn.folds import read_folds_manifest
from mclnn.folds.fold_files import read_trial_indices, read_trial_statistics

TINY = [option for setting in TINY_FEATURES for option in ("--set", setting)]


def _folds_content(out, k):
    """What a trial reads of the folds in force: every trial's indices and statistics."""
    manifest = read_folds_manifest(out, "toy", k)
    with load_dataset(out / "Dataset.hdf5") as dataset:
        return [(read_trial_indices(out / entry["files"]["train"], dataset).tolist(),
                 read_trial_indices(out / entry["files"]["test"], dataset).tolist(),
                 read_trial_statistics(out / entry["files"]["standardization"], dataset.n_features)[0].tolist())
                for entry in manifest["trials"]]


@pytest.mark.slow
def test_folds_killed_at_each_rename_leave_whole_folds_and_rerun_to_the_uninterrupted_ones(tmp_path):
    base = tmp_path / "base"
    environment = {"MCLNN_CACHE": str(tmp_path / "cache")}
    assert run_killed_at_replace(["transform", "toy", "--out", base, *TINY], -1, env=environment).returncode == 0
    assert run_killed_at_replace(["folds", "toy", "--out", base, "--k", 3], -1, env=environment).returncode == 0
    previous = _folds_content(base, 3)

    def remake(out, n):  # other folds of the same k: the set in force must switch whole or not at all
        return run_killed_at_replace(["folds", "toy", "--out", out, "--k", 3, "--seed", 5], n, env=environment)

    uninterrupted = shutil.copytree(base, tmp_path / "whole", symlinks=True)
    assert remake(uninterrupted, -1).returncode == 0
    expected = _folds_content(uninterrupted, 3)
    assert expected != previous
    renames = count_replaces(["folds", "toy", "--out", shutil.copytree(base, tmp_path / "count", symlinks=True),
                              "--k", 3, "--seed", 5], env=environment)
    assert renames >= 2  # the manifest and the links to the set in force
    for n in range(1, renames + 1):
        out = shutil.copytree(base, tmp_path / f"killed{n}", symlinks=True)
        assert remake(out, n).returncode == -9
        assert _folds_content(out, 3) in (previous, expected)
        assert remake(out, -1).returncode == 0
        assert _folds_content(out, 3) == expected
        # Nothing of the killed run is left: one set, no partial or retired folders.
        assert len(list((out / "TOY_folds_3_sets").iterdir())) == 1
        assert not [path for path in out.iterdir() if path.name.startswith(".") and not path.name.endswith(".lock")]


@pytest.mark.slow
def test_transform_killed_at_each_rename_keeps_a_whole_dataset(tmp_path):
    base = tmp_path / "base"
    environment = {"MCLNN_CACHE": str(tmp_path / "cache")}
    first = ["transform", "toy", "--set", *TINY_FEATURES[:1], "--set", TINY_FEATURES[1], "--set", TINY_FEATURES[2]]
    assert run_killed_at_replace([*first, "--out", base], -1, env=environment).returncode == 0
    rebuild = [*first, "--set", "features.n_mels=32"]
    renames = count_replaces([*rebuild, "--out", shutil.copytree(base, tmp_path / "count")], env=environment)
    assert renames >= 2  # Dataset.hdf5 and its storage ordering
    for n in range(1, renames + 1):
        out = shutil.copytree(base, tmp_path / f"killed{n}")
        assert run_killed_at_replace([*rebuild, "--out", out], n, env=environment).returncode == -9
        with load_dataset(out / "Dataset.hdf5") as dataset:  # whole: the old one or the new one
            assert dataset.n_features in (80, 64) and len(dataset) == 40
        assert run_killed_at_replace([*rebuild, "--out", out], -1, env=environment).returncode == 0
        with load_dataset(out / "Dataset.hdf5") as dataset:
            assert dataset.n_features == 64
        assert not list(out.glob(".*partial*"))


@pytest.mark.slow
def test_cv_train_killed_at_each_rename_resumes_to_the_uninterrupted_scores(toy_folds, tmp_path):
    environment = {"MCLNN_CACHE": str(tmp_path / "cache")}
    whole = shutil.copytree(toy_folds, tmp_path / "whole", symlinks=True)
    train = ["cv-train", "toy", "--trial", 2, "--epochs", 3, "--seed", 4]
    assert run_killed_at_replace([*train, "--out", whole], -1, env=environment).returncode == 0
    expected = json.loads((whole / "TOY_folds_4_weights" / "trial_02" / "report.json").read_text())
    renames = count_replaces([*train, "--out", shutil.copytree(toy_folds, tmp_path / "count", symlinks=True)],
                             env=environment)
    rng = np.random.default_rng(11)
    for n in sorted(rng.choice(np.arange(1, renames + 1), size=min(4, renames), replace=False)):
        out = shutil.copytree(toy_folds, tmp_path / f"killed{n}", symlinks=True)
        killed = run_killed_at_replace([*train, "--out", out], int(n), env=environment)
        assert killed.returncode == -9, killed.stderr
        assert run_killed_at_replace([*train, "--out", out], -1, env=environment).returncode == 0
        report = json.loads((out / "TOY_folds_4_weights" / "trial_02" / "report.json").read_text())
        assert report["scores"] == expected["scores"] and report["clips"] == expected["clips"], n
        assert not list((out / "TOY_folds_4_weights" / "trial_02").glob(".*partial*"))
        with h5py.File(out / "Dataset.hdf5"):
            pass


@pytest.mark.slow
def test_folds_and_cv_train_killed_at_random_moments_leave_usable_outputs(toy_folds, tmp_path):
    environment = {"MCLNN_CACHE": str(tmp_path / "cache")}
    previous = _folds_content(toy_folds, 4)
    uninterrupted = shutil.copytree(toy_folds, tmp_path / "whole", symlinks=True)
    remake = ["folds", "toy", "--k", 4, "--seed", 9]
    train = ["cv-train", "toy", "--trial", 1, "--epochs", 3, "--seed", 2]
    for arguments in (remake, train):
        assert run_killed_at_replace([*arguments, "--out", uninterrupted], -1, env=environment).returncode == 0
    expected_folds = _folds_content(uninterrupted, 4)
    expected = json.loads((uninterrupted / "TOY_folds_4_weights" / "trial_01" / "report.json").read_text())
    rng = np.random.default_rng(2026)
    for attempt, seconds in enumerate(rng.uniform(0.5, 6.0, size=3)):
        out = shutil.copytree(toy_folds, tmp_path / f"killed{attempt}", symlinks=True)
        run_killed_after([*remake, "--out", out], seconds, env=environment)
        assert _folds_content(out, 4) in (previous, expected_folds)
        assert run_killed_at_replace([*remake, "--out", out], -1, env=environment).returncode == 0
        run_killed_after([*train, "--out", out], seconds * 2, env=environment)
        assert run_killed_at_replace([*train, "--out", out], -1, env=environment).returncode == 0
        report = json.loads((out / "TOY_folds_4_weights" / "trial_01" / "report.json").read_text())
        assert report["scores"] == expected["scores"], seconds
