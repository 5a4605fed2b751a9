"""``mclnn export``: trained MCLNN trials as one plain-Keras classifier that needs no mclnn to load or run.

Input: a clip's feature matrix ``(frames, n_features)``, any number of frames of at least one
segment, as ``transform`` computes them (``FILE.json`` beside the model records how). Inside,
per trial: its standardization (a ``Normalization`` layer holding the trial's statistics),
each MCLNN layer as the masked valid convolution over time it is (a ``Conv1D`` whose kernel
is ``W * M``), PReLU, the segment pooling as an ``AveragePooling1D`` (a ``MaxPooling1D``, or
the ``Add`` of both, for ``model.pooling`` max or average+max) one segment wide and
``step`` frames apart, the dense layers per segment and the softmax; then the mean over the
clip's segments (the mean-probability vote) and over the trials. Output: class probabilities.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from mclnn.atomic import atomic_path, atomic_write_text
from mclnn.errors import ParameterError
from mclnn.train.model.layers import MaskedConditional
from mclnn.train.model.pooling import plain_windowed_pooling
from mclnn.train.predict.models import TrainedModel, load_trained_models

__all__ = ["export_classifier"]


def export_classifier(weights: str | Path, path: str | Path, *, trial: int | None = None) -> keras.Model:
    """Write the trials under ``weights`` (every trial and seed, averaged; or ``trial`` alone) as ``path``.

    Beside it, ``path`` with ``.json`` holds the class names (in output order), the feature
    settings, and the segment size and step.

    Parameters
    ----------
    weights : str or Path
        A weights folder, a seed folder, a trial folder or a ``model.keras`` written by cv-train.
    path : str or Path
        A ``.keras`` file.
    trial : int, optional
        Export this trial of a weights folder only.

    Returns
    -------
    keras.Model
        The model written.

    Raises
    ------
    ParameterError
        Not a ``.keras`` path, a baseline model, or trials of other segment sizes.
    DatasetError
        No trained model there (:func:`~mclnn.train.predict.models.load_trained_models`).
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ParameterError(f"-o {path}: the exported model is a .keras file; give a name ending in .keras")
    weights = Path(weights)
    models = load_trained_models(weights / f"trial_{trial:02d}" if trial is not None else weights)
    first = models[0].info
    for trained in models:
        if trained.info.model != "mclnn":
            raise ParameterError(f"{trained.path}: a {trained.info.model} baseline; export takes MCLNN models")
        if (trained.info.segment_frames, trained.info.step) != (first.segment_frames, first.step):
            raise ParameterError(f"{trained.path}: segments of other sizes than {models[0].path}'s; export them apart")
    clip = keras.Input(shape=(None, len(first.mean_vector)), name="clip_features")
    branches = [_branch(trained, clip, prefix=f"model{number}_") for number, trained in enumerate(models)]
    probabilities = keras.layers.Average(name="average_of_models")(branches) if len(branches) > 1 else branches[0]
    classifier = keras.Model(clip, probabilities, name="mclnn_classifier")
    with atomic_path(path) as partial:
        classifier.save(partial)
    atomic_write_text(path.with_suffix(".json"), json.dumps({
        "class_names": list(first.class_names), "features": dataclasses.asdict(first.features),
        "segment_frames": first.segment_frames, "step": first.step, "models": [str(m.path) for m in models],
        "input": "a clip's features, float32 [frames, n_features] (frames >= segment_frames), as mclnn transform "
                 "computes them", "output": "class probabilities, in the order of class_names"}, indent=1) + "\n")
    return classifier


def _branch(trained: TrainedModel, clip, *, prefix: str):
    """One trial's model on a whole clip, from standard layers: its segments' probabilities, averaged."""
    info = trained.info
    outputs = keras.layers.Normalization(mean=info.mean_vector, variance=np.square(info.std_vector),
                                         name=f"{prefix}standardization")(clip)
    pooled = False
    for layer in trained.model.layers:
        if isinstance(layer, keras.layers.Dropout):
            continue
        if isinstance(layer, MaskedConditional):
            convolution = keras.layers.Conv1D(layer.units, 2 * layer.order + 1, padding="valid", name=prefix + layer.name)
            outputs = convolution(outputs)
            convolution.set_weights([np.asarray(layer.kernel) * np.asarray(layer.mask), np.asarray(layer.bias)])
        elif (windows := plain_windowed_pooling(layer, outputs, window=layer.input.shape[1], step=info.step,
                                                 name=f"{prefix}segments")) is not None:
            outputs, pooled = windows, True
        elif isinstance(layer, keras.layers.PReLU):
            # Slopes are per unit; after pooling the segments take the time axis, so it is shared there too.
            prelu = keras.layers.PReLU(shared_axes=[1], name=prefix + layer.name)
            outputs = prelu(outputs)
            prelu.set_weights([np.asarray(layer.alpha).reshape(prelu.alpha.shape)])
        elif isinstance(layer, keras.layers.Dense) and pooled:
            dense = keras.layers.Dense(layer.units, activation=layer.activation, name=prefix + layer.name)
            outputs = dense(outputs)
            dense.set_weights(layer.get_weights())
        else:
            raise ParameterError(f"{trained.path}: layer {layer.name} ({type(layer).__name__}) has no export")
    return keras.layers.GlobalAveragePooling1D(name=f"{prefix}mean_probability_vote")(outputs)
