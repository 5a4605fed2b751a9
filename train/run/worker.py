"""What another process runs for cv-train: one (seed, trial) task, Dataset.hdf5 opened there.

Local processes (``--jobs``) and Dask workers import this module to unpickle the task and
run it. It is light to import: TensorFlow loads inside the function, through
:func:`~mclnn.quiet_import.import_tensorflow`, so a worker's log has no start-up lines.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

from mclnn.quiet_import import import_tensorflow
from mclnn.train.fit.epoch_lines import EpochLog
from mclnn.train.run.seed_run import TrialTask

__all__ = ["run_trial_task"]


def run_trial_task(task: TrialTask, *, model: str, hparams: str | None, dataset_file: Path, reference_layout: dict,
                   **options) -> tuple[int, int, str]:
    """One :class:`TrialTask`, opening Dataset.hdf5 itself; its seed, trial and where it ran.

    ``options`` are :func:`mclnn.train.run.trial.run_task`'s.
    """
    import_tensorflow()
    import keras

    from mclnn.dataset_file import load_dataset
    from mclnn.train.evaluate.scorer import Scorer
    from mclnn.train.model.kinds import model_kind
    from mclnn.train.run.trial import run_task

    keras.config.disable_interactive_logging()
    _log_to_stderr()
    config = task.run.config
    kind = model_kind(config, model, hparams)
    with load_dataset(dataset_file, **reference_layout) as dataset:
        report = run_task(task, kind, Scorer(kind.scoring), dataset,
                          progress=EpochLog(f"{config.name} seed {config.training.seed}"), **options)
    # The next task starts from a clean slate: a worker that kept a trial's graphs and arrays
    # grew by hundreds of MB a trial, and loky replaced it with a warning.
    keras.backend.clear_session()
    gc.collect()
    return config.training.seed, task.entry["trial"], report.ran_on


def _log_to_stderr() -> None:
    """In a process of its own (a --jobs worker, a Dask worker) mclnn's lines go to stderr, as the command's do."""
    package = logging.getLogger("mclnn")
    if not package.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        package.addHandler(handler)
        package.setLevel(logging.INFO)
