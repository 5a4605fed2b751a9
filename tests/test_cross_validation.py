import json
import logging
import os
import shutil

import h5py
import numpy as np
import pytest

import mclnn
from mclnn.config import load_config
from mclnn.errors import DatasetError, ParameterError
from mclnn.preprocess.toy import write_toy_dataset
from mclnn.preprocess.transform import dataset_path
from mclnn.train import cv_train
from mclnn.train import TrialPaths, weights_dir


def toy_config(*overrides):
    return load_config("toy", overrides=["training.epochs=6", *overrides])


@pytest.fixture
def out(toy_folds, tmp_path):
    """A private copy of the toy outputs, so each test trains from scratch.

    Copied as `cp -r` copies, with new modification times: a copied folder is up to date.
    """
    return shutil.copytree(toy_folds, tmp_path / "out", copy_function=shutil.copyfile, symlinks=True)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["segment", "clip", "clip-mean"])
def test_two_trials_learn_well_above_chance_and_report(out, mode):
    config = toy_config(f"training.mode={mode}")
    cv_train(config, out_dir=out, trial=1, pictures=True)
    report = cv_train(config, out_dir=out, trial=2)
    assert report.trials_finished == [1, 2]
    assert [trial.test_fold for trial in report.trials] == [1, 4]
    pooled = report.pooled
    assert pooled["clips"] == 20
    assert pooled["mean_probability_accuracy"] >= 0.6  # chance is 0.2
    assert pooled["majority_accuracy"] >= 0.6
    folder = weights_dir(out, {"tag": "TOY", "k": 4})
    for name in ("report.json", "report.md", "confusion_mean_probability.png", "confusion_majority.png",
                 "trial_01_curves.png", "trial_02_curves.png", "trial_01/model.keras", "trial_01/history.json",
                 "trial_01_layer0_weights.png", "trial_01_layer0_outputs.png"):
        assert (folder / name).is_file(), name
    assert not (folder / "trial_01" / "checkpoint.keras").exists()
    markdown = (folder / "report.md").read_text()
    assert "| **pooled** |" in markdown and "| tone |" in markdown
    accuracies = [trial.scores["mean_probability_accuracy"] for trial in report.trials]
    assert report.over_trials["mean_probability_accuracy"] == {"mean": pytest.approx(np.mean(accuracies)),
                                                                  "std": pytest.approx(np.std(accuracies, ddof=1))}
    assert "| mean ± sd over trials | | | | " in markdown
    assert f"Seed 0; mclnn {mclnn.__version__}; written 20" in markdown
    assert "Model settings: hidden=[40], order=[2]" in markdown and f"mode={mode}" in markdown
    # A report of fewer trials removes the pictures of the others.
    shutil.rmtree(folder / "trial_02")
    cv_train(config, out_dir=out, trial=1, evaluate_only=True)
    assert (folder / "trial_01_curves.png").is_file() and not (folder / "trial_02_curves.png").exists()
    history = json.loads((folder / "trial_01" / "history.json").read_text())
    assert len(history["val_accuracy"]) == report.trials[0].epochs_run == 6
    assert report.trials[0].training_mode == mode


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["segment", "clip", "clip-mean"])
def test_rerun_skips_finished_and_resumes_interrupted(out, mode):
    config = toy_config(f"training.mode={mode}")
    epochs_seen = []

    def interrupt_after_two(trial, epoch, epochs, logs):
        epochs_seen.append((trial, epoch))
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cv_train(config, out_dir=out, trial=1, progress=interrupt_after_two)
    paths = TrialPaths.of(weights_dir(out, {"tag": "TOY", "k": 4}), 1)
    assert json.loads(paths.state.read_text())["epoch"] == 2 and paths.checkpoint.is_file()
    assert not paths.report.exists()

    resumed = []
    report = cv_train(config, out_dir=out, trial=1, progress=lambda *args: resumed.append(args[1]))
    assert resumed == [3, 4, 5, 6]
    assert len(json.loads(paths.history.read_text())["loss"]) == 6
    first_scores = report.pooled

    again = []
    report = cv_train(config, out_dir=out, trial=1, progress=lambda *args: again.append(args))
    assert again == [] and report.pooled == first_scores

    evaluated = cv_train(config, out_dir=out, trial=1, evaluate_only=True)
    assert evaluated.pooled["mean_probability_accuracy"] == first_scores["mean_probability_accuracy"]
    # Evaluation does not depend on settings that only affect training, nor on trials never trained.
    other_training = cv_train(toy_config("training.epochs=7", "training.learning_rate=0.5"), out_dir=out,
                              evaluate_only=True)
    assert other_training.trials_finished == [1] and other_training.pooled == first_scores
    with pytest.raises(ParameterError, match="trial 1's model was trained with other model settings"):
        cv_train(toy_config("training.step=3"), out_dir=out, trial=1, evaluate_only=True)


@pytest.mark.slow
def test_changed_settings_retrain_and_say_which(out, caplog):
    cv_train(toy_config(), out_dir=out, trial=1)
    seen = []
    with caplog.at_level(logging.INFO, logger="mclnn"):
        cv_train(toy_config("training.epochs=2"), out_dir=out, trial=1, progress=lambda *args: seen.append(args[1]))
    assert seen == [1, 2]
    assert "trial 1: training anew, as training.epochs 6 -> 2" in caplog.text


def test_early_stopping_keeps_the_best_epoch(out):
    # With a vanishing learning rate the validation loss cannot improve after epoch 1.
    config = toy_config("training.learning_rate=1.0e-12", "training.monitor=val_loss", "training.patience=2")
    report = cv_train(config, out_dir=out, trial=1)
    assert report.trials[0].epochs_run == 3
    assert report.trials[0].best_epoch == 1


@pytest.mark.slow
def test_seeds_make_runs_repeatable(out, tmp_path):
    config = toy_config("training.epochs=2")
    first = cv_train(config, out_dir=out, trial=1)
    history = json.loads((weights_dir(out, {"tag": "TOY", "k": 4}) / "trial_01" / "history.json").read_text())
    second_out = tmp_path / "second"
    os.rename(out, second_out)
    shutil.rmtree(second_out / "TOY_folds_4_weights")
    second = cv_train(config, out_dir=second_out, trial=1)
    again = json.loads((weights_dir(second_out, {"tag": "TOY", "k": 4}) / "trial_01" / "history.json").read_text())
    np.testing.assert_allclose(again["loss"], history["loss"], rtol=1e-5)
    assert second.pooled == first.pooled


def test_bad_inputs_are_named(out, tmp_path):
    with pytest.raises(DatasetError, match=r"no folds for toy with k=5; run `mclnn folds toy --k 5 --out .*` first"):
        cv_train(toy_config(), out_dir=out, k=5)
    with pytest.raises(ParameterError, match=r"--trial 9 is out of range: the folds have trials 1..4"):
        cv_train(toy_config(), out_dir=out, trial=9)
    with pytest.raises(DatasetError, match=r"trial_03/model.keras: no trained model for trial 3"):
        cv_train(toy_config(), out_dir=out, trial=3, evaluate_only=True)
    with pytest.raises(ParameterError, match=r"a segment of 111 frames .* is longer than every clip .* \(at most 80"):
        cv_train(toy_config("model.extra_frames=106"), out_dir=out, trial=1)
    from mclnn.folds import read_folds_manifest

    (out / read_folds_manifest(out, "toy", 4)["trials"][1]["files"]["standardization"]).unlink()
    with pytest.raises(DatasetError, match=r"Fold_02of04_TOY_seed0_TrainParameters.hdf5: standardization file missing"):
        cv_train(toy_config(), out_dir=out, trial=2)
    with h5py.File(dataset_path(out), "a") as handle:
        handle["features"][0, 0] += 1.0  # edited by hand
    with pytest.raises(DatasetError, match=r"Dataset.hdf5 changed after the folds were made; "
                                           r"rerun `mclnn folds toy --k 4 --out .*`"):
        cv_train(toy_config(), out_dir=out, trial=1)
    assert not (out / "TOY_folds_4_weights" / "report.json").exists()


def test_clip_mode_model_loads_and_predicts_through_plain_keras(out, rng):
    import keras

    from mclnn.train.model.mclnn import clip_model

    cv_train(toy_config("training.mode=clip", "training.epochs=2"), out_dir=out, trial=1)
    model = keras.models.load_model(weights_dir(out, {"tag": "TOY", "k": 4}) / "trial_01" / "model.keras")
    clip = rng.standard_normal((1, 80, 80)).astype(np.float32)
    segments = np.stack([clip[0, start:start + 15] for start in range(0, 80 - 15 + 1, 2)])
    np.testing.assert_allclose(np.asarray(clip_model(model, step=2)(clip))[0], model.predict(segments, verbose=0),
                               atol=1e-5)


RECIPE = ("training.schedule=cosine", "training.warmup_epochs=1", "training.learning_rate=0.004",
          "training.mixup_alpha=0.4", "training.label_smoothing=0.1", "training.time_shift=true",
          "training.frequency_masks=1", "training.time_masks=1", "training.weight_decay=0.01", "training.epochs=4",
          "training.patience=4")


def test_recipe_trains_with_schedule_and_augmentation_and_writes_event_files(out):
    report = cv_train(toy_config(*RECIPE), out_dir=out, trial=1)
    trial = report.trials[0]
    assert trial.epochs_run == 4 and trial.kept == "best"
    folder = weights_dir(out, {"tag": "TOY", "k": 4}) / "trial_01"
    history = json.loads((folder / "history.json").read_text())
    # Warm-up over epoch 1, then cosine decay to 0 at epoch 4 (the logged rate is each epoch's last).
    np.testing.assert_allclose(history["learning_rate"], [0.004, 0.004 * 0.75, 0.004 * 0.25, 0.0], atol=1e-9)
    tf = pytest.importorskip("tensorflow", reason="the event files are read back with TensorFlow's reader")
    logged = {}
    for run in ("train", "validation"):  # Keras' layout: one run each, epoch_* tags, so the curves overlay
        events = [event for path in (folder / "events" / run).iterdir()
                  for event in tf.compat.v1.train.summary_iterator(str(path)) if event.summary.value]
        logged.update({(run, value.tag, event.step): float(tf.make_ndarray(value.tensor))
                       for event in events for value in event.summary.value})
    assert logged[("validation", "epoch_accuracy", 4)] == pytest.approx(history["val_accuracy"][3])
    assert logged[("train", "epoch_accuracy", 4)] == pytest.approx(history["accuracy"][3])
    assert logged[("train", "epoch_learning_rate", 2)] == pytest.approx(0.003)
    assert {(run, tag) for run, tag, _ in logged} == {
        ("train", "epoch_loss"), ("train", "epoch_accuracy"), ("train", "epoch_learning_rate"),
        ("validation", "epoch_loss"), ("validation", "epoch_accuracy")}


def test_keep_last_keeps_the_last_epoch(out):
    import keras

    from mclnn import load_dataset
    from mclnn.folds import read_folds_manifest
    from mclnn.train.fit.batch_augmentation import BatchAugmentation
    from mclnn.train.model.kinds import model_kind
    from mclnn.train.fit.trainer import train_trial
    from mclnn.train.clips.trial_clips import TrialClips

    config = toy_config(*RECIPE, "training.keep=last")
    kind = model_kind(config)
    paths = TrialPaths.of(out / "kept", 1)
    with load_dataset(dataset_path(out)) as dataset:
        clips = TrialClips(dataset, read_folds_manifest(out, "toy", 4)["trials"][0], out_dir=out,
                           segment_frames=kind.segment_frames)
        state = train_trial(kind, config.training, trial=1, n_features=dataset.n_features,
                            augmentation=BatchAugmentation(config.training, n_classes=5, feature_blocks=2),
                            train_clips=clips.clips("train"), validation_clips=clips.clips("validation"),
                            paths=paths, run_hash="h", model_hash="m")
    assert state.epoch == 4
    kept, last = keras.models.load_model(paths.model), keras.models.load_model(paths.checkpoint)
    for kept_weights, last_weights in zip(kept.get_weights(), kind.training_mode.kept(last, kind.sizes).get_weights()):
        np.testing.assert_array_equal(kept_weights, last_weights)


@pytest.mark.slow
def test_seeds_repeat_the_cross_validation_and_predict_averages_them(out):
    from mclnn.train.predict import load_trained_models

    config = toy_config("training.epochs=2")
    report = cv_train(config, out_dir=out, trial=1, seeds=[3, 4])
    folder = weights_dir(out, {"tag": "TOY", "k": 4})
    assert report.seeds == [3, 4] and report.trials == [1] and report.clips == 10
    for seed in (3, 4):
        seed_report = json.loads((folder / f"seed_{seed}" / "report.json").read_text())
        assert any(row["mean_probability_accuracy"] == seed_report["pooled"]["mean_probability_accuracy"]
                   for row in report.per_seed if row["seed"] == seed)
    first, second = (json.loads((folder / f"seed_{seed}" / "trial_01" / "report.json").read_text())["clips"]
                     for seed in (3, 4))
    assert [clip["mean_probabilities"] for clip in first] != [clip["mean_probabilities"] for clip in second]
    ensemble = [np.argmax(np.add(a["mean_probabilities"], b["mean_probabilities"])) == a["label"]
                for a, b in zip(first, second)]
    assert report.ensemble["mean_probability_accuracy"] == pytest.approx(np.mean(ensemble))
    assert (folder / "report_seeds.md").is_file()
    assert len(load_trained_models(folder)) == 2
    # A rerun finds both seeds' trials finished and reports the same.
    assert cv_train(config, out_dir=out, trial=1, seeds=[3, 4]).per_seed == report.per_seed


def test_models_record_the_features_of_the_dataset_file_not_the_entry(out, caplog):
    from mclnn.train.predict import load_trained_models, predict_clips

    with caplog.at_level("WARNING"):
        cv_train(toy_config("training.epochs=1", "features.top_db=70"), out_dir=out, trial=1)
    assert "made with other feature settings than toy's entry: top_db=80.0 (the entry has 70.0)" in caplog.text
    info_path = weights_dir(out, {"tag": "TOY", "k": 4}) / "trial_01" / "model_info.json"
    info = json.loads(info_path.read_text())
    assert info["features"]["top_db"] == 80.0
    # A model_info.json whose features do not give the model's input is refused, not used.
    info["features"]["n_mels"] = 30
    info_path.write_text(json.dumps(info))
    clips = [("clip.wav", write_toy_dataset(out / "new", clips_per_class=1, seed=5) / "tone" / "tone_00.wav")]
    with pytest.raises(DatasetError, match=r"takes 80 features per frame and its statistics have 80, but its "
                                           r"model_info.json's feature settings give 60"):
        predict_clips(load_trained_models(info_path.parent), clips)


def test_a_rerun_retrains_a_damaged_model_and_clears_a_dead_runs_leftovers(out, caplog):
    from mclnn.train.model.saved_models import saved_model_intact

    config = toy_config("training.epochs=2")
    first = cv_train(config, out_dir=out, trial=1)
    paths = TrialPaths.of(weights_dir(out, {"tag": "TOY", "k": 4}), 1)
    leftover = paths.folder / f".checkpoint.{2**22 + 1}.partial.keras"  # a killed run's, above any process id
    leftover.write_bytes(b"half a checkpoint")
    paths.model.write_bytes(b"")  # a full disk, say
    with caplog.at_level(logging.WARNING):
        again = cv_train(config, out_dir=out, trial=1)
    assert "model.keras is missing or damaged; training it anew" in caplog.text
    assert saved_model_intact(paths.model) and not leftover.exists()
    assert again.pooled == first.pooled  # the same seeded training, the same scores


@pytest.mark.slow
def test_every_stage_writes_the_entry_it_ran_with_and_the_weights_one_replays_the_run(out, tmp_path, caplog):
    config = toy_config("training.epochs=2", "training.spectral_tilt=0.2")
    cv_train(config, out_dir=out, trial=1)
    weights = weights_dir(out, {"tag": "TOY", "k": 4})
    replayed = load_config("toy", config_path=weights / "settings.yaml")
    assert replayed.training == config.training and replayed.model == config.model
    with caplog.at_level(logging.INFO):
        cv_train(replayed, out_dir=out, trial=1)
    assert "trial 1 is finished; skipping it" in caplog.text  # the very run: same settings, same trial
    assert (out / "TOY_folds_4_settings.yaml").is_file()  # beside the folds (the set in force's, linked)


@pytest.mark.slow
def test_keras_callbacks_see_every_epoch_of_every_trial(out):
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append((logs["trial"], epoch, round(logs["val_accuracy"], 6)))

    recorder = Recorder()
    cv_train(toy_config("training.epochs=2"), out_dir=out, trial=2, callbacks=[recorder])
    history = json.loads((weights_dir(out, {"tag": "TOY", "k": 4}) / "trial_02" / "history.json").read_text())
    assert recorder.seen == [(2, epoch, round(value, 6)) for epoch, value in enumerate(history["val_accuracy"])]
    with pytest.raises(ParameterError, match="callbacks are called in this process"):
        cv_train(toy_config(), out_dir=out, jobs=2, callbacks=[recorder])
