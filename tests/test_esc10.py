"""Integration on the real ESC-10 dataset in ../shared (skipped when absent)."""

import re

import numpy as np
import pytest

from mclnn import load_dataset
from mclnn.config import load_config
from mclnn.preprocess.transform import storage_ordering_path, transform_dataset

from conftest import ESC10_DIR, requires_esc10

pytestmark = requires_esc10


@pytest.fixture(scope="module")
def esc10(tmp_path_factory):
    out = tmp_path_factory.mktemp("esc10")
    result = transform_dataset(load_config("esc10"), source_dir=ESC10_DIR, out_dir=out)
    return result, out


def test_esc10_layout_order_labels_and_folds(esc10):
    result, out = esc10
    folders = sorted(path.name for path in ESC10_DIR.iterdir() if path.is_dir())
    expected = [f"{folder}/{path.name}" for folder in folders for path in sorted((ESC10_DIR / folder).glob("*.ogg"))]
    with load_dataset(result.path) as dataset:
        assert len(dataset) == 400
        assert dataset.n_features == 120 and set(dataset.frame_counts) == {200}
        assert dataset.features(399).shape == (200, 120)
        assert list(dataset.filenames) == expected
        assert dataset.class_names == folders
        assert list(dataset.labels) == [label for label in range(10) for _ in range(40)]
        assert list(dataset.folds) == [int(re.match(r"(\d+)-", name.split("/")[1]).group(1)) for name in expected]
        assert np.bincount(dataset.folds)[1:].tolist() == [80] * 5
        assert np.isfinite(dataset.features(0)).all()
    assert storage_ordering_path(out, "esc10").read_text().splitlines() == expected


def test_esc10_rerun_is_up_to_date(esc10):
    result, out = esc10
    stamp = result.path.stat().st_mtime_ns
    again = transform_dataset(load_config("esc10"), source_dir=ESC10_DIR, out_dir=out)
    assert again.up_to_date and again.n_clips == 400
    assert result.path.stat().st_mtime_ns == stamp
