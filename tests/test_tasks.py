"""Local worker processes for cv-train --jobs: what they are started with."""

import os

from mclnn.train.run.tasks import SHARED_DEVICE, worker_environment


def test_worker_processes_share_the_accelerator_and_get_their_threads(monkeypatch):
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "true")  # the user's choice stays
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    with worker_environment(3):
        assert os.environ["TF_NUM_INTRAOP_THREADS"] == "3" and os.environ["TF_NUM_INTEROP_THREADS"] == "1"
        assert os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] == SHARED_DEVICE["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
    assert "TF_FORCE_GPU_ALLOW_GROWTH" not in os.environ and "TF_NUM_INTRAOP_THREADS" not in os.environ
    assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"
