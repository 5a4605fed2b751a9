"""The report over repeated seeds: each seed's pooled accuracy, their spread, and their ensemble."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from mclnn.atomic import atomic_write_text
from mclnn.train.evaluate.metrics import clip_scores, summarize_clip
from mclnn.train.pictures import save_confusion_matrix
from mclnn.train.trial_files import TrialReport, read_json

__all__ = ["BOOTSTRAP_RESAMPLES", "SeedsReport", "write_seeds_report"]

BOOTSTRAP_RESAMPLES = 2000


@dataclasses.dataclass(frozen=True)
class SeedsReport:
    """A cross-validation repeated over seeds: what ``report_seeds.json`` and ``report_seeds.md`` say.

    Attributes
    ----------
    dataset, model : str
    k : int
    seeds : list of int
    trials : list of int
        The trials every seed finished; only they are counted.
    clips : int
        The clips those trials scored.
    evaluated_on : {'test', 'validation'}
    per_seed : list of dict
        Per seed its pooled ``mean_probability_accuracy``, ``majority_accuracy``,
        ``f1_weighted`` and ``map_at_3``.
    mean, std : float
        Of the seeds' mean-probability accuracies (``std`` the sample standard deviation;
        None for one seed).
    bootstrap_95 : list of float
        A 95% interval of ``mean`` over clips (the same clips resampled for every seed).
    ensemble : dict
        Every clip's probabilities averaged over the seeds, scored, with its own interval.
    bootstrap_resamples : int
    """

    dataset: str
    model: str
    k: int
    seeds: list
    trials: list
    clips: int
    evaluated_on: str
    per_seed: list
    mean: float
    std: float | None
    bootstrap_95: list
    ensemble: dict
    bootstrap_resamples: int

    def as_json(self) -> dict:
        """What report_seeds.json holds."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def write_seeds_report(seed_trials: dict[int, Sequence[TrialReport]], *, dataset: str, model: str, k: int,
                       class_names: Sequence[str], folder: str | Path) -> SeedsReport:
    """Write ``report_seeds.json``, ``report_seeds.md`` and the ensemble's confusion matrix.

    Parameters
    ----------
    seed_trials : dict of int to list of TrialReport
        Per seed, its finished trials' reports. Only the trials
        every seed has finished are counted.
    dataset, model : str
    k : int
    class_names : sequence of str
    folder : str or Path

    Returns
    -------
    SeedsReport
        Its bootstrap intervals resample the clips :data:`BOOTSTRAP_RESAMPLES` times.
    """
    folder = Path(folder)
    seeds = sorted(seed_trials)
    common = sorted(set.intersection(*({trial.trial for trial in seed_trials[seed]} for seed in seeds)))
    clips = {seed: [clip for trial in sorted(seed_trials[seed], key=lambda trial: trial.trial)
                    if trial.trial in common for clip in trial.clips] for seed in seeds}
    labels = np.array([clip["label"] for clip in clips[seeds[0]]])
    for seed in seeds[1:]:
        if [clip["index"] for clip in clips[seed]] != [clip["index"] for clip in clips[seeds[0]]]:
            raise ValueError(f"seed {seed} tested other clips than seed {seeds[0]}")
    per_seed = []
    for seed in seeds:
        scores = clip_scores(labels, clips[seed], n_classes=len(class_names))
        per_seed.append({"seed": seed, **{key: scores[key] for key in (
            "mean_probability_accuracy", "majority_accuracy", "f1_weighted", "map_at_3")}})
    probabilities = np.array([[clip["mean_probabilities"] for clip in clips[seed]] for seed in seeds])
    correct = probabilities.argmax(axis=2) == labels
    ensemble_probabilities = probabilities.mean(axis=0)
    ensemble_correct = ensemble_probabilities.argmax(axis=1) == labels
    # One "segment" per clip: the ensemble votes with its averaged probabilities.
    ensemble = clip_scores(labels, [summarize_clip(row[None, :]) for row in ensemble_probabilities],
                           n_classes=len(class_names))
    rng = np.random.default_rng(0)
    resamples = rng.integers(0, len(labels), size=(BOOTSTRAP_RESAMPLES, len(labels)))
    accuracies = [row["mean_probability_accuracy"] for row in per_seed]
    report = SeedsReport(
        dataset=dataset, model=model, k=k, seeds=seeds, trials=common, clips=len(labels),
        evaluated_on=seed_trials[seeds[0]][0].evaluated_on, per_seed=per_seed, mean=float(np.mean(accuracies)),
        std=float(np.std(accuracies, ddof=1)) if len(seeds) > 1 else None,
        bootstrap_95=_interval(correct.mean(axis=0)[resamples].mean(axis=1)),
        ensemble={"mean_probability_accuracy": ensemble["mean_probability_accuracy"],
                  "f1_weighted": ensemble["f1_weighted"], "map_at_3": ensemble["map_at_3"],
                  "bootstrap_95": _interval(ensemble_correct[resamples].mean(axis=1)),
                  "confusion": ensemble["confusion_mean_probability"]},
        bootstrap_resamples=BOOTSTRAP_RESAMPLES,
    )
    written = report.as_json()
    if read_json(folder / "report_seeds.json") == written:
        return report  # a rerun that changed nothing leaves the report and its picture as they were
    atomic_write_text(folder / "report_seeds.json", json.dumps(written, indent=1) + "\n")
    atomic_write_text(folder / "report_seeds.md", _markdown(written))
    save_confusion_matrix(report.ensemble["confusion"], class_names=class_names,
                          title=f"{dataset} {model}: ensemble of seeds {', '.join(map(str, seeds))}",
                          path=folder / "confusion_ensemble.png")
    return report


def _interval(values):
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def _markdown(report):
    low, high = report["bootstrap_95"]
    spread = "" if report["std"] is None else f" ± {report['std']:.4f} (sample sd)"
    ensemble = report["ensemble"]
    lines = [f"# {report['dataset']}: {report['model'].upper()} {report['k']}-fold cross-validation over "
             f"{len(report['seeds'])} seeds", "",
             f"Trials {', '.join(map(str, report['trials']))}; {report['clips']} {report['evaluated_on']} clips; clip accuracy by the "
             "mean-probability vote.", "",
             "| seed | mean-prob acc | majority-vote acc | F1 weighted | MAP@3 |", "|---|---|---|---|---|"]
    for row in report["per_seed"]:
        lines.append(f"| {row['seed']} | {row['mean_probability_accuracy']:.4f} | {row['majority_accuracy']:.4f} | "
                     f"{row['f1_weighted']:.4f} | {row['map_at_3']:.4f} |")
    lines += ["", f"Mean over seeds: **{report['mean']:.4f}**{spread}; 95% bootstrap interval over clips "
                  f"{low:.4f}-{high:.4f} ({report['bootstrap_resamples']} resamples).",
              f"Ensemble (clip probabilities averaged over the seeds): **{ensemble['mean_probability_accuracy']:.4f}**"
              f" (95% interval {ensemble['bootstrap_95'][0]:.4f}-{ensemble['bootstrap_95'][1]:.4f}), "
              f"F1 weighted {ensemble['f1_weighted']:.4f}, MAP@3 {ensemble['map_at_3']:.4f}."]
    return "\n".join(lines) + "\n"

