import h5py
import numpy as np
import pytest

from mclnn import load_dataset
from mclnn.errors import DatasetError
from mclnn.train.clips.segments import SegmentBatches, StandardizedClips


def test_clips_shorter_than_a_segment_are_named(tmp_path, rng):
    path = tmp_path / "variable.hdf5"
    with h5py.File(path, "w") as handle:
        for index, frames in enumerate([20, 5, 12]):
            handle.create_dataset(str(index), data=rng.standard_normal((frames, 3)).astype(np.float32))
    with load_dataset(path, class_counts=[2, 1]) as dataset:
        ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
        with pytest.raises(DatasetError, match=r"1 clip\(s\) are shorter than one segment of 10 frames: 1 \(5 frames\)"):
            StandardizedClips(dataset, [0, 1, 2], mean_vector=zeros, std_vector=ones, segment_frames=10)
        clips = StandardizedClips(dataset, [0, 2], mean_vector=ones, std_vector=ones * 2, segment_frames=10)
        np.testing.assert_allclose(clips.clip(1), (dataset.features(2) - 1) / 2, rtol=1e-6)
        batches = SegmentBatches(clips, segment_frames=10, step=3, batch_size=4)
        # Starts 0, 3, 6, 9 in the 20-frame clip; 0 in the 12-frame clip (the original's rule).
        assert list(batches.segments_per_clip) == [4, 1]
        segments, labels = batches[0]
        np.testing.assert_array_equal(segments[2], clips.clip(0)[6:16])
        assert list(labels) == [0, 0, 0, 0] and list(batches[1][1]) == [1]


def test_clips_from_arrays_standardize_like_dataset_clips(tmp_path, rng):
    path = tmp_path / "clips.hdf5"
    arrays = [rng.standard_normal((frames, 3)).astype(np.float32) for frames in (20, 12)]
    with h5py.File(path, "w") as handle:
        for index, array in enumerate(arrays):
            handle.create_dataset(str(index), data=array)
    statistics = {"mean_vector": np.full(3, 0.5, np.float32), "std_vector": np.full(3, 2.0, np.float32)}
    with load_dataset(path, class_counts=[2]) as dataset:
        stored = StandardizedClips(dataset, [0, 1], segment_frames=10, **statistics)
    new = StandardizedClips.from_arrays(arrays, names=["a.wav", "b.wav"], segment_frames=10, **statistics)
    np.testing.assert_array_equal(new.frames, stored.frames)
    np.testing.assert_array_equal(new.offsets, stored.offsets)
    with pytest.raises(DatasetError, match=r"shorter than one segment of 15 frames: b.wav \(12 frames\)"):
        StandardizedClips.from_arrays(arrays, names=["a.wav", "b.wav"], segment_frames=15, **statistics)
