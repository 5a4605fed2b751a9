"""What another process runs for cv-train: one (seed, trial) task, Dataset.hdf5 opened there.

Local processes (``--jobs``) and Dask workers import this module to unpickle the task and
run it. It is light to import: TensorFlow loads inside the function, through
:func:`~mclnn.quiet_import.import_tensorflow`, so a worker's log has no start-up lines.
"""

from __future__ import annotations

from pathlib import Path

from mclnn.quiet_import import import_tensorflow
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
    kind = model_kind(task.run.config, model, hparams)
    with load_dataset(dataset_file, **reference_layout) as dataset:
        report = run_task(task, kind, Scorer(kind.scoring), dataset, progress=None, **options)
    return task.run.config.training.seed, task.entry["trial"], report.ran_on
