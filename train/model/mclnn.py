"""The MCLNN classifier: masked conditional layers, temporal pooling, dense layers, softmax."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mclnn.config import ModelSettings
from mclnn.train.model.layers import MaskedConditional
from mclnn.train.model.pooling import global_pooling, segment_pooling, windowed_pooling
from mclnn.train.clips.segments import INFERENCE_CLIPS
from mclnn.variants import ORIGINAL_BLOCK_MASK

__all__ = ["PerSegment", "build_model", "clip_model", "clip_segment_probabilities", "predict_padded", "scoring_model",
           "segment_model"]


@keras.saving.register_keras_serializable(package="mclnn")
class PerSegment(keras.layers.Wrapper):
    """Applies a per-segment layer to every segment of ``(batch, segments, ...)`` input.

    The segments are folded into the batch, so the layer runs once on all of them (and
    a dropout layer draws a mask per segment). Keras' TimeDistributed does the same with
    a vectorized map over a dynamic time axis, whose graph took about 6 s a layer to build.
    """

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def call(self, inputs, training=None):
        shape = ops.shape(inputs)
        outputs = self.layer(ops.reshape(inputs, (-1, *inputs.shape[2:])), training=training)
        return ops.reshape(outputs, (shape[0], shape[1], *outputs.shape[1:]))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], *self.layer.compute_output_shape((None, *input_shape[2:]))[1:])


def build_model(settings: ModelSettings, *, n_features: int, n_classes: int, feature_blocks: int = 1,
                seed: int | None = None, compute: str = "auto") -> keras.Model:
    """A fresh, uncompiled MCLNN model for segments of ``settings.segment_frames`` frames.

    Per MCLNN layer: dropout on its input, :class:`MaskedConditional`, PReLU. Then
    pooling over the remaining frames (``settings.pooling``,
    :mod:`mclnn.train.model.pooling`), the dense layers (dropout, dense,
    PReLU), dropout and a softmax output. PReLU slopes are per unit and shared over
    time, so a layer treats every frame alike (the layers stay convolutions over time).

    Parameters
    ----------
    settings : ModelSettings
    n_features : int
        Features per frame.
    n_classes : int
    feature_blocks : int
        Equal blocks of bands per frame; the first MCLNN layer's mask meets them as
        ``settings.block_mask`` says.
    seed : int, optional
        Seeds the initializers and dropout.
    compute : {'auto', 'dense', 'banded'}
        How the MCLNN layers compute (:class:`MaskedConditional`); the results are the same.

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
            MaskedConditional(units, order, bandwidth=bandwidth, overlap=overlap, masked=masked, compute=compute,
                              kernel_initializer=_seeded(settings.initializers[index], next(seeds)),
                              # Only the first layer sees the feature blocks; later layers see hidden units.
                              blocks=feature_blocks if index == 0 else 1,
                              block_mask=settings.block_mask if index == 0 else ORIGINAL_BLOCK_MASK,
                              name=f"{'mclnn' if masked else 'clnn'}{index}"),
            keras.layers.PReLU(shared_axes=[1], name=f"prelu{index}"),
        ]
    layers.append(global_pooling(settings.pooling))
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


def clip_model(model: keras.Sequential, *, step: int) -> keras.Model:
    """The same layers (and weights) applied to whole clips: every segment's output at once.

    MCLNN layers are convolutions over time, so they run once over a clip; the
    segment-wise pooling becomes the same pooling over windows of the segment's pooled
    length, ``step`` frames apart, and the dense layers run per segment. For a
    clip of ``n`` frames the output is ``(len(segment_starts(n)), n_classes)``, equal in
    inference to running the model on each segment. In training, overlapping segments of
    a clip share the dropout masks of the MCLNN layers' inputs.

    Parameters
    ----------
    model : keras.Sequential
        A model from :func:`build_model`.
    step : int
        Frames between consecutive segments.

    Returns
    -------
    keras.Model
        Input ``(batch, frames, features)``, output ``(batch, segments, n_classes)``.
    """
    inputs = keras.Input(shape=(None, model.input_shape[-1]), name="clip")
    outputs, pooled = inputs, False
    for layer in model.layers:
        windows = windowed_pooling(layer, window=layer.input.shape[1], step=step, name="segment_pool")
        if windows is not None:
            outputs = windows(outputs)
            pooled = True
        elif pooled:
            outputs = PerSegment(layer, name=f"segments_{layer.name}")(outputs)
        else:
            outputs = layer(outputs)
    return keras.Model(inputs, outputs, name="mclnn_clips")


def segment_model(clips: keras.Model, *, segment_frames: int) -> keras.Sequential:
    """The per-segment model sharing the layers of a :func:`clip_model` (the inverse of it)."""
    layers = []
    for layer in clips.layers[1:]:
        pooling = segment_pooling(layer)
        if pooling is not None:
            layers.append(pooling)
        elif isinstance(layer, PerSegment):
            layers.append(layer.layer)
        else:
            layers.append(layer)
    segment = keras.Input(shape=(segment_frames, clips.input_shape[-1]), name="segment")
    return keras.Sequential([segment, *layers], name="mclnn")


def scoring_model(model: keras.Sequential, *, step: int) -> keras.Model:
    """:func:`clip_model` compiled with XLA, for scoring clips with ``predict_on_batch``.

    On the 2-core CPU XLA scores 32 ESC-10 clips in about 60 ms against 90 ms for the
    plain graph and 240 ms for an eager call (benchmarks/RESULTS.md). Every new input
    shape (clips per batch, frames per clip) compiles once, about a second. Training
    stays off XLA, which made its steps about 3 times slower.
    """
    clips = clip_model(model, step=step)
    clips.compile(jit_compile=True)
    return clips


def clip_segment_probabilities(clips: keras.Model, batches) -> list[np.ndarray]:
    """Every clip's segment probabilities, a batch of clips at a time.

    Parameters
    ----------
    clips : keras.Model
        A :func:`scoring_model`.
    batches : ClipBatches
        Unshuffled batches of the clips to score.

    Returns
    -------
    list of np.ndarray [shape=(segments, n_classes)]
        In the order of ``batches.clips``.
    """
    probabilities = [None] * len(batches.clips)
    for number in range(len(batches)):
        frames, _ = batches[number]
        scored = predict_padded(clips, frames, rows=INFERENCE_CLIPS)
        for position, clip_probabilities in zip(batches.batches[number], scored):
            probabilities[position] = clip_probabilities
    return probabilities


def predict_padded(model: keras.Model, inputs: np.ndarray, *, rows: int) -> np.ndarray:
    """``model.predict_on_batch(inputs)`` with ``inputs`` padded by zero rows to ``rows``.

    Every batch then has one shape, so the compiled model is traced once, not again for a
    last, shorter batch. The padding rows' outputs are dropped.
    """
    count = len(inputs)
    if count < rows:
        inputs = np.concatenate([inputs, np.zeros((rows - count, *inputs.shape[1:]), inputs.dtype)])
    return np.asarray(model.predict_on_batch(inputs))[:count]
