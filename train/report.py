"""The cross-validation report: per-trial and pooled scores as JSON, Markdown and pictures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from mclnn.atomic import atomic_write_text
from mclnn.train.metrics import clip_scores
from mclnn.train.pictures import save_confusion_matrix, save_training_curves
from mclnn.train.trial_files import TrialPaths

__all__ = ["write_report"]

_COLUMNS = [("segment_accuracy", "segment acc"), ("majority_accuracy", "majority-vote acc"),
            ("mean_probability_accuracy", "mean-prob acc"), ("f1_micro", "F1 micro"),
            ("f1_weighted", "F1 weighted"), ("map_at_3", "MAP@3")]


def write_report(trial_reports: Sequence[dict], *, dataset: str, k: int, class_names: Sequence[str],
                 folder: str | Path, model: str = "mclnn", hparams: dict | None = None) -> dict:
    """Write ``report.json``, ``report.md`` and the pictures for the finished trials.

    The pooled scores are computed over the test clips of all finished trials together.
    ``model`` and ``hparams`` (a baseline's hyperparameters) are recorded.

    Returns
    -------
    dict
        The content of report.json.
    """
    folder = Path(folder)
    labels = [clip["label"] for report in trial_reports for clip in report["clips"]]
    summaries = [clip for report in trial_reports for clip in report["clips"]]
    pooled = clip_scores(labels, summaries, n_classes=len(class_names))
    report = {
        "dataset": dataset,
        "model": model,
        "hparams": hparams or {},
        "k": k,
        "class_names": list(class_names),
        "trials_finished": [trial["trial"] for trial in trial_reports],
        "trials": [{key: value for key, value in trial.items() if key != "clips"} for trial in trial_reports],
        "pooled": pooled,
    }
    atomic_write_text(folder / "report.json", json.dumps(report, indent=1) + "\n")
    atomic_write_text(folder / "report.md", _markdown(report))
    for vote in ("mean_probability", "majority"):
        save_confusion_matrix(pooled[f"confusion_{vote}"], class_names=class_names,
                              title=f"{dataset} {model}: {vote.replace('_', '-')} vote, {_trials_text(report)}",
                              path=folder / f"confusion_{vote}.png")
    for trial in trial_reports:
        paths = TrialPaths.of(folder, trial["trial"])
        if paths.history.is_file():
            save_training_curves(json.loads(paths.history.read_text()), best_epoch=trial.get("best_epoch"),
                                 title=f"{dataset} {model} trial {trial['trial']} (tests fold {trial['test_fold']})",
                                 path=f"{paths.pictures}_curves.png")
    return report


def _markdown(report):
    hparams = ", ".join(f"{name}={value}" for name, value in report["hparams"].items())
    lines = [f"# {report['dataset']}: {report['model'].upper()} {report['k']}-fold cross-validation", "",
             f"Finished: {_trials_text(report)} of {report['k']}. Clip-level scores on each trial's "
             "test fold; votes over a clip's segments (examples).", "",
             *([f"Hyperparameters: {hparams}.", ""] if hparams else []),
             "| trial | tests fold | validates on | epochs (best) | " + " | ".join(name for _, name in _COLUMNS) + " |",
             "|" + "---|" * (4 + len(_COLUMNS))]
    for trial in report["trials"]:
        scores = trial["scores"]
        lines.append(f"| {trial['trial']} | {trial['test_fold']} | {trial['validation_fold']} | "
                     f"{trial.get('epochs_run')} ({trial.get('best_epoch')}) | "
                     + " | ".join(f"{scores[key]:.4f}" for key, _ in _COLUMNS) + " |")
    pooled = report["pooled"]
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

