"""Cross-validation splits: which fold each clip is in, and the rotating trials.

Like scikit-learn's splitters, these functions work on label and group arrays and
return indices; they never touch files or models.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from mclnn.errors import DatasetError, ParameterError

__all__ = ["Trial", "assign_folds", "check_trials", "make_trials", "trial_rotation"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trial:
    """One cross-validation trial.

    Attributes
    ----------
    number : int
        1-based trial number.
    test_fold, validation_fold : int
        1-based folds the trial tests and validates on; it trains on the others.
    train, validation, test : np.ndarray [dtype=int32]
        Clip indices (positions in Dataset.hdf5), ascending.
    """

    number: int
    test_fold: int
    validation_fold: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def trial_rotation(k: int) -> list[tuple[int, int]]:
    """``(test_fold, validation_fold)`` of each trial, as in the original work.

    Trial 1 tests fold 1 and validates on fold 2; each next trial moves both back by
    one fold, wrapping around: with k=5 the tested folds are 1, 5, 4, 3, 2 and the
    validation folds 2, 1, 5, 4, 3.
    """
    rotation = []
    for trial in range(k):
        test_fold = (-trial) % k + 1
        rotation.append((test_fold, test_fold % k + 1))
    return rotation


def assign_folds(
    labels: np.ndarray,
    groups: np.ndarray,
    *,
    k: int,
    official_folds: np.ndarray | None = None,
    seed: int | None = None,
    class_names: Sequence[str] | None = None,
) -> np.ndarray:
    """The 1-based fold of every clip.

    Parameters
    ----------
    labels, groups : np.ndarray [shape=(n_clips,)]
        Class and group of every clip; clips of one group (an original and its
        augmented variants, or a user-given group) always share a fold.
    k : int
        Number of folds.
    official_folds : np.ndarray [shape=(n_clips,)], optional
        The dataset's own folds, numbered 1..k; used as they are.
    seed : int, optional
        Without official folds: shuffle groups within each class with this seed
        (None keeps storage order), then spread them stratified over the folds.
    class_names : sequence of str, optional
        Names of the classes, for the messages (else their indices).

    Returns
    -------
    np.ndarray [shape=(n_clips,), dtype=int32]

    Raises
    ------
    ParameterError
        ``k`` contradicts the official folds, or every class has fewer groups (originals)
        than ``k``.
    """
    labels, groups = np.asarray(labels), np.asarray(groups)
    if official_folds is not None:
        found = sorted(set(np.asarray(official_folds).tolist()))
        if -1 in found:
            raise ParameterError("some clips have no official fold (-1); use --ignore-official-folds")
        if found != list(range(1, k + 1)):
            raise ParameterError(
                f"--k {k} contradicts the dataset's official folds {found}; "
                f"use --k {len(found)} or --ignore-official-folds"
            )
        return np.asarray(official_folds, dtype=np.int32)
    # Folds are made of groups, so a class's size is its number of groups (its originals).
    classes = np.unique(np.stack([labels, groups]), axis=1)
    counts = {int(label): int(np.sum(classes[0] == label)) for label in np.unique(labels)}
    names = {label: repr(class_names[label]) if class_names is not None else str(label) for label in counts}
    short = {label: count for label, count in counts.items() if count < k}
    described = ", ".join(f"{names[label]} ({count})" for label, count in short.items())
    if short and len(short) == len(counts):
        raise ParameterError(f"--k {k} is more than the originals of every class: {described}; "
                             f"use --k {max(3, max(counts.values()))} or less")
    if short:
        logger.warning("class(es) with fewer originals than k=%d: %s; some folds will lack them, and a trial may "
                       "validate or test on a single clip of them (k=%d or less avoids it)", k, described,
                       max(3, min(counts.values())))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=seed is not None, random_state=seed)
    folds = np.zeros(len(labels), dtype=np.int32)
    with warnings.catch_warnings():
        # Our own warning above names the class; scikit-learn's repeats it less clearly.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, test) in enumerate(splitter.split(np.zeros(len(labels)), labels, groups), start=1):
            folds[test] = fold
    return folds


def make_trials(folds: np.ndarray, variants: np.ndarray, *, k: int) -> list[Trial]:
    """The k rotating trials: test on one fold, validate on the next, train on the rest.

    Augmented variants (``variants > 0``) go to training only: test and validation
    hold originals, and the variants of tested or validated originals are left out.
    """
    folds, originals = np.asarray(folds), np.asarray(variants) == 0
    trials = []
    for number, (test_fold, validation_fold) in enumerate(trial_rotation(k), start=1):
        test = np.flatnonzero((folds == test_fold) & originals)
        validation = np.flatnonzero((folds == validation_fold) & originals)
        train = np.flatnonzero((folds != test_fold) & (folds != validation_fold))
        trials.append(Trial(number, test_fold, validation_fold, *(part.astype(np.int32)
                                                                  for part in (train, validation, test))))
    return trials


def check_trials(
    trials: list[Trial],
    *,
    labels: np.ndarray,
    groups: np.ndarray,
    variants: np.ndarray,
    filenames: np.ndarray,
) -> None:
    """Raise DatasetError, naming the clips, unless the trials are sound.

    Checks that the three sets of a trial are disjoint, that every original clip is
    tested exactly once, that no group is split across a trial's sets, that test and
    validation hold originals only, and that every class is in every training set.
    """
    labels, groups, variants = np.asarray(labels), np.asarray(groups), np.asarray(variants)
    tested = np.zeros(len(labels), dtype=int)
    classes = set(labels.tolist())

    def named(indices):
        shown = ", ".join(str(filenames[index]) for index in list(indices)[:5])
        return shown + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")

    for trial in trials:
        where = f"trial {trial.number} (tests fold {trial.test_fold})"
        parts = {"train": trial.train, "validation": trial.validation, "test": trial.test}
        for first, second in (("train", "validation"), ("train", "test"), ("validation", "test")):
            shared = np.intersect1d(parts[first], parts[second])
            if len(shared):
                raise DatasetError(f"{where}: clips in both {first} and {second}: {named(shared)}")
        for name in ("validation", "test"):
            augmented = parts[name][variants[parts[name]] > 0]
            if len(augmented):
                raise DatasetError(f"{where}: augmented variants in {name}: {named(augmented)}")
        for first, second in (("train", "validation"), ("train", "test"), ("validation", "test")):
            split_groups = np.intersect1d(groups[parts[first]], groups[parts[second]])
            if len(split_groups):
                clips = np.flatnonzero(np.isin(groups, split_groups))
                raise DatasetError(f"{where}: a group is split between {first} and {second}: {named(clips)}")
        missing = classes - set(labels[trial.train].tolist())
        if missing:
            raise DatasetError(f"{where}: no training clip of class(es) {sorted(missing)}; use fewer folds")
        tested[trial.test] += 1
    originals = np.flatnonzero(variants == 0)
    wrong = originals[tested[originals] != 1]
    if len(wrong):
        raise DatasetError(f"original clips not tested exactly once over the trials: {named(wrong)}")
