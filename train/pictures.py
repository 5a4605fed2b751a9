"""Pictures a person would rather look at: confusion matrices, training curves, MCLNN weights."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from mclnn.atomic import atomic_path

__all__ = ["save_confusion_matrix", "save_layer_pictures", "save_training_curves"]


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


def save_layer_pictures(model, segments: np.ndarray, *, units: int, prefix: str | Path) -> list[Path]:
    """The first MCLNN layer's masked weights for some hidden units, and its outputs for some segments.

    Parameters
    ----------
    model : keras.Model
        A trained MCLNN model.
    segments : np.ndarray [shape=(n, frames, features)]
        Standardized test segments whose first-layer outputs are drawn.
    units : int
        How many hidden units' weights to draw (spread over the layer).
    prefix : str or Path
        Files are ``<prefix>_weights.png`` and ``<prefix>_outputs.png``.

    Returns
    -------
    list of Path
    """
    import keras

    layer = model.get_layer(index=1)
    kernel = np.asarray(layer.kernel) * np.asarray(layer.mask)
    chosen = np.linspace(0, layer.units - 1, min(units, layer.units)).astype(int)
    figure = Figure(figsize=(2.2 * len(chosen), 3.5))
    for position, unit in enumerate(chosen, start=1):
        axes = figure.add_subplot(1, len(chosen), position)
        # A symmetric range keeps masked-out (zero) weights white in every panel.
        limit = float(np.max(np.abs(kernel[:, :, unit]))) or 1.0
        axes.imshow(kernel[:, :, unit].T, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes.set_title(f"unit {unit}" + ("" if np.any(kernel[:, :, unit]) else " (empty band)"), fontsize=8)
        axes.set_xlabel("frame offset k")
        if position == 1:
            axes.set_ylabel("feature")
    figure.suptitle(f"{layer.name}: W[k] * M, 2n+1 = {kernel.shape[0]} frames")
    weights_path = Path(f"{prefix}_weights.png")
    _save(figure, weights_path)

    activation = model.get_layer(index=2)
    outputs = keras.Model(model.input, activation.output)(segments, training=False)
    figure = Figure(figsize=(3 * len(segments), 3.5))
    for position, output in enumerate(np.asarray(outputs), start=1):
        axes = figure.add_subplot(1, len(segments), position)
        axes.imshow(output.T, aspect="auto", origin="lower", cmap="magma")
        axes.set_title(f"test segment {position}", fontsize=8)
        axes.set_xlabel("frame")
        if position == 1:
            axes.set_ylabel("hidden unit")
    figure.suptitle(f"{layer.name} outputs (after PReLU)")
    outputs_path = Path(f"{prefix}_outputs.png")
    _save(figure, outputs_path)
    return [weights_path, outputs_path]


def _save(figure, path):
    figure.tight_layout()
    with atomic_path(path) as partial:
        figure.savefig(partial, dpi=110)
