"""Saved models: a whole .keras file loads; an empty, truncated, foreign or Lambda one is one line naming it."""

import json

import keras
import numpy as np
import pytest

from mclnn.config import load_config
from mclnn.errors import DatasetError
from mclnn.train.model.kinds import model_kind
from mclnn.train.model.saved_models import load_saved_model, saved_model_intact
from mclnn.train.trial_files import ModelInfo


@pytest.fixture
def saved(tmp_path):
    model = model_kind(load_config("toy")).build(n_features=80, n_classes=5, seed=0)
    path = tmp_path / "model.keras"
    model.save(path)
    return model, path


def test_a_whole_model_loads_with_its_weights(saved):
    model, path = saved
    assert saved_model_intact(path)
    for loaded, original in zip(load_saved_model(path, remedy="x").get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, original)


@pytest.mark.parametrize("damage", ["empty", "truncated", "text", "missing"])
def test_a_damaged_model_file_is_one_line_naming_it(saved, damage):
    _, path = saved
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-200])
    elif damage == "text":
        path.write_text("not a model")
    else:
        path.unlink()
    assert not saved_model_intact(path)
    with pytest.raises(DatasetError, match=rf"^{path}: missing, empty or truncated \(not a whole .keras file\); "
                                           "retrain it$") as raised:
        load_saved_model(path, remedy="retrain it")
    assert "\n" not in str(raised.value)


def test_a_model_with_a_lambda_layer_is_refused_in_one_line(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(DatasetError, match=rf"^{path}: not a model mclnn can load \(.*\); retrain it$") as raised:
        load_saved_model(path, remedy="retrain it")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("content", ['{"dataset": "toy"}', "{not json", '{"features": {"n_mels": -3}}'])
def test_an_incomplete_model_info_is_one_line_even_on_a_short_relative_path(tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model_info.json").write_text(content)
    with pytest.raises(DatasetError, match=r"^model_info.json: missing, incomplete or unreadable; rerun "
                                           r"`mclnn cv-train --evaluate-only` with --out /"):
        ModelInfo.read("model_info.json")


def test_model_info_round_trips(tmp_path):
    config = load_config("toy")
    info = ModelInfo(dataset="toy", model="mclnn", hparams={}, segment_frames=15, step=2, class_names=["a", "b"],
                     features=config.features, mean_vector=np.zeros(3, np.float32),
                     std_vector=np.ones(3, np.float32), settings_hash="h")
    info.write(tmp_path / "model_info.json")
    read = ModelInfo.read(tmp_path / "model_info.json")
    assert read.scoring == info.scoring and read.features == info.features
    assert json.loads((tmp_path / "model_info.json").read_text())["class_names"] == ["a", "b"]
