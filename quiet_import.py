"""TensorFlow imported without its C++ start-up lines, unless the user chose a log level.

Only where TensorFlow is Keras' backend: with ``KERAS_BACKEND=jax`` (or ``torch``) nothing
in mclnn needs TensorFlow, so it is not imported.

TensorFlow 2.21 writes an absl preamble and an oneDNN notice straight to file
descriptor 2 while it loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says; they are not ours
to show. Everything else written during the import (errors, Python warnings) passes.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile

__all__ = ["import_tensorflow"]

_QUIET = "MCLNN_QUIET_TENSORFLOW"  # marks a TF_CPP_MIN_LOG_LEVEL that mclnn set, not the user

_START_UP_LINE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} \d\d:\d\d:\d")


def import_tensorflow() -> None:
    """Import TensorFlow where it is Keras' backend, without its C++ info and warning lines.

    Unless the user set ``TF_CPP_MIN_LOG_LEVEL``, which is then left to act.
    The level set here is inherited by the processes this one starts (``--jobs``, a local
    cluster's workers), which are marked as quiet too.
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    chosen_by_user = "TF_CPP_MIN_LOG_LEVEL" in os.environ and _QUIET not in os.environ
    if chosen_by_user or "tensorflow" in sys.modules:
        importlib.import_module("tensorflow")
        return
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "2", _QUIET: "1"})
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            importlib.import_module("tensorflow")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _START_UP_LINE.match(line)))
