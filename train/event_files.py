"""Per-epoch TensorBoard event files, written with TensorFlow alone (TensorBoard stays optional).

The scalars carry the metadata of TensorBoard's scalars plugin, as ``tf.summary.scalar``
writes them when TensorBoard is installed, so ``tensorboard --logdir <weights folder>``
shows every trial's curves while a run goes on.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

__all__ = ["EpochEvents"]

_SCALAR = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR,
)


class EpochEvents:
    """Appends one step per epoch of named scalars to event files in ``folder``."""

    def __init__(self, folder: str | Path):
        self._writer = tf.summary.create_file_writer(str(folder))

    def write(self, epoch: int, scalars: dict[str, float]) -> None:
        """Record the ``scalars`` of 1-based ``epoch`` and flush them to disk."""
        with self._writer.as_default(step=epoch):
            for name, value in scalars.items():
                tf.summary.write(name, tf.constant(value, tf.float32), metadata=_SCALAR)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
