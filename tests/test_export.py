"""An exported classifier: plain Keras, no mclnn, the probabilities mclnn predict gives."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import requires_tensorflow
from mclnn.config import load_config
from mclnn.folds import make_folds
from mclnn.errors import ParameterError
from mclnn.preprocess.audio import load_audio
from mclnn.preprocess.features import clip_features
from mclnn.preprocess.toy import write_toy_dataset
from mclnn.preprocess.transform import dataset_path, transform_dataset
from mclnn.train import cv_train, weights_dir
from mclnn.train.predict import export_classifier, list_clips, load_trained_models, predict_clips

pytestmark = pytest.mark.slow  # trains two trials, runs Keras in fresh processes

_PLAIN_KERAS = """
import json, sys
import keras, numpy as np
model = keras.models.load_model(sys.argv[1])
clips = np.load(sys.argv[2])
print(json.dumps({"probabilities": np.asarray(model.predict(clips, verbose=0)).tolist(),
                  "mclnn": any(name.startswith("mclnn") for name in sys.modules)}))
"""


# The features of the packaged esc10-fast (a band of mel frequencies, PCEN beside the log-mel), PCEN's
# parameters away from librosa's defaults: what the README snippet has to compute with librosa alone.
EXPORT_FEATURES = ("features.fmin=125", "features.fmax=7500", "features.pcen=true", "features.pcen_time_constant=1.5",
                   "features.pcen_power=0.25", "features.pcen_settled=true")


def _trained(root, *, overrides=(), trials=(1, 2)):
    """The weights folder of toy's trials ``trials``, trained 2 epochs with EXPORT_FEATURES and ``overrides``."""
    config = load_config("toy", overrides=[*EXPORT_FEATURES, "training.epochs=2", *overrides])
    transform_dataset(config, source_dir=write_toy_dataset(root / "audio"), out_dir=root / "out")
    make_folds(config, dataset_file=dataset_path(root / "out"), out_dir=root / "out", k=4, seed=0)
    for trial in trials:
        cv_train(config, out_dir=root / "out", trial=trial)
    return weights_dir(root / "out", {"tag": "TOY", "k": 4})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _trained(tmp_path_factory.mktemp("export"))


@pytest.mark.parametrize("trial", [None, 2])
def test_the_exported_model_gives_predicts_probabilities_without_mclnn(trained, tmp_path, trial):
    _check_export_against_predict(trained, tmp_path, trial=trial, trials=2)


def test_an_exported_model_with_average_and_max_pooling_needs_no_mclnn(tmp_path):
    """``model.pooling=average+max`` is an mclnn layer in training; the export writes it with Keras' own layers."""
    trained = _trained(tmp_path / "trained", overrides=["model.pooling=average+max"], trials=(1,))
    _check_export_against_predict(trained, tmp_path, trial=None, trials=1)


def _check_export_against_predict(trained, tmp_path, *, trial, trials):
    """Export ``trained`` (or its ``trial``), run the file in a Python without mclnn: predict's probabilities."""
    path = tmp_path / "toy.keras"
    export_classifier(trained, path, trial=trial)
    clips = list_clips(write_toy_dataset(tmp_path / "new", clips_per_class=1, seed=4))
    expected = predict_clips(load_trained_models(trained / f"trial_{trial:02d}" if trial else trained), clips)
    described = json.loads(path.with_suffix(".json").read_text())
    assert described["class_names"] == expected.class_names and len(described["models"]) == (1 if trial else trials)
    settings = load_config("toy", overrides=EXPORT_FEATURES).features
    features = np.stack([clip_features(load_audio(file, sr=described["features"]["sample_rate"]), settings=settings)
                         for _, file in clips])
    np.save(tmp_path / "clips.npy", features)
    ran = subprocess.run([sys.executable, "-c", _PLAIN_KERAS, str(path), str(tmp_path / "clips.npy")],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["mclnn"] is False
    np.testing.assert_allclose(result["probabilities"], expected.probabilities, atol=1e-5)


@requires_tensorflow
def test_the_exported_model_converts_to_a_saved_model_and_tflite_with_the_same_probabilities(trained, tmp_path):
    import keras
    import tensorflow as tf

    path = tmp_path / "toy.keras"
    export_classifier(trained, path)
    model = keras.models.load_model(path)
    clip = np.random.default_rng(3).standard_normal((1, 50, model.input_shape[-1])).astype(np.float32)
    expected = model.predict(clip, verbose=0)
    model.export(tmp_path / "saved", format="tf_saved_model")
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))  # kept: its functions use its variables
    np.testing.assert_allclose(reloaded.serve(clip).numpy(), expected, atol=1e-6)
    interpreter = tf.lite.Interpreter(model_content=tf.lite.TFLiteConverter.from_keras_model(model).convert())
    entry, exit_ = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(entry["index"], clip.shape)  # any number of frames, as the .keras file takes
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], clip)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(exit_["index"]), expected, atol=1e-5)


def test_export_refuses_what_it_cannot_write(trained, tmp_path):
    with pytest.raises(ParameterError, match=r"-o .*toy.h5: the exported model is a .keras file"):
        export_classifier(trained, tmp_path / "toy.h5")


def test_the_readme_snippet_computes_the_features_with_librosa_alone(trained, tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = readme.split("<!-- export-snippet -->\n```python\n", 1)[1].split("```", 1)[0]
    export_classifier(trained, tmp_path / "esc10.keras")
    new = write_toy_dataset(tmp_path / "new", clips_per_class=1, seed=6)
    name, clip = list_clips(new)[2]
    shutil.copy(clip, tmp_path / "clip.wav")
    ran = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, check=True, cwd=tmp_path)
    label, probabilities = ran.stdout.strip().splitlines()[-1].split(" ", 1)
    expected = predict_clips(load_trained_models(trained), [(name, clip)])
    np.testing.assert_allclose(json.loads(probabilities), expected.probabilities[0], atol=1e-4)
    assert label == expected.class_names[int(expected.probabilities[0].argmax())]


@pytest.mark.parametrize("exported", [False, True])
def test_classifier_predicts_arrays_and_files_as_predict_does(trained, tmp_path, exported):
    import mclnn
    from mclnn.preprocess.audio import soundfile

    path = trained
    if exported:
        path = tmp_path / "toy.keras"
        export_classifier(trained, path)
    classifier = mclnn.Classifier.load(path)
    clips = list_clips(write_toy_dataset(tmp_path / "new", clips_per_class=1, seed=8))
    expected = predict_clips(load_trained_models(trained), clips)
    assert classifier.class_names == expected.class_names
    y, sr = soundfile.read(str(clips[0][1]), dtype="float32")
    np.testing.assert_allclose(classifier.predict(y, sr), expected.probabilities[0], atol=1e-5)
    files = classifier.predict_files([file for _, file in clips] + [tmp_path / "missing.wav"])
    np.testing.assert_allclose(files.probabilities, expected.probabilities, atol=1e-5)
    assert [name for name, _ in files.failures] == [str(tmp_path / "missing.wav")]
    with pytest.raises(ParameterError, match="predict takes y of shape"):
        classifier.predict(np.zeros((2, 2, 2)), sr)
