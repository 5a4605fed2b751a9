"""Where one cross-validation trial's files live under the weights folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["TrialPaths"]


@dataclass(frozen=True)
class TrialPaths:
    """The files of one trial.

    Attributes
    ----------
    folder : Path
        ``<weights folder>/trial_NN``.
    model, checkpoint, state, history, report, info : Path
        In ``folder``: the best model, the last epoch's checkpoint (for resuming), the
        training state, the per-epoch history, the trial's report and what
        ``mclnn predict`` needs to run the model (``model_info.json``).
    pictures : str
        Prefix of the trial's pictures beside ``folder`` (``<weights folder>/trial_NN``),
        completed as ``<prefix>_curves.png`` and so on.
    """

    folder: Path
    model: Path
    checkpoint: Path
    state: Path
    history: Path
    report: Path
    info: Path
    pictures: str

    @classmethod
    def of(cls, weights_folder: str | Path, trial: int) -> "TrialPaths":
        """The paths of 1-based ``trial`` under ``weights_folder``."""
        folder = Path(weights_folder) / f"trial_{trial:02d}"
        files = ("model.keras", "checkpoint.keras", "state.json", "history.json", "report.json", "model_info.json")
        return cls(folder, *(folder / name for name in files), pictures=str(folder))
