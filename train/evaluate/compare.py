"""``mclnn compare``: two cross-validation runs scored on the same clips, trial by trial and pooled.

A run is a weights folder written by ``mclnn cv-train`` (its ``trial_NN`` folders) or one
with ``--seeds`` (its ``seed_<s>/trial_NN`` folders). Each clip is right or wrong under a
run's mean-probability vote; with several seeds a run's accuracy is the mean over its seeds,
and its clip-level decision (for McNemar's test and the classes) is that of the seeds'
ensemble, every clip's probabilities averaged over the seeds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from mclnn.errors import DatasetError, ParameterError
from mclnn.train.trial_files import TrialPaths, TrialReport, read_json

__all__ = ["BOOTSTRAP_RESAMPLES", "Run", "compare_runs", "comparison_markdown", "mcnemar_exact", "read_run"]

BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Run:
    """The finished trials of one weights folder, per seed.

    Attributes
    ----------
    folder : Path
    trials : dict of int to dict of int to TrialReport
        Per seed, per trial number, the trial's report.
    class_names : list of str
        The labels' names, from the run's ``report.json`` (empty when it has none yet).
    """

    folder: Path
    trials: dict[int, dict[int, TrialReport]]
    class_names: list[str]

    @property
    def seeds(self) -> list[int]:
        """The run's training seeds."""
        return sorted(self.trials)

    @property
    def trial_numbers(self) -> list[int]:
        """The trials every seed of the run has finished."""
        return sorted(set.intersection(*(set(by_trial) for by_trial in self.trials.values())))


def read_run(folder: str | Path) -> Run:
    """The finished trials under a weights folder (``trial_NN``) or a folder of seeds (``seed_<s>/trial_NN``).

    Raises
    ------
    DatasetError
        No finished trial there.
    """
    folder = Path(folder)
    seed_folders = sorted(folder.glob("seed_*/")) or [folder]
    trials: dict[int, dict[int, TrialReport]] = {}
    class_names = []
    for seed_folder in seed_folders:
        class_names = class_names or (read_json(seed_folder / "report.json") or {}).get("class_names", [])
        for trial_folder in sorted(seed_folder.glob("trial_*/")):
            report = TrialReport.read(TrialPaths.of_folder(trial_folder).report)
            if report is not None:
                trials.setdefault(report.settings["training"]["seed"], {})[report.trial] = report
    if not trials:
        raise DatasetError(f"{folder}: no finished trial here; give a weights folder written by `mclnn cv-train`")
    return Run(folder, trials, class_names)


def compare_runs(first: Run, second: Run, *, seed: int = 0, recording: str | None = None) -> dict:
    """Compare two runs on the trials both have finished, each trial on the same clips.

    Parameters
    ----------
    first, second : Run
        ``A`` and ``B``; differences are ``B - A``. A's class names name the classes that moved.
    seed : int
        Seeds the bootstrap.
    recording : str, optional
        A regular expression whose match in a clip's file name (its first group, if it has
        one) names the recording the clip was cut from, e.g. ``/(\\d+-\\d+)-`` for ESC's
        ``1-172649-A.ogg``. The bootstrap then draws recordings, each with all its clips:
        clips of one recording are not independent, and drawing them one by one makes the
        interval too narrow. By default it draws clips.

    Returns
    -------
    dict
        ``trials``: per common trial, and ``pooled`` over them: each run's accuracy (mean over
        its seeds), the ``difference``, its paired bootstrap ``interval_95`` (clips or their
        recordings resampled, and seeds where a run has several, :data:`BOOTSTRAP_RESAMPLES`
        times), and McNemar's exact test of the ensembles' right/wrong clips
        (``only_a_right``, ``only_b_right``, ``p_value``). ``classes_moved``: per class whose
        pooled accuracy changed, both accuracies, most changed first. ``left_out``: trials only
        one run finished. ``recording``: the pattern given, or None.

    Raises
    ------
    ParameterError
        No trial in common, or a common trial that evaluated other clips, other folds, or
        another fold kind (test or validation) in the two runs; a ``recording`` that is
        not a regular expression or does not match a clip's file name.
    """
    common = sorted(set(first.trial_numbers) & set(second.trial_numbers))
    if not common:
        raise ParameterError(f"{first.folder} and {second.folder} have no finished trial in common "
                             f"({first.trial_numbers} against {second.trial_numbers}); compare runs of the same folds")
    for number in common:
        _check_same_clips(first, second, number)
    pattern = _recording_pattern(recording)
    rng = np.random.default_rng(seed)
    per_trial = [{"trial": number, "test_fold": _reference(first, number).test_fold,
                  "validation_fold": _reference(first, number).validation_fold,
                  **_difference(_outcomes(first, [number]), _outcomes(second, [number]), rng, pattern)}
                 for number in common]
    pooled_first, pooled_second = _outcomes(first, common), _outcomes(second, common)
    left_out = sorted(set(first.trial_numbers) ^ set(second.trial_numbers))
    return {
        "a": str(first.folder), "b": str(second.folder), "seeds_a": first.seeds, "seeds_b": second.seeds,
        "evaluated_on": _reference(first, common[0]).evaluated_on, "trials": per_trial, "left_out": left_out,
        "pooled": _difference(pooled_first, pooled_second, rng, pattern),
        "classes_moved": _classes_moved(pooled_first, pooled_second, first.class_names),
        "bootstrap_resamples": BOOTSTRAP_RESAMPLES, "recording": recording,
    }


def mcnemar_exact(only_a_right: int, only_b_right: int) -> float:
    """Two-sided exact McNemar p-value: the discordant clips as a fair coin's tosses."""
    discordant = only_a_right + only_b_right
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(only_a_right, only_b_right) + 1)) / 2.0**discordant
    return min(1.0, 2.0 * tail)


def comparison_markdown(comparison: dict) -> str:
    """The comparison as Markdown: a table per trial and pooled, then the classes that moved."""
    pooled = comparison["pooled"]
    lines = [f"# A = {comparison['a']}", f"# B = {comparison['b']}", "",
             f"Clip accuracy (mean-probability vote) on each trial's {comparison['evaluated_on']} fold; A over seeds "
             f"{_seeds_text(comparison['seeds_a'])}, B over seeds {_seeds_text(comparison['seeds_b'])}. "
             f"Difference B - A with its paired bootstrap 95% interval ({comparison['bootstrap_resamples']} "
             f"resamples of {_resampled_text(comparison)}); McNemar's exact test on the clips only one run's ensemble "
             "got right.", "",
             "| trial | tests fold | validates on | clips | A | B | B - A | 95% interval | only A right | only B right "
             "| McNemar p |", "|" + "---|" * 11]
    for row in [*comparison["trials"], {"trial": "**pooled**", "test_fold": "-", "validation_fold": "-", **pooled}]:
        low, high = row["interval_95"]
        lines.append(f"| {row['trial']} | {row['test_fold']} | {row['validation_fold']} | {row['clips']} | "
                     f"{row['accuracy_a']:.4f} | {row['accuracy_b']:.4f} | {row['difference']:+.4f} | "
                     f"{low:+.4f} to {high:+.4f} | {row['only_a_right']} | {row['only_b_right']} | "
                     f"{row['p_value']:.4g} |")
    if comparison["left_out"]:
        lines += ["", f"Left out (finished in one run only): trials {', '.join(map(str, comparison['left_out']))}."]
    lines += ["", "Classes that moved (pooled, ensembles):", ""]
    if comparison["classes_moved"]:
        lines += ["| class | clips | A | B | B - A |", "|---|---|---|---|---|"]
        lines += [f"| {row['class']} | {row['clips']} | {row['accuracy_a']:.4f} | {row['accuracy_b']:.4f} | "
                  f"{row['accuracy_b'] - row['accuracy_a']:+.4f} |" for row in comparison["classes_moved"]]
    else:
        lines.append("none.")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Outcomes:
    """One run on some clips: right or wrong per seed and clip, the ensemble's decision, the labels."""

    right: np.ndarray  # [seeds, clips] bool
    ensemble_right: np.ndarray  # [clips] bool
    labels: np.ndarray  # [clips] int
    filenames: list[str]


def _outcomes(run: Run, numbers: Sequence[int]) -> _Outcomes:
    probabilities = np.array([[clip["mean_probabilities"] for number in numbers for clip in
                               _sorted_clips(run.trials[seed][number])] for seed in run.seeds])
    clips = [clip for number in numbers for clip in _sorted_clips(_reference(run, number))]
    labels = np.array([clip["label"] for clip in clips])
    return _Outcomes(probabilities.argmax(axis=2) == labels, probabilities.mean(axis=0).argmax(axis=1) == labels,
                     labels, [clip["filename"] for clip in clips])


def _difference(first: _Outcomes, second: _Outcomes, rng: np.random.Generator, recording: re.Pattern | None) -> dict:
    clips = first.right.shape[1]
    # Each resample draws clips (or recordings, each with its clips), and seeds for each run that has several,
    # with replacement; a clip drawn n times counts n times.
    groups = np.arange(clips) if recording is None else _recordings(first.filenames, recording)
    n_groups = int(groups.max()) + 1
    drawn = rng.integers(0, n_groups, size=(BOOTSTRAP_RESAMPLES, n_groups))
    counts = np.stack([np.bincount(row, minlength=n_groups) for row in drawn])[:, groups]
    differences = (_resampled_accuracy(second.right, counts, rng) - _resampled_accuracy(first.right, counts, rng))
    only_a = int(np.sum(first.ensemble_right & ~second.ensemble_right))
    only_b = int(np.sum(~first.ensemble_right & second.ensemble_right))
    accuracy_a, accuracy_b = float(first.right.mean()), float(second.right.mean())
    return {"clips": clips, "accuracy_a": accuracy_a, "accuracy_b": accuracy_b, "difference": accuracy_b - accuracy_a,
            "interval_95": [float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))],
            "only_a_right": only_a, "only_b_right": only_b, "p_value": mcnemar_exact(only_a, only_b)}


def _resampled_accuracy(right: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Accuracy in each resample: the mean over resampled seeds of each seed's accuracy on the resampled clips
    (``counts``: [resamples, clips], how often each clip was drawn)."""
    per_seed = (right.astype(np.float64) @ counts.T) / counts.sum(axis=1)  # [seeds, resamples]
    seeds = rng.integers(0, len(right), size=(len(right), len(counts)))
    return np.take_along_axis(per_seed, seeds, axis=0).mean(axis=0)


def _classes_moved(first: _Outcomes, second: _Outcomes, class_names: Sequence[str] | None) -> list[dict]:
    rows = []
    for label in np.unique(first.labels):
        chosen = first.labels == label
        accuracy_a, accuracy_b = float(first.ensemble_right[chosen].mean()), float(second.ensemble_right[chosen].mean())
        if accuracy_a != accuracy_b:
            rows.append({"class": class_names[label] if class_names else int(label), "clips": int(chosen.sum()),
                         "accuracy_a": accuracy_a, "accuracy_b": accuracy_b})
    return sorted(rows, key=lambda row: -abs(row["accuracy_b"] - row["accuracy_a"]))


def _recording_pattern(recording: str | None) -> re.Pattern | None:
    if recording is None:
        return None
    try:
        return re.compile(recording)
    except re.error as error:
        raise ParameterError(f"--recording '{recording}' is not a regular expression ({error})") from None


def _recordings(filenames: Sequence[str], pattern: re.Pattern) -> np.ndarray:
    """Each clip's recording, numbered 0.. in order of first appearance."""
    keys = []
    for name in filenames:
        match = pattern.search(name)
        if match is None:
            raise ParameterError(f"--recording '{pattern.pattern}' does not match the clip {name}; give a pattern "
                                 "every file name holds its recording in")
        keys.append(match.group(1) if pattern.groups else match.group(0))
    numbers = {key: number for number, key in enumerate(dict.fromkeys(keys))}
    return np.array([numbers[key] for key in keys])


def _resampled_text(comparison: dict) -> str:
    if comparison["recording"] is None:
        return "clips"
    return f"recordings, each with all its clips, by --recording '{comparison['recording']}'"


def _reference(run: Run, number: int) -> TrialReport:
    return run.trials[run.seeds[0]][number]


def _sorted_clips(report: TrialReport) -> list[dict]:
    # By file name, not position: a Dataset.hdf5 with augmented variants holds the same clips at other positions.
    return sorted(report.clips, key=lambda clip: clip["filename"])


def _clip_set(report: TrialReport) -> list[tuple]:
    return [(clip["filename"], clip["label"]) for clip in _sorted_clips(report)]


def _check_same_clips(first: Run, second: Run, number: int) -> None:
    """Raise ParameterError unless trial ``number`` evaluated the same folds and clips in every seed of both runs."""
    reference = _reference(first, number)
    for run in (first, second):
        for seed in run.seeds:
            other = run.trials[seed][number]
            if (other.test_fold, other.validation_fold, other.evaluated_on) != (
                    reference.test_fold, reference.validation_fold, reference.evaluated_on):
                raise ParameterError(
                    f"trial {number} of {run.folder} (seed {seed}) evaluated its {other.evaluated_on} fold of test fold "
                    f"{other.test_fold}, validation fold {other.validation_fold}, but {first.folder} its "
                    f"{reference.evaluated_on} fold of {reference.test_fold}, {reference.validation_fold}; compare runs "
                    "of the same folds, both on test or both on validation")
            if _clip_set(other) != _clip_set(reference):
                raise ParameterError(f"trial {number} of {run.folder} (seed {seed}) scored other clips than "
                                     f"{first.folder}; compare runs that scored the same clips (file names and labels) of the same folds")


def _seeds_text(seeds):
    return ", ".join(map(str, seeds))
