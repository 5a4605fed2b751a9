"""An epoch's line as logs and terminals show it: the trial, the epoch, its losses, accuracies and seconds.

Light to import: the command line and the worker processes both write these lines.
"""

from __future__ import annotations

import logging

__all__ = ["EpochLog", "epoch_line"]


def epoch_line(label: str, trial: int, epoch: int, epochs: int, logs: dict) -> str:
    """``"<label> trial 2: epoch 3/40  accuracy 0.5000  loss 1.2000  ...  4.1 s"``."""
    return f"{label} trial {trial}: epoch {epoch}/{epochs}  {epoch_values(logs)}"


def epoch_values(logs: dict) -> str:
    """An epoch's values, its seconds last: ``"accuracy 0.5000  loss 1.2000  4.1 s"``."""
    return "  ".join([f"{key} {value:.4f}" for key, value in logs.items() if key != "seconds"]
                     + [f"{logs['seconds']:.1f} s"] * ("seconds" in logs))


class EpochLog:
    """An epoch progress callback that logs each epoch's line (at INFO), for processes with no terminal of their own.

    Parameters
    ----------
    label : str
        Starts each line: the dataset, and the seed where several run.
    """

    def __init__(self, label: str):
        self.label = label

    def __call__(self, trial: int, epoch: int, epochs: int, logs: dict) -> None:
        logging.getLogger(__name__).info(epoch_line(self.label, trial, epoch, epochs, logs))
