"""A trial's clips: its index triple and training statistics, read from the folds stage's files."""

from __future__ import annotations

from pathlib import Path

from mclnn.dataset_file import Dataset
from mclnn.folds.fold_files import read_trial_indices, read_trial_statistics
from mclnn.train.clips.segments import StandardizedClips

__all__ = ["TrialClips"]


class TrialClips:
    """The training, validation and test clips of one trial, standardized with its training statistics.

    Parameters
    ----------
    dataset : Dataset
    entry : dict
        The trial's entry in the folds manifest (``files`` names its index and statistics files).
    out_dir : str or Path
        The folder the manifest's file names are relative to.
    segment_frames : int
        Every clip must hold one segment.
    remedy : str
        What to change when one does not (the model kind's own words).

    Raises
    ------
    DatasetError
        A missing statistics file, or statistics of another feature count.
    """

    def __init__(self, dataset: Dataset, entry: dict, *, out_dir: str | Path, segment_frames: int, remedy: str = ""):
        self._dataset = dataset
        self._files = {name: Path(out_dir) / file for name, file in entry["files"].items()}
        self._segment_frames = segment_frames
        self._remedy = remedy
        self._read: dict[str, StandardizedClips] = {}
        self.mean_vector, self.std_vector = read_trial_statistics(self._files["standardization"], dataset.n_features)

    def clips(self, name: str) -> StandardizedClips:
        """The standardized ``'train'``, ``'validation'`` or ``'test'`` clips, read on first use only.

        Raises
        ------
        DatasetError
            A missing index file, or one whose indices and labels do not match the dataset.
        """
        if name not in self._read:
            self._read[name] = StandardizedClips(
                self._dataset, read_trial_indices(self._files[name], self._dataset), mean_vector=self.mean_vector,
                std_vector=self.std_vector, segment_frames=self._segment_frames, remedy=self._remedy)
        return self._read[name]

