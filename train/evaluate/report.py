"""The cross-validation report: per-trial and pooled scores as JSON, Markdown and pictures."""

from __future__ import annotations

import datetime
import json
import statistics
from pathlib import Path
from typing import Sequence

import mclnn
from mclnn.atomic import atomic_write_text
from mclnn.train.evaluate.metrics import clip_scores
from mclnn.train.pictures import save_confusion_matrix, save_training_curves
from mclnn.train.trial_files import TrialPaths, TrialReport, read_json

__all__ = ["write_report"]

_COLUMNS = [("segment_accuracy", "segment acc"), ("majority_accuracy", "majority-vote acc"),
            ("mean_probability_accuracy", "mean-prob acc"), ("f1_micro", "F1 micro"),
            ("f1_weighted", "F1 weighted"), ("map_at_3", "MAP@3")]


def write_report(trial_reports: Sequence[TrialReport], *, dataset: str, k: int, class_names: Sequence[str],
                 folder: str | Path, model: str, settings: dict, hparams: dict | None = None,
                 evaluated_on: str = "test") -> dict:
    """Write ``report.json``, ``report.md`` and the pictures for the finished trials.

    The pooled scores are computed over the clips of all finished trials together (each
    trial's ``evaluated_on`` fold: test, or validation when recipes are being chosen);
    the mean and standard deviation are over the trials' scores. ``model``, its and the
    training's ``settings`` (:func:`mclnn.train.trial_files.recorded_settings`), the seed, the date and the mclnn
    version are recorded. Pictures of trials that are not
    in the report (left from earlier runs) are removed.

    Returns
    -------
    dict
        The content of report.json.
    """
    folder = Path(folder)
    labels = [clip["label"] for report in trial_reports for clip in report.clips]
    summaries = [clip for report in trial_reports for clip in report.clips]
    pooled = clip_scores(labels, summaries, n_classes=len(class_names))
    report = {
        "dataset": dataset,
        "model": model,
        "hparams": hparams or {},
        "settings": settings,
        "seed": settings["training"]["seed"],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mclnn_version": mclnn.__version__,
        "k": k,
        "evaluated_on": evaluated_on,
        "class_names": list(class_names),
        "trials_finished": [trial.trial for trial in trial_reports],
        "trials": [trial.summary() for trial in trial_reports],
        "pooled": pooled,
        "over_trials": {key: _mean_and_std([trial.scores[key] for trial in trial_reports]) for key, _ in _COLUMNS},
    }
    previous = read_json(folder / "report.json")
    if previous is not None and _unchanged(previous, json.loads(json.dumps(report))):
        return previous  # a rerun that changed nothing leaves the report and its pictures as they were
    atomic_write_text(folder / "report.json", json.dumps(report, indent=1) + "\n")
    atomic_write_text(folder / "report.md", _markdown(report))
    for vote in ("mean_probability", "majority"):
        save_confusion_matrix(pooled[f"confusion_{vote}"], class_names=class_names,
                              title=f"{dataset} {model}: {vote.replace('_', '-')} vote, {_trials_text(report)}",
                              path=folder / f"confusion_{vote}.png")
    reported = {TrialPaths.of(folder, trial.trial).pictures for trial in trial_reports}
    for picture in folder.glob("trial_*_*.png"):
        if not any(picture.name.startswith(f"{Path(prefix).name}_") for prefix in reported):
            picture.unlink()
    for trial in trial_reports:
        paths = TrialPaths.of(folder, trial.trial)
        if paths.history.is_file():
            save_training_curves(json.loads(paths.history.read_text()), best_epoch=trial.best_epoch,
                                 title=f"{dataset} {model} trial {trial.trial} (tests fold {trial.test_fold})",
                                 path=f"{paths.pictures}_curves.png")
    return report


def _unchanged(previous: dict, report: dict) -> bool:
    """Whether two reports say the same, when they were written aside."""
    return {**previous, "created": None} == {**report, "created": None}


def _mean_and_std(values):
    """Mean and sample standard deviation (None for one value) of some trials' scores."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None}


def _mean_and_std_text(values):
    return f"{values['mean']:.4f}" + ("" if values["std"] is None else f" ± {values['std']:.4f}")


def _settings_text(settings):
    return ", ".join(f"{name}={value}" for name, value in settings.items())


def _markdown(report):
    settings = report["settings"]
    lines = [f"# {report['dataset']}: {report['model'].upper()} {report['k']}-fold cross-validation", "",
             f"Finished: {_trials_text(report)} of {report['k']}. Clip-level scores on each trial's "
             f"{report['evaluated_on']} fold; votes over a clip's segments (examples).", "",
             f"Seed {report['seed']}; mclnn {report['mclnn_version']}; written {report['created']}.", "",
             f"Model settings: {_settings_text(settings['model'])}.", "",
             f"Training settings: {_settings_text(settings['training'])}.", "",
             "| trial | tests fold | validates on | epochs (best) | " + " | ".join(name for _, name in _COLUMNS) + " |",
             "|" + "---|" * (4 + len(_COLUMNS))]
    for trial in report["trials"]:
        scores = trial["scores"]
        lines.append(f"| {trial['trial']} | {trial['test_fold']} | {trial['validation_fold']} | "
                     f"{trial.get('epochs_run')} ({trial.get('best_epoch')}) | "
                     + " | ".join(f"{scores[key]:.4f}" for key, _ in _COLUMNS) + " |")
    pooled, over_trials = report["pooled"], report["over_trials"]
    lines.append("| mean ± sd over trials | | | | " + " | ".join(_mean_and_std_text(over_trials[key]) for key, _ in _COLUMNS)
                 + " |")
    lines.append("| **pooled** | | | | " + " | ".join(f"**{pooled[key]:.4f}**" for key, _ in _COLUMNS) + " |")
    names = report["class_names"]
    lines += ["", f"Pooled confusion matrix, mean-probability vote ({pooled['clips']} clips; rows: true class):", "",
              "| true \\ predicted | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for name, row in zip(names, pooled["confusion_mean_probability"]):
        lines.append(f"| {name} | " + " | ".join(str(count) for count in row) + " |")
    lines += ["", "Pooled MAP@3 per class (mean-probability ranking):", "", "| class | clips | MAP@3 |", "|---|---|---|"]
    for name, row, value in zip(names, pooled["confusion_mean_probability"], pooled["map_at_3_per_class"]):
        lines.append(f"| {name} | {sum(row)} | {'-' if value is None else f'{value:.4f}'} |")
    return "\n".join(lines) + "\n"


def _trials_text(report):
    numbers = report["trials_finished"]
    return ("trial " if len(numbers) == 1 else "trials ") + ", ".join(str(number) for number in numbers)

