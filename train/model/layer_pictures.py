"""Pictures of a trained MCLNN model's first layer: its masked weights and its outputs."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from mclnn.train.pictures import save_image_row

__all__ = ["save_layer_pictures"]


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
    layer = model.get_layer(index=1)
    kernel = np.asarray(layer.kernel) * np.asarray(layer.mask)
    chosen = np.linspace(0, layer.units - 1, min(units, layer.units)).astype(int)
    weights = [kernel[:, :, unit].T for unit in chosen]
    # A symmetric range keeps masked-out (zero) weights white in every panel.
    limits = [float(np.max(np.abs(image))) or 1.0 for image in weights]
    weights_path = Path(f"{prefix}_weights.png")
    save_image_row(
        weights, titles=[f"unit {unit}" + ("" if np.any(image) else " (empty band)") for unit, image in zip(chosen, weights)],
        options=[{"cmap": "RdBu_r", "vmin": -limit, "vmax": limit} for limit in limits],
        axis_labels=("frame offset k", "feature"), panel_width=2.2,
        title=f"{layer.name}: W[k] * M, 2n+1 = {kernel.shape[0]} frames", path=weights_path)

    activation = model.get_layer(index=2)
    outputs = np.asarray(keras.Model(model.inputs[0], activation.output)(segments, training=False))
    outputs_path = Path(f"{prefix}_outputs.png")
    save_image_row(
        [output.T for output in outputs], titles=[f"test segment {number}" for number in range(1, len(outputs) + 1)],
        options=[{"cmap": "magma"}] * len(outputs), axis_labels=("frame", "hidden unit"), panel_width=3,
        title=f"{layer.name} outputs (after PReLU)", path=outputs_path)
    return [weights_path, outputs_path]
