"""A cross-validation's units of work: one run per training seed, one task per (seed, trial).

Light to import: the tasks are pickled to other processes and cluster workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mclnn.config import DatasetConfig, settings_hash
from mclnn.train.trial_files import recorded_settings

if TYPE_CHECKING:
    from mclnn.train.model.kinds import ModelKind

__all__ = ["SeedRun", "TrialTask"]


@dataclass(frozen=True)
class SeedRun:
    """One cross-validation with one training seed: its settings, their hashes and its folder.

    Attributes
    ----------
    config : DatasetConfig
    folder : Path
        Receives the trial folders and the report.
    run_hash : str
        Everything a trained model depends on; a finished trial of another one is trained anew.
    model_hash : str
        What scoring a trained model depends on (its architecture, the segment step, the
        folds); ``--evaluate-only`` scores models whatever else they were trained with.
    settings : dict
        The model and training settings, as reports record them.
    """

    config: DatasetConfig
    folder: Path
    run_hash: str
    model_hash: str
    settings: dict

    @classmethod
    def of(cls, config: DatasetConfig, kind: ModelKind, manifest: dict, folder: Path) -> SeedRun:
        """The run of ``config`` (its training seed included) for a model of ``kind``."""
        folds = (manifest["dataset_fingerprint"], manifest["settings_hash"])
        return cls(config, folder, run_hash=settings_hash(kind.hashed_settings, config.training, *folds),
                   model_hash=settings_hash(kind.hashed_settings, config.training.step, *folds),
                   settings=recorded_settings(kind.hashed_settings, config.training))


@dataclass(frozen=True)
class TrialTask:
    """One trial of one :class:`SeedRun`; ``entry`` is the trial's entry in the folds manifest."""

    run: SeedRun
    entry: dict
