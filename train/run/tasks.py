"""Submitting a cross-validation's (seed, trial) tasks: one after another here, or side by side in
local processes (``--jobs``) or on a Dask cluster's workers (``--scheduler``), through one joblib
code path.

A task in another process (:mod:`mclnn.train.run.worker`) opens Dataset.hdf5 itself and
writes its trial folder under the output folder (on a cluster: a shared filesystem). The
trial's lock keeps two processes off one trial, and a task retried after its worker was
lost resumes from the trial's checkpoint.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import joblib

from mclnn.cluster import task_backend
from mclnn.dataset_file import Dataset
from mclnn.train.evaluate.scorer import Scorer
from mclnn.train.fit.trainer import EpochProgress
from mclnn.train.model.kinds import ModelKind
from mclnn.train.run.seed_run import TrialTask
from mclnn.train.run.trial import run_task
from mclnn.train.run.worker import run_trial_task

__all__ = ["SHARED_DEVICE", "run_trials", "worker_environment"]

logger = logging.getLogger(__name__)


def run_trials(tasks: Sequence[TrialTask], *, kind: ModelKind, dataset: Dataset, manifest: dict, out_dir: Path,
               evaluate_only: bool, pictures: bool, progress: EpochProgress | None, jobs: int = 1, client: Any = None,
               model: str = "mclnn", hparams: str | None = None, evaluate_on: str = "test") -> None:
    """Run the tasks: here one after another (with ``progress``), or ``jobs`` at once, or on ``client``'s workers.

    Side by side, each local process gets ``cores // jobs`` TensorFlow threads and shares
    the accelerator (:func:`worker_environment`); each finished task is logged with where it ran.
    """
    common = {"out_dir": out_dir, "evaluate_only": evaluate_only, "pictures": pictures, "evaluate_on": evaluate_on}
    if jobs == 1 and client is None:
        scorer = Scorer(kind.scoring)  # one for every task: its compiled model is traced once, not per trial
        for task in tasks:
            run_task(task, kind, scorer, dataset, progress=progress, **common)
        return
    remote = {"model": model, "hparams": hparams, "dataset_file": out_dir / manifest["dataset_file"],
              "reference_layout": manifest["reference_layout"], **common}
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with worker_environment(threads) if client is None else contextlib.nullcontext(), task_backend(client, "loky"):
        finished = joblib.Parallel(n_jobs=jobs if client is None else -1, return_as="generator_unordered")(
            joblib.delayed(run_trial_task)(task, **remote) for task in tasks)
        for done, (seed, trial, ran_on) in enumerate(finished, start=1):
            logger.info("seed %d trial %d finished on %s (%d of %d)", seed, trial, ran_on, done, len(tasks))


#: Set for local worker processes unless the user set them: one accelerator is shared by all of them,
#: so none may take its whole memory at start (TensorFlow and JAX both do by default).
SHARED_DEVICE = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


@contextlib.contextmanager
def worker_environment(threads: int):
    """The environment of the worker processes started in the block (they read it at start).

    TensorFlow's thread counts (``threads`` intra-op, 1 inter-op) always; :data:`SHARED_DEVICE`
    where the user has not set those names.
    """
    names = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", *SHARED_DEVICE)
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({names[0]: str(threads), names[1]: "1"})
    for name, value in SHARED_DEVICE.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
