"""The Masked Conditional (MCLNN) layer and its band mask."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mclnn.errors import ParameterError
from mclnn.variants import BLOCK_MASKS, ORIGINAL_BLOCK_MASK

__all__ = ["MaskedConditional", "band_mask", "mask_across_blocks", "mask_interleaved_blocks", "mask_within_blocks"]


def band_mask(n_features: int, units: int, *, bandwidth: int, overlap: int, blocks: int = 1,
              block_mask: str = ORIGINAL_BLOCK_MASK) -> np.ndarray:
    """The binary mask of an MCLNN layer: the original work's rule, laid over ``blocks`` blocks of bands.

    The original rule: start from a zero vector of length ``n_features * units``; for
    every ``g >= 0`` and ``a = 0 .. bandwidth - 1`` set position
    ``a + g * (n_features + bandwidth - overlap)`` to 1 when it lies inside the vector;
    reshape column-major into ``[n_features, units]``. Hidden unit 0 sees features
    ``0 .. bandwidth - 1`` and each next unit's band starts ``bandwidth - overlap``
    features further on, wrapping into the next unit's column.

    When the features are ``blocks`` equal blocks of bands (the log-mel, its delta,
    PCEN), ``block_mask`` (:data:`mclnn.variants.BLOCK_MASKS`) says how the rule meets
    them: ``across`` runs it over the features as they come (the original work's; a band
    may straddle two blocks); ``interleaved`` runs it band by band (band 0 of every
    block, band 1 of every block, ...), so a hidden unit sees the same bands in every
    block; ``within`` gives each block the rule of its own over an equal share of the
    hidden units (a block-diagonal mask), so every band lies inside one block. With one
    block all three are the original rule.

    Parameters
    ----------
    n_features : int > 0
    units : int > 0
    bandwidth : int > 0
        Consecutive features each hidden unit sees.
    overlap : int
        Features shared by neighbouring units; negative leaves a gap.
    blocks : int > 0
        Equal blocks of bands the features are made of; it must divide ``n_features``.
    block_mask : {'across', 'interleaved', 'within'}

    Returns
    -------
    np.ndarray [shape=(n_features, units), dtype=float32]
    """
    if blocks < 1 or n_features % blocks:
        raise ParameterError(f"mask blocks={blocks} for {n_features} features: need equal blocks, a divisor of "
                             f"{n_features}")
    return BLOCK_MASKS.load(block_mask)(n_features, units, bandwidth=bandwidth, overlap=overlap, blocks=blocks)


def mask_across_blocks(n_features: int, units: int, *, bandwidth: int, overlap: int, blocks: int) -> np.ndarray:
    """The original rule over the features as they come, whatever the blocks (:func:`band_mask`)."""
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


def mask_interleaved_blocks(n_features: int, units: int, *, bandwidth: int, overlap: int,
                            blocks: int) -> np.ndarray:
    """The original rule over the blocks band by band (:func:`band_mask`)."""
    mask = mask_across_blocks(n_features, units, bandwidth=bandwidth, overlap=overlap, blocks=blocks)
    # Row band * blocks + block of the band-by-band order is feature block * bands + band.
    return mask.reshape(n_features // blocks, blocks, units).transpose(1, 0, 2).reshape(n_features, units)


def mask_within_blocks(n_features: int, units: int, *, bandwidth: int, overlap: int, blocks: int) -> np.ndarray:
    """The original rule inside each block, over an equal share of the units (:func:`band_mask`)."""
    bands = n_features // blocks
    mask = np.zeros((n_features, units), dtype=np.float32)
    for block, share in enumerate(np.array_split(np.arange(units), blocks)):
        mask[block * bands:(block + 1) * bands, share] = mask_across_blocks(
            bands, len(share), bandwidth=bandwidth, overlap=overlap, blocks=1)
    return mask


@keras.saving.register_keras_serializable(package="mclnn")
class MaskedConditional(keras.layers.Layer):
    """Masked Conditional Neural Network layer (Medhat, Chesmore & Robinson, 2017).

    Input ``(batch, frames, features)``; output ``(batch, frames - 2 * order, units)``,
    where output frame t is ``bias + sum_k x[t + k] @ (W[k] * M)`` over
    ``k = 0 .. 2 * order``: a valid-padding 1-D convolution over time whose kernel
    ``W`` of shape ``(2 * order + 1, features, units)`` is multiplied by the fixed
    band mask ``M`` of :func:`band_mask`. With ``masked=False`` it is the unmasked CLNN.

    The result is the same whichever way it is computed (``compute``): ``dense``
    convolves with ``W * M``; ``banded`` sorts the hidden units by the position of their
    band, and for each group of 32 runs one convolution over just the features their
    bands cover, skipping most of the mask's zeros. Both read the one dense kernel
    ``W``, so weights, gradients and saved models are the same. ``auto`` takes
    ``banded`` for masks that are mostly zeros, where it measured faster
    (benchmarks/RESULTS.md).

    Parameters
    ----------
    units : int > 0
        Hidden units.
    order : int >= 0
        Frames on each side of the predicted frame.
    bandwidth, overlap : int
        The mask's band (ignored when ``masked=False``).
    blocks : int > 0
        Equal blocks of bands in the input.
    block_mask : {'interleaved', 'across', 'within'}
        How the mask meets the blocks when there are several (:func:`band_mask`);
        ``interleaved``, the first rule the layer had, is the default so that models
        saved before the others existed load as they were saved.
    masked : bool
    kernel_initializer, bias_initializer : str or keras.initializers.Initializer
    compute : {'auto', 'dense', 'banded'}
    """

    def __init__(self, units, order, bandwidth=1, overlap=0, masked=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", compute="auto", blocks=1,
                 block_mask="interleaved", **kwargs):
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
        self.blocks = int(blocks)
        BLOCK_MASKS.check(block_mask)
        self.block_mask = block_mask
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def build(self, input_shape):
        n_features = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(2 * self.order + 1, n_features, self.units),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
        mask = (band_mask(n_features, self.units, bandwidth=self.bandwidth, overlap=self.overlap, blocks=self.blocks,
                           block_mask=self.block_mask)
                if self.masked
                else np.ones((n_features, self.units), dtype=np.float32))
        # The mask follows from the configuration, so it is rebuilt here rather than saved as a weight.
        self.mask = ops.convert_to_tensor(mask)
        self._banded = self.compute == "banded" or (self.compute == "auto" and float(mask.mean()) < 0.5)
        self._band_groups, self._unit_positions = _band_groups(mask, group_size=32)

    def call(self, inputs):
        # The mask is a float32 constant; under a mixed policy the kernel arrives in the compute dtype.
        kernel = self.kernel * ops.cast(self.mask, self.compute_dtype)
        if not self._banded:
            return ops.conv(inputs, kernel, strides=1, padding="valid") + self.bias
        parts = [ops.conv(ops.take(inputs, rows, axis=2), ops.take(ops.take(kernel, rows, axis=1), units, axis=2),
                          strides=1, padding="valid") for rows, units in self._band_groups]
        # Units whose band is empty (the mask's gap can skip a column) output the bias alone.
        parts.append(ops.zeros_like(parts[0][..., :1]))
        return ops.take(ops.concatenate(parts, axis=2), self._unit_positions, axis=2) + self.bias

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
            "blocks": self.blocks,
            "block_mask": self.block_mask,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "compute": self.compute,
        }


def _band_groups(mask: np.ndarray, *, group_size: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Units grouped by band position, and where each unit's output lands in the groups' outputs.

    Returns
    -------
    groups : list of (rows, units)
        For every group of up to ``group_size`` units (sorted by the first feature their
        band covers): the features any of them sees, and the units.
    positions : np.ndarray [shape=(units,)]
        Each unit's column in the groups' concatenated outputs; units whose band is
        empty point one past the end (a zero column).
    """
    rows = [np.flatnonzero(mask[:, unit]) for unit in range(mask.shape[1])]
    order = sorted((unit for unit, unit_rows in enumerate(rows) if len(unit_rows)), key=lambda unit: rows[unit][0])
    groups = []
    for start in range(0, len(order), group_size):
        units = np.asarray(order[start:start + group_size], dtype=np.int32)
        groups.append((np.unique(np.concatenate([rows[unit] for unit in units])).astype(np.int32), units))
    positions = np.full(mask.shape[1], len(order), dtype=np.int32)
    positions[np.concatenate([units for _, units in groups]) if groups else []] = np.arange(len(order))
    return groups, positions
