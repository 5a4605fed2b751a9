"""The cross-validation report: per-trial and pooled scores as JSON, Markdown and pictures."""

from __future__ import annotations

import dataclasses
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

__all__ = ["CrossValidationReport", "write_report"]

_COLUMNS = [("segment_accuracy", "segment acc"), ("majority_accuracy", "majority-vote acc"),
            ("mean_probability_accuracy", "mean-prob acc"), ("f1_micro", "F1 micro"),
            ("f1_weighted", "F1 weighted"), ("map_at_3", "MAP@3")]


@dataclasses.dataclass(frozen=True)
class CrossValidationReport:
    """A cross-validation over its finished trials: what ``report.json`` and ``report.md`` say.

    Attributes
    ----------
    dataset, model : str
    hparams : dict
        A baseline's hyperparameters (empty for MCLNN).
    settings : dict
        The model and training settings (:func:`mclnn.train.trial_files.recorded_settings`).
    seed : int
    created : str
        When report.json was written (ISO 8601, UTC).
    mclnn_version : str
    k : int
    evaluated_on : {'test', 'validation'}
        Which fold of each trial was scored.
    class_names : list of str
    trials : list of TrialReport
        The finished trials, their clips included (report.json lists them without).
    pooled : dict
        :func:`mclnn.train.evaluate.metrics.clip_scores` over every trial's clips together.
    over_trials : dict
        Per score, its ``mean`` and sample ``std`` over the trials.
    """

    dataset: str
    model: str
    hparams: dict
    settings: dict
    seed: int
    created: str
    mclnn_version: str
    k: int
    evaluated_on: str
    class_names: list
    trials: list
    pooled: dict
    over_trials: dict

    @property
    def trials_finished(self) -> list[int]:
        """The finished trials' numbers."""
        return [trial.trial for trial in self.trials]

    def as_json(self) -> dict:
        """What report.json holds: every field, the trials without their clips, and ``trials_finished``."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        fields["trials"] = [trial.summary() for trial in self.trials]
        order = list(fields)
        order.insert(order.index("trials"), "trials_finished")
        return json.loads(json.dumps({key: self.trials_finished if key == "trials_finished" else fields[key]
                                      for key in order}))


def write_report(trial_reports: Sequence[TrialReport], *, dataset: str, k: int, class_names: Sequence[str],
                 folder: str | Path, model: str, settings: dict, hparams: dict | None = None,
                 evaluated_on: str = "test") -> CrossValidationReport:
    """Write ``report.json``, ``report.md`` and the pictures for the finished trials.

    The pooled scores are computed over the clips of all finished trials together (each
    trial's ``evaluated_on`` fold: test, or validation when recipes are being chosen);
    the mean and standard deviation are over the trials' scores. ``model``, its and the
    training's ``settings`` (:func:`mclnn.train.trial_files.recorded_settings`), the seed, the date and the mclnn
    version are recorded. Pictures of trials that are not in the report (left from
    earlier runs) are removed. A rerun that changes nothing leaves every file as it was.
    """
    folder = Path(folder)
    labels = [clip["label"] for report in trial_reports for clip in report.clips]
    summaries = [clip for report in trial_reports for clip in report.clips]
    pooled = clip_scores(labels, summaries, n_classes=len(class_names))
    report = CrossValidationReport(
        dataset=dataset, model=model, hparams=hparams or {}, settings=settings, seed=settings["training"]["seed"],
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        mclnn_version=mclnn.__version__, k=k, evaluated_on=evaluated_on, class_names=list(class_names),
        trials=list(trial_reports), pooled=pooled,
        over_trials={key: _mean_and_std([trial.scores[key] for trial in trial_reports]) for key, _ in _COLUMNS},
    )
    previous = read_json(folder / "report.json")
    if previous is not None and {**previous, "created": None} == {**report.as_json(), "created": None}:
        return dataclasses.replace(report, created=previous["created"])  # the files stay as they were
    written = report.as_json()
    atomic_write_text(folder / "report.json", json.dumps(written, indent=1) + "\n")
    atomic_write_text(folder / "report.md", _markdown(written))
    for vote in ("mean_probability", "majority"):
        save_confusion_matrix(pooled[f"confusion_{vote}"], class_names=class_names,
                              title=f"{dataset} {model}: {vote.replace('_', '-')} vote, {_trials_text(written)}",
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

