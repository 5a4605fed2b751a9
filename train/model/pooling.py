"""MCLNN's temporal pooling (``model.pooling``): over a segment's frames, or over a clip's segment windows.

A segment model (:func:`mclnn.train.model.build_model`) pools all the frames its MCLNN
layers leave with a global layer named ``pool``; the clip model
(:func:`mclnn.train.model.clip_model`) pools the same frames of every segment at once,
with the windowed counterpart, one segment wide and ``step`` frames apart.

- ``average``: the mean over time (the original work's).
- ``max``: the maximum over time: a unit's strongest response anywhere in the segment.
- ``average+max``: their sum, as PANNs pool over time (Kong et al. 2020): the mean's
  smoothness and the maximum's response to a short event.
"""

from __future__ import annotations

import keras
from keras import ops

from mclnn.variants import POOLINGS

__all__ = ["AverageMaxPooling1D", "global_pooling", "plain_windowed_pooling", "segment_pooling", "windowed_pooling"]

# Keras' global pooling layers and their windowed counterparts.
_WINDOWED = {keras.layers.GlobalAveragePooling1D: keras.layers.AveragePooling1D,
             keras.layers.GlobalMaxPooling1D: keras.layers.MaxPooling1D}


@keras.saving.register_keras_serializable(package="mclnn")
class AverageMaxPooling1D(keras.layers.Layer):
    """The sum of average and max pooling over time: over all frames, or over windows.

    Parameters
    ----------
    pool_size : int, optional
        Frames a window spans; None pools all frames (``(batch, frames, units)`` ->
        ``(batch, units)``), as ``GlobalAveragePooling1D`` does.
    strides : int
        Frames between windows (with ``pool_size``).
    """

    def __init__(self, pool_size: int | None = None, strides: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = pool_size, strides

    @property
    def is_global(self) -> bool:
        """Whether it pools all frames (a segment model's layer) rather than windows (a clip model's)."""
        return self.pool_size is None

    def call(self, inputs):
        if self.is_global:
            return ops.mean(inputs, axis=1) + ops.max(inputs, axis=1)
        windows = dict(pool_size=self.pool_size, strides=self.strides, padding="valid")
        return ops.average_pool(inputs, **windows) + ops.max_pool(inputs, **windows)

    def compute_output_shape(self, input_shape):
        if self.is_global:
            return (input_shape[0], input_shape[2])
        frames = None if input_shape[1] is None else (input_shape[1] - self.pool_size) // self.strides + 1
        return (input_shape[0], frames, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


def global_pooling(kind: str) -> keras.layers.Layer:
    """The segment model's pooling layer of ``kind`` (:data:`mclnn.variants.POOLINGS`), named ``pool``."""
    return POOLINGS.load(kind)(name="pool")


def windowed_pooling(layer, *, window: int, step: int, name: str) -> keras.layers.Layer | None:
    """The clip model's counterpart of a segment model's pooling ``layer``: windows ``window`` frames wide,
    ``step`` frames apart; None when ``layer`` is no pooling layer."""
    if isinstance(layer, AverageMaxPooling1D) and layer.is_global:
        return AverageMaxPooling1D(window, strides=step, name=name)
    windowed = _WINDOWED.get(type(layer))
    return None if windowed is None else windowed(window, strides=step, name=name)


def segment_pooling(layer) -> keras.layers.Layer | None:
    """The segment model's pooling layer that a clip model's windowed ``layer`` stands for (the inverse of
    :func:`windowed_pooling`); None when ``layer`` is no windowed pooling layer."""
    if isinstance(layer, AverageMaxPooling1D) and not layer.is_global:
        return AverageMaxPooling1D(name="pool")
    pooling = next((pooling for pooling, windowed in _WINDOWED.items() if type(layer) is windowed), None)
    return None if pooling is None else pooling(name="pool")


def plain_windowed_pooling(layer, outputs, *, window: int, step: int, name: str):
    """``outputs`` pooled as :func:`windowed_pooling`'s layer pools them, from Keras' own layers only (average+max
    as the ``Add`` of the two), for a model that loads without mclnn; None when ``layer`` is no pooling layer."""
    if isinstance(layer, AverageMaxPooling1D) and layer.is_global:
        return keras.layers.Add(name=name)([
            windowed(window, strides=step, name=f"{name}_{windowed.__name__}")(outputs)
            for windowed in _WINDOWED.values()])
    windows = windowed_pooling(layer, window=window, step=step, name=name)
    return None if windows is None else windows(outputs)
