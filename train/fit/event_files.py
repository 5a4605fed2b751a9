"""Per-epoch TensorBoard event files, written without TensorFlow or TensorBoard.

Training runs under any Keras backend (JAX or PyTorch on a GPU machine, where
TensorFlow is often absent), so the few messages an event file holds are encoded here:
TFRecord framing (length, masked CRC-32C, payload, masked CRC-32C) around ``Event``
protocol buffers whose ``Summary`` values are float32 scalar tensors with the metadata of
TensorBoard's scalars plugin, as ``tf.summary.scalar`` writes them. ``tensorboard
--logdir <weights folder>`` shows every trial's curves while a run goes on, in Keras'
layout (:class:`TrainingEvents`): ``train/`` and ``validation/`` runs with ``epoch_*``
tags, so the two curves of a metric overlay.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import time
from pathlib import Path

__all__ = ["EpochEvents", "TrainingEvents"]

_FILE_VERSION = b"brain.Event:2"
_DT_FLOAT = 1
_DATA_CLASS_SCALAR = 1


class EpochEvents:
    """Appends one step per epoch of named scalars to a new event file in ``folder``."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.{time.monotonic_ns()}.v2"
        self._file = open(folder / name, "ab")
        self._append(_event(now, 0, _field(3, _FILE_VERSION)))

    def write(self, epoch: int, scalars: dict[str, float]) -> None:
        """Record the ``scalars`` of 1-based ``epoch`` and flush them to disk."""
        summary = b"".join(_field(1, _scalar_value(name, value)) for name, value in scalars.items())
        self._append(_event(time.time(), epoch, _field(5, summary)))

    def close(self) -> None:
        self._file.close()

    def _append(self, payload: bytes) -> None:
        length = struct.pack("<Q", len(payload))
        self._file.write(length + _masked_crc(length) + payload + _masked_crc(payload))
        self._file.flush()


class TrainingEvents:
    """An epoch's logs in Keras' TensorBoard layout: ``train/`` and ``validation/`` runs, ``epoch_<name>`` tags.

    ``val_loss`` goes to ``validation/`` as ``epoch_loss``; every other value (losses,
    accuracies, the learning rate) to ``train/``.
    """

    def __init__(self, folder: str | Path):
        self._runs = {run: EpochEvents(Path(folder) / run) for run in ("train", "validation")}

    def write(self, epoch: int, logs: dict[str, float]) -> None:
        """Record one 1-based ``epoch``'s logs."""
        for run, prefix in (("train", ""), ("validation", "val_")):
            scalars = {f"epoch_{name[len(prefix):]}": value for name, value in logs.items()
                       if name.startswith(prefix) and (prefix or not name.startswith("val_"))}
            self._runs[run].write(epoch, scalars)

    def close(self) -> None:
        for events in self._runs.values():
            events.close()


def _event(wall_time: float, step: int, body: bytes) -> bytes:
    """An ``Event``: wall_time (field 1, double), step (field 2), then ``body`` (its other fields)."""
    return b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step) + body


def _scalar_value(tag: str, value: float) -> bytes:
    """A ``Summary.Value``: tag (1), a float32 scalar ``TensorProto`` (8), scalars-plugin metadata (9)."""
    tensor = _field(1, _DT_FLOAT, varint=True) + _field(2, b"") + _field(5, struct.pack("<f", value))
    metadata = _field(1, _field(1, b"scalars")) + _field(4, _DATA_CLASS_SCALAR, varint=True)
    return _field(1, tag.encode()) + _field(8, tensor) + _field(9, metadata)


def _field(number: int, value: bytes | int, *, varint: bool = False) -> bytes:
    """A protocol-buffer field: a varint (wire type 0) or length-delimited bytes (wire type 2)."""
    if varint:
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _masked_crc(data: bytes) -> bytes:
    """TFRecord's masked CRC-32C (Castagnoli) of ``data``, little-endian."""
    table = _crc32c_table()
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


@functools.cache
def _crc32c_table() -> tuple[int, ...]:
    def entry(byte):
        for _ in range(8):
            byte = (byte >> 1) ^ (0x82F63B78 if byte & 1 else 0)
        return byte
    return tuple(entry(byte) for byte in range(256))
