"""The Masked Conditional (MCLNN) layer and its band mask."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mclnn.errors import ParameterError

__all__ = ["MaskedConditional", "band_mask"]


def band_mask(n_features: int, units: int, *, bandwidth: int, overlap: int) -> np.ndarray:
    """The binary mask of an MCLNN layer, exactly as in the original work.

    Start from a zero vector of length ``n_features * units``; for every ``g >= 0`` and
    ``a = 0 .. bandwidth - 1`` set position ``a + g * (n_features + bandwidth - overlap)``
    to 1 when it lies inside the vector; reshape column-major into
    ``[n_features, units]``. Hidden unit 0 sees features ``0 .. bandwidth - 1`` and each
    next unit's band starts ``bandwidth - overlap`` features further on, wrapping into the
    next unit's column.

    Parameters
    ----------
    n_features : int > 0
    units : int > 0
    bandwidth : int > 0
        Consecutive features each hidden unit sees.
    overlap : int
        Features shared by neighbouring units; negative leaves a gap.

    Returns
    -------
    np.ndarray [shape=(n_features, units), dtype=float32]
    """
    stride = n_features + bandwidth - overlap
    if bandwidth < 1 or stride < 1:
        raise ParameterError(
            f"mask bandwidth={bandwidth}, overlap={overlap} for {n_features} features: need bandwidth >= 1 "
            f"and features + bandwidth - overlap >= 1"
        )
    size = n_features * units
    positions = np.arange(bandwidth)[None, :] + stride * np.arange(-(-size // stride))[:, None]
    flat = np.zeros(size, dtype=np.float32)
    flat[positions[positions < size]] = 1.0
    return flat.reshape(units, n_features).T


@keras.saving.register_keras_serializable(package="mclnn")
class MaskedConditional(keras.layers.Layer):
    """Masked Conditional Neural Network layer (Medhat, Chesmore & Robinson, 2017).

    Input ``(batch, frames, features)``; output ``(batch, frames - 2 * order, units)``,
    where output frame t is ``bias + sum_k x[t + k] @ (W[k] * M)`` over
    ``k = 0 .. 2 * order``: a valid-padding 1-D convolution over time whose kernel
    ``W`` of shape ``(2 * order + 1, features, units)`` is multiplied by the fixed
    band mask ``M`` of :func:`band_mask`. With ``masked=False`` it is the unmasked CLNN.

    The result is the same whichever way it is computed (``compute``): ``dense``
    convolves with ``W * M``; ``banded`` gathers each hidden unit's band of input
    features and convolves it with that unit's weights alone (a depthwise convolution),
    skipping the mask's zeros. Both read the one dense kernel ``W``, so weights,
    gradients and saved models are the same. ``auto`` is ``dense``: on the 2-core CPU
    the banded depthwise convolution measured slower than the dense one despite doing
    a sixth of the multiplications (benchmarks/RESULTS.md).

    Parameters
    ----------
    units : int > 0
        Hidden units.
    order : int >= 0
        Frames on each side of the predicted frame.
    bandwidth, overlap : int
        The mask's band (ignored when ``masked=False``).
    masked : bool
    kernel_initializer, bias_initializer : str or keras.initializers.Initializer
    compute : {'auto', 'dense', 'banded'}
    """

    def __init__(self, units, order, bandwidth=1, overlap=0, masked=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", compute="auto", **kwargs):
        super().__init__(**kwargs)
        if units < 1 or order < 0:
            raise ParameterError(f"MaskedConditional needs units >= 1 and order >= 0, got units={units}, order={order}")
        if compute not in ("auto", "dense", "banded"):
            raise ParameterError(f"MaskedConditional compute must be auto, dense or banded, got {compute!r}")
        self.compute = compute
        self.units = int(units)
        self.order = int(order)
        self.bandwidth = int(bandwidth)
        self.overlap = int(overlap)
        self.masked = bool(masked)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        n_features = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(2 * self.order + 1, n_features, self.units),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
        mask = (band_mask(n_features, self.units, bandwidth=self.bandwidth, overlap=self.overlap) if self.masked
                else np.ones((n_features, self.units), dtype=np.float32))
        # The mask follows from the configuration, so it is rebuilt here rather than saved as a weight.
        self.mask = ops.convert_to_tensor(mask)
        self._band_rows = _band_rows(mask)
        self._banded = self.compute == "banded"

    def call(self, inputs):
        if not self._banded:
            return ops.conv(inputs, self.kernel * self.mask, strides=1, padding="valid") + self.bias
        n_features = self.kernel.shape[1]
        units, width = self._band_rows.shape
        # Gather every unit's band; index n_features is an appended zero feature that pads short bands.
        padded = ops.pad(inputs, [[0, 0], [0, 0], [0, 1]])
        bands = ops.take(padded, self._band_rows.reshape(-1), axis=2)
        per_unit = ops.reshape(ops.pad(ops.transpose(self.kernel, (0, 2, 1)), [[0, 0], [0, 0], [0, 1]]),
                               (2 * self.order + 1, units * (n_features + 1)))
        flat_index = (np.arange(units)[:, None] * (n_features + 1) + self._band_rows).reshape(-1)
        band_kernel = ops.expand_dims(ops.take(per_unit, flat_index, axis=1), -1)
        outputs = ops.depthwise_conv(bands, band_kernel, strides=1, padding="valid")
        frames = ops.shape(outputs)[1]
        return ops.sum(ops.reshape(outputs, (-1, frames, units, width)), axis=-1) + self.bias

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] - 2 * self.order
        return (input_shape[0], frames, self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "order": self.order,
            "bandwidth": self.bandwidth,
            "overlap": self.overlap,
            "masked": self.masked,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "compute": self.compute,
        }


def _band_rows(mask: np.ndarray) -> np.ndarray:
    """Each unit's non-zero mask rows, ``int [units, widest band]``, padded with ``n_features``."""
    n_features = mask.shape[0]
    rows = [np.flatnonzero(mask[:, unit]) for unit in range(mask.shape[1])]
    width = max(1, max(len(unit_rows) for unit_rows in rows))
    padded = np.full((len(rows), width), n_features, dtype=np.int32)
    for unit, unit_rows in enumerate(rows):
        padded[unit, :len(unit_rows)] = unit_rows
    return padded
