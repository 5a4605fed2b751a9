import numpy as np
import pytest

from mclnn.errors import DatasetError, ParameterError
from mclnn.folds.splits import Trial, assign_folds, check_trials, make_trials, trial_rotation


def synthetic_clips(*, n_classes=4, per_class=10, variants=0, group_size=1, official=False):
    """labels, groups, variants, official folds of a dataset stored like Dataset.hdf5."""
    labels, groups, variant_numbers, folds = [], [], [], []
    for label in range(n_classes):
        for clip in range(per_class):
            group_key = (label * per_class + clip) // group_size
            for variant in range(variants + 1):
                labels.append(label)
                groups.append(group_key)
                variant_numbers.append(variant)
                folds.append(clip % 5 + 1)
    return (np.array(labels), np.array(groups), np.array(variant_numbers),
            np.array(folds) if official else None)


CASES = {
    "official": dict(official=True),
    "official+variants": dict(official=True, variants=3),
    "stratified": dict(),
    "stratified+variants": dict(variants=2),
    "grouped": dict(group_size=2),
    "grouped+variants": dict(group_size=2, variants=2),
}


@pytest.mark.parametrize("seed", [None, 0, 7])
@pytest.mark.parametrize("case", CASES)
def test_trial_invariants(case, seed):
    labels, groups, variants, official = synthetic_clips(**CASES[case])
    folds = assign_folds(labels, groups, k=5, seed=seed, official_folds=official)
    trials = make_trials(folds, variants, k=5)
    check_trials(trials, labels=labels, groups=groups, variants=variants, filenames=np.arange(len(labels)))
    tested = np.concatenate([trial.test for trial in trials])
    assert sorted(tested) == list(np.flatnonzero(variants == 0))  # every original tested exactly once
    for trial in trials:
        assert not set(trial.train) & set(trial.validation) and not set(trial.train) & set(trial.test)
        assert not set(trial.validation) & set(trial.test)
        assert (variants[trial.test] == 0).all() and (variants[trial.validation] == 0).all()
        assert set(groups[trial.train]).isdisjoint(groups[trial.test])
        assert set(groups[trial.train]).isdisjoint(groups[trial.validation])
        assert set(labels[trial.train]) == set(labels)
        in_train = np.zeros(len(labels), bool)
        in_train[trial.train] = True
        # Every clip outside test and validation folds trains, variants included.
        assert in_train[(folds != trial.test_fold) & (folds != trial.validation_fold)].all()
    for group in np.unique(groups):
        assert len(set(folds[groups == group])) == 1


def test_stratified_folds_are_balanced_and_seeded():
    labels, groups, variants, _ = synthetic_clips(per_class=10)
    folds = assign_folds(labels, groups, k=5, seed=3)
    for label in range(4):
        assert np.bincount(folds[labels == label], minlength=6)[1:].tolist() == [2] * 5
    assert np.array_equal(folds, assign_folds(labels, groups, k=5, seed=3))
    assert not np.array_equal(folds, assign_folds(labels, groups, k=5, seed=4))
    assert np.array_equal(assign_folds(labels, groups, k=5), assign_folds(labels, groups, k=5))


@pytest.mark.parametrize("k, expected", [
    (5, [(1, 2), (5, 1), (4, 5), (3, 4), (2, 3)]),
    (3, [(1, 2), (3, 1), (2, 3)]),
])
def test_rotation_of_the_original_work(k, expected):
    assert trial_rotation(k) == expected


def test_k_contradicting_official_folds_is_an_error():
    labels, groups, _, official = synthetic_clips(official=True)
    with pytest.raises(ParameterError, match=r"--k 4 contradicts the dataset's official folds \[1, 2, 3, 4, 5\]; "
                                             r"use --k 5 or --ignore-official-folds"):
        assign_folds(labels, groups, k=4, official_folds=official)
    official[3] = -1
    with pytest.raises(ParameterError, match="some clips have no official fold"):
        assign_folds(labels, groups, k=5, official_folds=official)


def test_small_class_warns_counting_originals_by_name(caplog):
    labels = np.array([0] * 10 + [1] * 6)
    groups = np.concatenate([np.arange(10), [10, 10, 12, 12, 14, 14]])  # class 1: 3 originals, each with a variant
    assign_folds(labels, groups, k=5, seed=0, class_names=["dog", "rain"])
    assert "fewer originals than k=5: 'rain' (3)" in caplog.text and "k=3 or less avoids it" in caplog.text
    assert "'dog'" not in caplog.text


def test_k_above_every_class_is_one_line_naming_them():
    labels = np.array([0] * 4 + [1] * 6)
    with pytest.raises(ParameterError, match=r"--k 10 is more than the originals of every class: 'dog' \(4\), "
                                             r"'rain' \(6\); use --k 6 or less"):
        assign_folds(labels, np.arange(10), k=10, seed=0, class_names=["dog", "rain"])


def _trial(train, validation, test):
    return Trial(1, 1, 2, *(np.array(part, dtype=np.int32) for part in (train, validation, test)))


@pytest.mark.parametrize("trials, message", [
    ([_trial([0, 1, 2], [2], [3])], r"trial 1 \(tests fold 1\): clips in both train and validation: c2"),
    ([_trial([0, 1], [2], [3, 4])], r"augmented variants in test: c4"),
    ([_trial([0, 5], [2], [1])], r"a group is split between train and test: c0, c1"),
    ([_trial([0, 1], [2], [5])], r"no training clip of class\(es\) \[1\]"),
    ([_trial([0, 1, 2], [5], [])], r"not tested exactly once over the trials: c0, c1, c2, c3, c5"),
])
def test_unsound_trials_name_the_clips(trials, message):
    labels = np.array([0, 0, 1, 1, 1, 0])
    groups = np.array([0, 0, 1, 2, 2, 3])
    variants = np.array([0, 0, 0, 0, 1, 0])
    filenames = np.array([f"c{index}" for index in range(6)], dtype=object)
    with pytest.raises(DatasetError, match=message):
        check_trials(trials, labels=labels, groups=groups, variants=variants, filenames=filenames)
