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
    weights = [kernel[:, :, unit].T for unit in chosen]
    # A symmetric range keeps masked-out (zero) weights white in every panel.
    limits = [float(np.max(np.abs(image))) or 1.0 for image in weights]
    weights_path = Path(f"{prefix}_weights.png")
    _save_image_row(
        weights, titles=[f"unit {unit}" + ("" if np.any(image) else " (empty band)") for unit, image in zip(chosen, weights)],
        options=[{"cmap": "RdBu_r", "vmin": -limit, "vmax": limit} for limit in limits],
        axis_labels=("frame offset k", "feature"), panel_width=2.2,
        title=f"{layer.name}: W[k] * M, 2n+1 = {kernel.shape[0]} frames", path=weights_path)

    activation = model.get_layer(index=2)
    outputs = np.asarray(keras.Model(model.inputs[0], activation.output)(segments, training=False))
    outputs_path = Path(f"{prefix}_outputs.png")
    _save_image_row(
        [output.T for output in outputs], titles=[f"test segment {number}" for number in range(1, len(outputs) + 1)],
        options=[{"cmap": "magma"}] * len(outputs), axis_labels=("frame", "hidden unit"), panel_width=3,
        title=f"{layer.name} outputs (after PReLU)", path=outputs_path)
    return [weights_path, outputs_path]


def _save_image_row(images, *, titles, options, axis_labels, panel_width, title, path):
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
