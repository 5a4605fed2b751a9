import json
import shutil

import keras
import numpy as np
import pytest

from mclnn.config import load_config
from mclnn.errors import ParameterError
from mclnn.folds import make_folds
from mclnn.preprocess.toy import write_toy_dataset
from mclnn.preprocess.transform import dataset_path, transform_dataset
from mclnn.train import cv_train, weights_dir
from mclnn.train.model.baselines import CNN, MLP, baseline_hparams, build_baseline, sparse_binary_crossentropy
from mclnn.train.model.kinds import model_kind


def test_cnn_has_the_dcase2018_baselines_size():
    hparams = baseline_hparams(CNN, load_config("esc10-dcase2018").features)
    assert (hparams["example_frames"], hparams["example_hop"]) == (25, 12)
    cnn = build_baseline(CNN, hparams, n_frames=25, n_features=64, n_classes=41, seed=0)
    # 7x7x100 + 5x5x100x150 + 3x3x150x200 weights, their biases, and the 41-class softmax: about 658K
    assert cnn.count_params() == (49 * 100 + 100) + (25 * 100 * 150 + 150) + (9 * 150 * 200 + 200) + (200 * 41 + 41)
    assert cnn.output_shape == (None, 41)
    kernel = cnn.get_layer("conv1").kernel.numpy()
    assert abs(kernel.std() - 0.01 * 0.88) < 0.001 and np.abs(kernel).max() <= 0.02 + 1e-7  # truncated at 2 std


def test_mlp_layers_follow_nl_and_nh():
    features = load_config("esc10-dcase2018").features
    mlp = build_baseline(MLP, baseline_hparams(MLP, features, "nl=3,nh=50"), n_frames=25, n_features=64,
                         n_classes=10)
    assert [layer.units for layer in mlp.layers if isinstance(layer, keras.layers.Dense)] == [50, 50, 50, 10]


def test_hparams_overrides_and_errors():
    features = load_config("toy").features  # 512-sample hop at 22050 Hz: 0.25 s is 11 frames
    hparams = baseline_hparams(CNN, features, "classifier=logistic, lr=0.001,batch_size=32")
    assert (hparams["classifier"], hparams["lr"], hparams["batch_size"]) == ("logistic", 0.001, 32)
    assert (hparams["example_frames"], hparams["example_hop"]) == (11, 5)
    with pytest.raises(ParameterError, match="unknown name 'nh' for the cnn model; known: adam_eps, batch_size"):
        baseline_hparams(CNN, features, "nh=10")
    with pytest.raises(ParameterError, match="--hparams: batch_size='big' is not a int"):
        baseline_hparams(MLP, features, "batch_size=big")
    with pytest.raises(ParameterError, match="classifier must be softmax or logistic, got 'hinge'"):
        baseline_hparams(MLP, features, "classifier=hinge")
    with pytest.raises(ParameterError, match="--hparams sets the cnn and mlp baselines"):
        model_kind(load_config("toy"), "mclnn", "lr=0.1")
    with pytest.raises(ParameterError, match="--model must be one of mclnn, cnn, mlp; got .svm."):
        model_kind(load_config("toy"), "svm")


def test_logistic_classifier_loss_is_binary_cross_entropy_of_one_hot_labels():
    probabilities = np.array([[0.7, 0.2, 0.6], [0.1, 0.8, 0.3]], dtype=np.float32)
    labels = np.array([0, 2])
    one_hot = np.eye(3)[labels]
    expected = -np.mean(one_hot * np.log(probabilities) + (1 - one_hot) * np.log(1 - probabilities), axis=1)
    np.testing.assert_allclose(np.asarray(sparse_binary_crossentropy(labels, probabilities)), expected, rtol=1e-5)


@pytest.fixture(scope="module")
def toy_dcase_folds(tmp_path_factory):
    """The toy clips with the DCASE 2018 log-mel features, transformed and split into 4 folds, once."""
    root = tmp_path_factory.mktemp("toy-dcase")
    source = write_toy_dataset(root / "audio")
    config = load_config("toy-dcase2018")
    transform_dataset(config, source_dir=source, out_dir=root / "out")
    make_folds(config, dataset_file=dataset_path(root / "out"), out_dir=root / "out", k=4, seed=0)
    return source, root / "out"


@pytest.fixture
def toy_dcase(toy_dcase_folds, tmp_path):
    """A copy of the folds' output folder for one test: no test sees another's weights."""
    source, shared = toy_dcase_folds
    out = tmp_path / "out"
    shutil.copytree(shared, out, copy_function=shutil.copy2)
    return source, out


@pytest.mark.slow
@pytest.mark.parametrize("model, hparams", [("cnn", "lr=0.001"), ("mlp", "lr=0.001,classifier=logistic")])
def test_baseline_trains_reports_and_predicts_what_the_report_scored(toy_dcase, model, hparams):
    from mclnn.train.predict import list_clips, load_trained_models, predict_clips

    source, out = toy_dcase
    config = load_config("toy-dcase2018", overrides=["training.epochs=8"])
    report = cv_train(config, out_dir=out, trial=1, model=model, hparams=hparams)
    folder = weights_dir(out, {"tag": "TOY_DCASE2018", "k": 4}, f"{model}_weights")
    assert folder.name == f"TOY_DCASE2018_folds_4_{model}_weights"
    assert report.model == model and report.hparams["lr"] == 0.001
    trial = json.loads((folder / "trial_01" / "report.json").read_text())
    assert trial["scores"]["mean_probability_accuracy"] >= 0.6  # chance is 0.2
    assert len(trial["scores"]["map_at_3_per_class"]) == 5
    assert f"# toy-dcase2018: {model.upper()} 4-fold cross-validation" in (folder / "report.md").read_text()
    # Predicting the test clips from their audio gives the probabilities the report scored.
    tested = {clip["filename"]: clip["mean_probabilities"] for clip in trial["clips"]}
    clips = [(name, path) for name, path in list_clips(source) if name in tested]
    predictions = predict_clips(load_trained_models(folder / "trial_01"), clips)
    assert len(predictions.names) == len(tested) == 10 and not predictions.failures
    for name, row in zip(predictions.names, predictions.probabilities):
        np.testing.assert_allclose(row, tested[name], atol=1e-5)


@pytest.mark.parametrize("hparams", ["lr=0.002", "lr=0.002,classifier=logistic"])
def test_baselines_take_the_training_recipe(toy_dcase, hparams):
    _, out = toy_dcase
    recipe = ["training.epochs=3", "training.schedule=one-cycle", "training.mixup_alpha=0.4",
              "training.label_smoothing=0.1", "training.weight_decay=0.001", "training.time_shift=true"]
    config = load_config("toy-dcase2018", overrides=recipe)
    report = cv_train(config, out_dir=out, trial=2, model="mlp", hparams=hparams)
    folder = weights_dir(out, {"tag": "TOY_DCASE2018", "k": 4}, "mlp_weights")
    history = json.loads((folder / "trial_02" / "history.json").read_text())
    # One-cycle from lr / 25 up to lr over 30% of the 3 epochs, then down to 0.
    assert history["learning_rate"][-1] == pytest.approx(0.0, abs=1e-9)
    assert max(history["learning_rate"]) <= 0.002
    assert report.trials[0].epochs_run == 3


def test_hparams_read_values_as_set_does():
    features = load_config("esc10-dcase2018").features
    assert baseline_hparams(CNN, features, "lr=1e-4, batch_size=32, adam_eps=1")["lr"] == 1e-4
    assert baseline_hparams(CNN, features, "adam_eps=1")["adam_eps"] == 1.0
    with pytest.raises(ParameterError, match=r"^--hparams 'lr': expected name=value, e.g. lr=0.001$"):
        baseline_hparams(CNN, features, "lr")
    with pytest.raises(ParameterError, match=r"^--hparams 'lr=\[': the value is not valid YAML$"):
        baseline_hparams(CNN, features, "lr=[")
    with pytest.raises(ParameterError, match=r"^--hparams: batch_size=6.5 is not a int$"):
        baseline_hparams(CNN, features, "batch_size=6.5")


def test_hparams_and_settings_from_python_dicts():
    features = load_config("esc10-dcase2018").features
    assert baseline_hparams(CNN, features, {"lr": 0.002, "classifier": "logistic"}) == \
        baseline_hparams(CNN, features, "lr=0.002,classifier=logistic")
    assert load_config("toy", overrides={"training": {"epochs": 7}, "features": {"n_mels": 32}}) == \
        load_config("toy", overrides=["training.epochs=7", "features.n_mels=32"])
    with pytest.raises(ParameterError, match=r"overrides\['features'\]\['n_mels'\]: .*n_mels must be positive"):
        load_config("toy", overrides={"features": {"n_mels": 0}})
