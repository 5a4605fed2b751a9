import json
import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from mclnn import load_dataset
from mclnn.config import load_config
from mclnn.errors import DatasetError, ParameterError
from mclnn.folds import make_folds, stage
from mclnn.folds.fold_files import folds_manifest_path
from mclnn.folds.standardization import NEAR_ZERO_STD, clip_moments, training_statistics
from mclnn.preprocess.transform import dataset_path, transform_dataset

from conftest import TINY_FEATURES, ESC10_DIR, requires_esc10


@pytest.fixture
def toy_out(toy_source, tiny_config, tmp_path):
    out = tmp_path / "out"
    transform_dataset(tiny_config, source_dir=toy_source, out_dir=out)
    return out


def read_index(path):
    with h5py.File(path, "r") as handle:
        assert handle["index"].dtype == np.int32 and handle["label"].dtype == np.int32
        return handle["index"][()], handle["label"][()]


def test_folds_write_original_names_and_consistent_content(toy_out, tiny_config):
    result = make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3, seed=1)
    manifest = result.manifest
    assert [trial["test_fold"] for trial in manifest["trials"]] == [1, 3, 2]
    assert [trial["validation_fold"] for trial in manifest["trials"]] == [2, 1, 3]
    first = manifest["trials"][0]["files"]
    fold_set = Path(first["test"]).parts[:2]
    assert fold_set[0] == "TOY_folds_3_sets"
    assert first["test"] == f"{Path(*fold_set)}/TOY_folds_3_index/Fold_01of03_TOY_seed1_Test.hdf5"
    assert first["standardization"] == (f"{Path(*fold_set)}/TOY_folds_3_standardization/"
                                        "Fold_01of03_TOY_seed1_TrainParameters.hdf5")
    # The original layout's folder names lead to the set in force, for tools that read them.
    assert (toy_out / "TOY_folds_3_index" / "Fold_01of03_TOY_seed1_Test.hdf5").resolve() == \
        (toy_out / first["test"]).resolve()
    with load_dataset(dataset_path(toy_out)) as dataset:
        tested = []
        for trial in manifest["trials"]:
            subsets = {name: read_index(toy_out / trial["files"][name]) for name in ("train", "validation", "test")}
            for index, label in subsets.values():
                assert np.array_equal(dataset.labels[index], label)
            tested += list(subsets["test"][0])
            # Statistics equal numpy over the concatenated training frames.
            frames = np.concatenate([dataset.features(i) for i in subsets["train"][0]]).astype(np.float64)
            with h5py.File(toy_out / trial["files"]["standardization"], "r") as handle:
                assert handle["mean_vector"].dtype == np.float32
                np.testing.assert_allclose(handle["mean_vector"][()], frames.mean(axis=0), rtol=1e-5, atol=1e-4)
                np.testing.assert_allclose(handle["std_vector"][()], frames.std(axis=0), rtol=1e-5, atol=1e-4)
        assert sorted(tested) == list(range(len(dataset)))
    on_disk = json.loads(folds_manifest_path(toy_out, "toy", 3).read_text())
    assert on_disk["trials"] == manifest["trials"] and on_disk["official_folds"] is False


def test_rerun_up_to_date_and_stale_detection(toy_out, toy_source, tiny_config):
    first = make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    assert not first.up_to_date
    assert "seedNoSeed" in first.manifest["trials"][0]["files"]["train"]
    assert make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3).up_to_date
    changed = load_config("toy", overrides=[*TINY_FEATURES, "features.n_mels=32"])
    transform_dataset(changed, source_dir=toy_source, out_dir=toy_out)
    rerun = make_folds(changed, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    assert not rerun.up_to_date
    with h5py.File(toy_out / rerun.manifest["trials"][0]["files"]["standardization"], "r") as handle:
        assert handle["mean_vector"].shape == (64,)
    (toy_out / rerun.manifest["trials"][1]["files"]["test"]).unlink()
    assert not make_folds(changed, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3).up_to_date


def test_failed_run_leaves_previous_folds(toy_out, tiny_config, monkeypatch):
    first = make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    before = {name: (toy_out / name).read_bytes() for name in first.manifest["trials"][0]["files"].values()}

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "training_statistics", broken)
    with pytest.raises(KeyboardInterrupt):
        make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3, force=True)
    assert {name: (toy_out / name).read_bytes() for name in before} == before
    assert folds_manifest_path(toy_out, "toy", 3).is_file()
    assert not list(toy_out.glob(".*partial*"))


def test_statistics_combine_exactly(rng):
    class Clips:
        frame_counts = np.array([5, 9, 1, 30])
        n_features = 3
        clips = [rng.normal(3, 7, size=(n, 3)).astype(np.float32) for n in frame_counts]
        clips[2][:, 1] = clips[0][0, 1]

        def __len__(self):
            return 4

        def features(self, index):
            return self.clips[index]

    data = Clips()
    data.clips[0][:, 2] = data.clips[1][:, 2] = 4.0  # constant feature in clips 0, 1
    moments = clip_moments(data)
    for train in ([0, 1, 2, 3], [1, 3], [0, 1]):
        frames = np.concatenate([data.clips[i] for i in train]).astype(np.float64)
        mean, std = training_statistics(moments, train)
        expected_std = frames.std(axis=0)
        expected_std[expected_std < NEAR_ZERO_STD] = 1.0
        np.testing.assert_allclose(mean, frames.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(std, expected_std, rtol=1e-5)
    assert training_statistics(moments, [0, 1])[1][2] == 1.0


def test_folds_of_a_reference_layout_file(tmp_path, rng):
    path, ordering = tmp_path / "ref.hdf5", tmp_path / "ref_storage_ordering.txt"
    names = [f"{category}/{fold}-{number}.wav" for category in ("a", "b") for fold in (1, 2, 3)
             for number in range(2)]
    with h5py.File(path, "w") as handle:
        for index in range(len(names)):
            handle.create_dataset(str(index), data=rng.standard_normal((5, 3)).astype(np.float32))
    ordering.write_text("\n".join(names))
    config = load_config("esc10")
    result = make_folds(config, dataset_file=path, out_dir=tmp_path / "out", k=3,
                        reference_layout={"storage_ordering": str(ordering), "fold_pattern": r"^(\d+)-"})
    assert result.manifest["official_folds"] is True
    index, _ = read_index(tmp_path / "out" / result.manifest["trials"][0]["files"]["test"])
    assert [names[i] for i in index] == ["a/1-0.wav", "a/1-1.wav", "b/1-0.wav", "b/1-1.wav"]


@requires_esc10
def test_esc10_trial_sets(tmp_path):
    out = tmp_path / "esc10"
    config = load_config("esc10")
    transform_dataset(config, source_dir=ESC10_DIR, out_dir=out)
    with pytest.raises(ParameterError, match="--k 4 contradicts the dataset's official folds"):
        make_folds(config, dataset_file=dataset_path(out), out_dir=out, k=4)
    manifest = make_folds(config, dataset_file=dataset_path(out), out_dir=out, k=5).manifest
    with load_dataset(dataset_path(out)) as dataset:
        names = [name.split("/")[1] for name in dataset.filenames]

        def prefixes(trial, subset):
            index, labels = read_index(out / manifest["trials"][trial]["files"][subset])
            assert np.bincount(labels, minlength=10).tolist() == [8 * (3 if subset == "train" else 1)] * 10
            return {names[i].split("-")[0] for i in index}

        assert prefixes(0, "test") == {"1"}
        assert prefixes(0, "validation") == {"2"}
        assert prefixes(0, "train") == {"3", "4", "5"}
        assert prefixes(1, "test") == {"5"} and prefixes(1, "validation") == {"1"}
    assert manifest["trials"][1]["files"]["test"].endswith("/ESC10_folds_5_index/Fold_02of05_ESC10_seedNoSeed_Test.hdf5")


def test_copied_folder_stays_up_to_date_and_a_changed_file_is_caught(toy_out, tiny_config, tmp_path, caplog):
    make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    copy = shutil.copytree(toy_out, tmp_path / "copy", copy_function=shutil.copyfile)  # as `cp -r`: new times
    assert make_folds(tiny_config, dataset_file=dataset_path(copy), out_dir=copy, k=3).up_to_date
    with h5py.File(dataset_path(copy), "a") as handle:
        handle["features"][0, 0] += 1.0  # edited by hand
    with caplog.at_level(logging.WARNING, logger="mclnn"):
        assert not make_folds(tiny_config, dataset_file=dataset_path(copy), out_dir=copy, k=3).up_to_date
    assert f"remaking the folds: {dataset_path(copy)} changed since they were made" in caplog.text


@pytest.mark.parametrize("subset", ["test", "standardization"])
def test_a_truncated_fold_file_is_one_line_and_never_up_to_date(toy_out, tiny_config, subset):
    from mclnn.folds.fold_files import read_trial_indices, read_trial_statistics

    first = make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    path = toy_out / first.manifest["trials"][0]["files"][subset]
    path.write_bytes(path.read_bytes()[:100])  # a copy cut short, or a full disk
    with pytest.raises(DatasetError, match=rf"^{path}: unreadable \(.*\); rerun `mclnn folds --force`") as raised:
        if subset == "test":
            with load_dataset(dataset_path(toy_out)) as dataset:
                read_trial_indices(path, dataset)
        else:
            read_trial_statistics(path, 80)
    assert "\n" not in str(raised.value)
    assert not make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3).up_to_date
    assert make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3).up_to_date


@pytest.mark.parametrize("corrupt", [np.nan, 0.0, -1.0, np.inf])
def test_statistics_that_are_not_finite_or_positive_are_refused(toy_out, tiny_config, corrupt):
    from mclnn.folds.fold_files import read_trial_statistics

    first = make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    path = toy_out / first.manifest["trials"][0]["files"]["standardization"]
    with h5py.File(path, "r+") as handle:
        handle["std_vector"][3] = corrupt
        n_features = len(handle["std_vector"])
    with pytest.raises(DatasetError, match=rf"^{path}: its statistics hold non-finite values or standard deviations "
                                           "that are not positive; rerun `mclnn folds --force`"):
        read_trial_statistics(path, n_features)


def test_a_dataset_file_replaced_while_folds_read_it_is_refused_not_recorded(toy_out, toy_source, tiny_config,
                                                                             monkeypatch):
    other = toy_out.parent / "other"
    transform_dataset(load_config("toy", overrides=[*TINY_FEATURES, "features.n_mels=32"]), source_dir=toy_source,
                      out_dir=other)
    moments = stage.clip_moments

    def replaced_meanwhile(dataset, **kwargs):
        result = moments(dataset, **kwargs)
        shutil.copy(dataset_path(other), dataset_path(toy_out).with_name("incoming.hdf5"))
        os.replace(dataset_path(toy_out).with_name("incoming.hdf5"), dataset_path(toy_out))  # as transform does
        return result

    monkeypatch.setattr(stage, "clip_moments", replaced_meanwhile)
    with pytest.raises(DatasetError, match=r"Dataset.hdf5 was replaced while the folds were made from it"):
        make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3)
    assert not folds_manifest_path(toy_out, "toy", 3).exists()


def test_the_folds_table_gives_each_clips_fold_group_and_role_per_trial(toy_out, tiny_config):
    import csv

    result = make_folds(tiny_config, dataset_file=dataset_path(toy_out), out_dir=toy_out, k=3, seed=1)
    with open(toy_out / "TOY_folds_3.csv", newline="") as handle:  # the link to the set in force's table
        rows = list(csv.DictReader(handle))
    assert (toy_out / "TOY_folds_3.csv").resolve() == (toy_out / result.manifest["folds_table"]).resolve()
    with load_dataset(dataset_path(toy_out)) as dataset:
        assert [row["file"] for row in rows] == list(dataset.filenames)
        for entry in result.manifest["trials"]:
            for role in ("train", "validation", "test"):
                indices, _ = read_index(toy_out / entry["files"][role])
                assert sorted(int(row["index"]) for row in rows if row[f"trial_{entry['trial']}"] == role) == \
                    sorted(indices.tolist())
            tested = {row["fold"] for row in rows if row[f"trial_{entry['trial']}"] == "test"}
            assert tested == {str(entry["test_fold"])}
