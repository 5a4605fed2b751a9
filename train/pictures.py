"""Pictures a person would rather look at: confusion matrices, training curves, rows of images (layer weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from mclnn.atomic import atomic_path

__all__ = ["save_confusion_matrix", "save_image_row", "save_training_curves"]


def save_confusion_matrix(matrix: Sequence[Sequence[int]], *, class_names: Sequence[str], title: str,
                          path: str | Path) -> None:
    """A confusion matrix (rows: true class) with counts in the cells."""
    matrix = np.asarray(matrix)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046)
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, labels=class_names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(ticks, labels=class_names, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if len(class_names) <= 20:
        for (row, column), count in np.ndenumerate(matrix):
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color="white" if count > matrix.max() / 2 else "black")
    _save(figure, path)


def save_training_curves(history: dict, *, title: str, best_epoch: int | None, path: str | Path) -> None:
    """Loss and accuracy per epoch, training and validation, with the best epoch marked."""
    figure = Figure(figsize=(10, 4))
    for position, metric in enumerate(("loss", "accuracy"), start=1):
        axes = figure.add_subplot(1, 2, position)
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + metric, [])
            axes.plot(np.arange(1, len(values) + 1), values, label=label)
        if best_epoch:
            axes.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.legend()
    figure.suptitle(title)
    _save(figure, path)


def save_image_row(images: Sequence[np.ndarray], *, titles: Sequence[str], options: Sequence[dict],
                   axis_labels: tuple[str, str], panel_width: float, title: str, path: str | Path) -> None:
    """Images side by side, each with its title and ``imshow`` options; axis labels on the first."""
    figure = Figure(figsize=(panel_width * len(images), 3.5))
    for position, (image, panel_title, panel_options) in enumerate(zip(images, titles, options), start=1):
        axes = figure.add_subplot(1, len(images), position)
        axes.imshow(image, aspect="auto", origin="lower", **panel_options)
        axes.set_title(panel_title, fontsize=8)
        axes.set_xlabel(axis_labels[0])
        if position == 1:
            axes.set_ylabel(axis_labels[1])
    figure.suptitle(title)
    _save(figure, path)


def _save(figure, path):
    figure.tight_layout()
    with atomic_path(path) as partial:
        figure.savefig(partial, dpi=110)
