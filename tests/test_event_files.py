"""Event files written without TensorFlow, read back by TensorFlow's own reader."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import requires_tensorflow
from mclnn.train.fit.event_files import EpochEvents


def _read(path):
    import tensorflow as tf

    return [event for event in tf.compat.v1.train.summary_iterator(str(path))]


@requires_tensorflow
def test_tensorflow_reads_every_epoch_and_scalar(tmp_path):
    import tensorflow as tf

    events = EpochEvents(tmp_path)
    written = {epoch: {"loss": 1.0 / epoch, "val_accuracy": np.float32(0.1 * epoch)} for epoch in range(1, 4)}
    for epoch, scalars in written.items():
        events.write(epoch, scalars)
    events.close()
    [path] = tmp_path.iterdir()
    assert "tfevents" in path.name
    first, *rest = _read(path)
    assert first.file_version == "brain.Event:2"
    assert [event.step for event in rest] == [1, 2, 3]
    for event in rest:
        read = {value.tag: float(tf.make_ndarray(value.tensor)) for value in event.summary.value}
        assert read == pytest.approx({name: float(value) for name, value in written[event.step].items()})
        assert {value.metadata.plugin_data.plugin_name for value in event.summary.value} == {"scalars"}


@requires_tensorflow
def test_a_corrupted_record_fails_its_checksum(tmp_path):
    import tensorflow as tf

    events = EpochEvents(tmp_path)
    events.write(1, {"loss": 0.5})
    events.close()
    [path] = tmp_path.iterdir()
    data = bytearray(path.read_bytes())
    data[-6] ^= 0xFF  # inside the last record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(tf.errors.DataLossError):
        _read(path)


def test_other_backends_never_import_tensorflow():
    script = ("import sys\n"
              "from mclnn.quiet_import import import_tensorflow\n"
              "import_tensorflow()\n"
              "import mclnn.train.fit.event_files\n"
              "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n")
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ, "KERAS_BACKEND": "jax"},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
