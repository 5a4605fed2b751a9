"""Fitting one trial's model: the epoch loop with early stopping, checkpoints and resume
(:mod:`~mclnn.train.fit.trainer`), learning-rate schedules, monitors, batch augmentation and
TensorBoard event files.
"""

__all__: list[str] = []
