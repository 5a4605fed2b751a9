"""The MCLNN classifier: masked conditional layers, temporal pooling, dense layers, softmax."""

from __future__ import annotations

import keras

from mclnn.config import ModelSettings
from mclnn.train.layers import MaskedConditional

__all__ = ["build_model"]


def build_model(settings: ModelSettings, *, n_features: int, n_classes: int, seed: int | None = None) -> keras.Model:
    """A fresh, uncompiled MCLNN model for segments of ``settings.segment_frames`` frames.

    Per MCLNN layer: dropout on its input, :class:`MaskedConditional`, PReLU. Then
    global average pooling over the remaining frames, the dense layers (dropout, dense,
    PReLU), dropout and a softmax output. PReLU slopes are per unit and shared over
    time, so a layer treats every frame alike (the layers stay convolutions over time).

    Parameters
    ----------
    settings : ModelSettings
    n_features : int
        Features per frame.
    n_classes : int
    seed : int, optional
        Seeds the initializers and dropout.

    Returns
    -------
    keras.Sequential
    """
    # Every random layer gets its own seed, derived from ``seed``.
    seeds = iter(range(seed, seed + 10_000)) if seed is not None else iter(lambda: None, 0)
    dropouts = iter(settings.dropout)
    layers = [keras.Input(shape=(settings.segment_frames, n_features), name="segment")]
    for index, (units, order, bandwidth, overlap, masked) in enumerate(zip(
            settings.hidden, settings.order, settings.bandwidth, settings.overlap, settings.layer_masked)):
        layers += [
            keras.layers.Dropout(next(dropouts), seed=next(seeds), name=f"dropout{index}"),
            MaskedConditional(units, order, bandwidth=bandwidth, overlap=overlap, masked=masked,
                              kernel_initializer=_seeded(settings.initializers[index], next(seeds)),
                              name=f"{'mclnn' if masked else 'clnn'}{index}"),
            keras.layers.PReLU(shared_axes=[1], name=f"prelu{index}"),
        ]
    layers.append(keras.layers.GlobalAveragePooling1D(name="pool"))
    n_mclnn = len(settings.hidden)
    for offset, units in enumerate(settings.dense):
        index = n_mclnn + offset
        layers += [
            keras.layers.Dropout(next(dropouts), seed=next(seeds), name=f"dropout{index}"),
            keras.layers.Dense(units, kernel_initializer=_seeded(settings.initializers[index], next(seeds)),
                               name=f"dense{index}"),
            keras.layers.PReLU(name=f"prelu{index}"),
        ]
    index = n_mclnn + len(settings.dense)
    layers += [
        keras.layers.Dropout(next(dropouts), seed=next(seeds), name=f"dropout{index}"),
        keras.layers.Dense(n_classes, activation="softmax",
                           kernel_initializer=_seeded(settings.initializers[index], next(seeds)), name="softmax"),
    ]
    return keras.Sequential(layers, name="mclnn")


def _seeded(name, seed):
    """A Keras initializer by name, with its seed set."""
    initializer = keras.initializers.get(name)
    return initializer.__class__.from_config({**initializer.get_config(), "seed": seed})
