import h5py
import numpy as np
import pytest

from mclnn import load_dataset
from mclnn.errors import DatasetError, ParameterError


def test_reference_layout_reader(tmp_path, rng):
    path = tmp_path / "esc10Specmel.hdf5"
    ordering = tmp_path / "esc10_storage_ordering.txt"
    names = ["\\001 - Dog bark\\1-100-A.ogg", "\\001 - Dog bark\\2-200-A.ogg", "\\002 - Rain\\1-300-A.ogg",
             "\\002 - Rain\\3-400-A.ogg", "\\002 - Rain\\2-500-A.ogg"]
    clips = [rng.standard_normal((7, 4)).astype(np.float32) for _ in names]
    with h5py.File(path, "w") as handle:
        for index, clip in enumerate(clips):
            handle.create_dataset(str(index), data=clip)
    ordering.write_text("\n".join(names) + "\n")
    with load_dataset(path, storage_ordering=ordering, fold_pattern=r"^(\d+)-") as dataset:
        assert len(dataset) == 5 and dataset.n_features == 4
        assert dataset.class_names == ["001 - Dog bark", "002 - Rain"]
        assert list(dataset.labels) == [0, 0, 1, 1, 1]
        assert list(dataset.folds) == [1, 2, 1, 3, 2]
        assert list(dataset.filenames)[0] == "001 - Dog bark/1-100-A.ogg"
        np.testing.assert_array_equal(dataset.features(3), clips[3])
    with load_dataset(path, class_counts=[2, 3]) as dataset:
        assert list(dataset.labels) == [0, 0, 1, 1, 1] and set(dataset.folds) == {-1}
    with pytest.raises(ParameterError, match="original MCLNN layout, which carries no labels"):
        load_dataset(path)
    with pytest.raises(DatasetError, match=r"class counts \[2, 2\] add up to 4, but .* holds 5 clips"):
        load_dataset(path, class_counts=[2, 2])


def test_the_data_digest_follows_the_data_not_the_attributes_or_the_file(tmp_path, rng):
    from mclnn.dataset_file import DatasetWriter, data_digest

    def write(path, features, **attrs):
        writer = DatasetWriter(path, n_features=3, chunk_frames=4)
        for index, clip in enumerate(features):
            writer.append(clip, label=index % 2, category=f"c{index % 2}", filename=f"{index}.wav", fold=-1,
                          group=index, variant=0, deformation="")
        writer.close({"class_names": '["c0", "c1"]', **attrs})
        return data_digest(path)

    clips = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(3)]
    first = write(tmp_path / "a.hdf5", clips, created="monday")
    assert write(tmp_path / "b.hdf5", clips, created="tuesday") == first
    with h5py.File(tmp_path / "a.hdf5", "r") as handle:
        assert handle.attrs["content_digest"] == first
    clips[2][1, 1] += 1e-3
    assert write(tmp_path / "c.hdf5", clips) != first


def test_a_dataset_is_a_sequence_of_features_and_labels(tmp_path, rng):
    from mclnn.dataset_file import DatasetWriter

    clips = [rng.standard_normal((4 + index, 3)).astype(np.float32) for index in range(3)]
    writer = DatasetWriter(tmp_path / "Dataset.hdf5", n_features=3, chunk_frames=4)
    for index, clip in enumerate(clips):
        writer.append(clip, label=index % 2, category=f"c{index % 2}", filename=f"{index}.wav", fold=-1, group=index,
                      variant=0, deformation="")
    writer.close({"class_names": '["c0", "c1"]', "feature_settings": "{}"})
    with load_dataset(tmp_path / "Dataset.hdf5") as dataset:
        assert len(dataset) == 3
        features, label = dataset[2]
        np.testing.assert_array_equal(features, clips[2])
        assert label == 0 and dataset[-1][1] == 0
        assert [label for _, label in dataset] == [0, 1, 0]
        with pytest.raises(IndexError, match="clip index 3 out of range for 3 clips"):
            dataset[3]
