"""The epoch loop on its own: synthetic two-class clips, a tiny MCLNN, early stopping, the kept model, a stopped run."""

import json

import keras
import numpy as np
import pytest

from mclnn.config import load_config
from mclnn.errors import ParameterError
from mclnn.train.clips.segments import ClipBatches, StandardizedClips
from mclnn.train.fit.batch_augmentation import AugmentedBatches, BatchAugmentation
from mclnn.train.fit import trainer
from mclnn.train.fit.step_runs import StepRuns
from mclnn.train.fit.trainer import train_trial
from mclnn.train.model.kinds import model_kind
from mclnn.train.trial_files import TrainingState, TrialPaths

N_FEATURES = 80  # the toy entry's 40 mel bands and their delta


def _clips(rng, count):
    """Class 0 is loud in the low half of the features, class 1 in the high half."""
    labels = np.arange(count) % 2
    arrays = []
    for label in labels:
        clip = rng.standard_normal((30, N_FEATURES)).astype(np.float32)
        clip[:, label * 40:(label + 1) * 40] += 1.5
        arrays.append(clip)
    return StandardizedClips.from_arrays(arrays, names=[f"clip{n}" for n in range(count)], labels=labels,
                                         mean_vector=np.zeros(N_FEATURES, np.float32),
                                         std_vector=np.ones(N_FEATURES, np.float32), segment_frames=15)


def _train(tmp_path, rng, *overrides, folder="trial"):
    config = load_config("toy", overrides=["training.epochs=6", "training.batch_size=16", *overrides])
    kind = model_kind(config)
    paths = TrialPaths.of(tmp_path / folder, 1)
    state = train_trial(kind, config.training, trial=1, n_features=N_FEATURES,
                        augmentation=BatchAugmentation(config.training, n_classes=2, feature_blocks=2),
                        train_clips=_clips(rng, 24), validation_clips=_clips(rng, 8), paths=paths, run_hash="run",
                        model_hash="model")
    return kind, paths, state


@pytest.mark.parametrize("monitor, values, best_epoch, wait", [
    ("val_accuracy", [0.5, 0.7, 0.6, 0.7], 2, 2),  # higher is better; a tie is no improvement
    ("val_loss", [0.9, 0.8, 0.85, 0.7], 4, 0),  # lower is better
])
def test_state_records_the_best_epoch_by_the_monitors_direction(monitor, values, best_epoch, wait):
    state = TrainingState("hash")
    improved = [state.record({monitor: value, "loss": 1.0}, seconds=1.0, monitor=monitor) for value in values]
    assert state.best_epoch == best_epoch and state.wait == wait and state.epoch == len(values)
    assert state.best == values[best_epoch - 1] and improved[0] and improved[best_epoch - 1]
    assert state.history[monitor] == values and state.seconds == len(values)


def test_trains_learns_and_writes_its_files(tmp_path, rng):
    kind, paths, state = _train(tmp_path, rng)
    history = json.loads(paths.history.read_text())
    assert state.stopped and state.epoch == 6
    assert all(len(history[key]) == 6 for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"))
    assert max(history["val_accuracy"]) >= 0.9  # the classes are far apart
    assert state.best_epoch == int(np.argmax(history["val_accuracy"])) + 1
    assert TrainingState.read(paths.state) == state
    assert list(paths.events.iterdir())
    kept = keras.models.load_model(paths.model)
    assert kept.input_shape == (None, kind.segment_frames, N_FEATURES)


def test_patience_stops_after_that_many_epochs_without_improvement(tmp_path, rng):
    _, _, state = _train(tmp_path, rng, "training.epochs=30", "training.patience=2")
    assert state.stopped and state.wait == 2 and state.epoch == state.best_epoch + 2 < 30


def test_a_finished_trial_is_not_trained_again(tmp_path, rng):
    _, paths, state = _train(tmp_path, rng)
    written = paths.model.stat().st_mtime_ns
    _, _, again = _train(tmp_path, rng)
    assert again == state and paths.model.stat().st_mtime_ns == written


class _Killed(Exception):
    pass


def _kill_after(epoch):
    def progress(trial, done, epochs, logs):
        if done == epoch:
            raise _Killed  # after the epoch's checkpoint and state are written, as a kill between epochs

    return progress


@pytest.mark.parametrize("recipe, mid_epoch", [
    ((), False),
    pytest.param((), True, marks=pytest.mark.slow),
    pytest.param(("training.time_shift=true", "training.mixup_alpha=0.4", "training.frequency_masks=1",
                  "training.schedule=cosine"), False, marks=pytest.mark.slow),
    pytest.param(("training.mode=segment", "training.frequency_shift=2", "training.spectral_tilt=0.3"), True,
                 marks=pytest.mark.slow),
    (("training.ema_momentum=0.9",), False),  # the averaged weights are in the checkpoint too
])
def test_a_resumed_trial_ends_where_an_uninterrupted_one_does(tmp_path, monkeypatch, recipe, mid_epoch):
    config = load_config("toy", overrides=["training.epochs=5", "training.batch_size=16", *recipe])
    kind = model_kind(config)

    def train(folder, progress=None):
        paths = TrialPaths.of(tmp_path / folder, 1)
        rng = np.random.default_rng(0)  # the same clips in every run
        state = train_trial(kind, config.training, trial=1, n_features=N_FEATURES,
                            augmentation=BatchAugmentation(config.training, n_classes=2, feature_blocks=2),
                            train_clips=_clips(rng, 24), validation_clips=_clips(rng, 8), paths=paths,
                            run_hash="run", model_hash="model", progress=progress)
        return state, paths

    whole, whole_paths = train("whole")
    if mid_epoch:  # killed in the middle of epoch 3's batches: it resumes after epoch 2
        original = AugmentedBatches.plan

        def dies_in_epoch_3(self, number):
            if self._seed is not None and self._epoch == 2 and number == 1:
                raise _Killed
            return original(self, number)

        monkeypatch.setattr(AugmentedBatches, "plan", dies_in_epoch_3)
        with pytest.raises(_Killed):
            train("resumed")
        monkeypatch.setattr(AugmentedBatches, "plan", original)
    else:
        with pytest.raises(_Killed):
            train("resumed", _kill_after(2))
    resumed, resumed_paths = train("resumed")
    assert resumed.resumed_after == [2]
    for key in whole.history:
        assert resumed.history[key] == whole.history[key], key
    assert (resumed.best_epoch, resumed.best) == (whole.best_epoch, whole.best)
    for kept, reference in zip(keras.models.load_model(resumed_paths.model).get_weights(),
                               keras.models.load_model(whole_paths.model).get_weights()):
        np.testing.assert_array_equal(kept, reference)


def test_with_ema_validation_and_the_kept_model_use_the_averaged_weights(tmp_path, rng):
    _, paths, _ = _train(tmp_path, rng, "training.ema_momentum=0.9", "training.keep=last")
    checkpoint = keras.models.load_model(paths.checkpoint)  # the raw weights, and the optimizer's average
    optimizer = checkpoint.optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == 0.9
    raw = {variable.path: np.asarray(variable) for variable in checkpoint.trainable_variables}
    averaged = {variable.path: np.asarray(optimizer._model_variables_moving_average[
        optimizer._get_variable_index(variable)]) for variable in checkpoint.trainable_variables}
    kept = {variable.path: np.asarray(variable) for variable in keras.models.load_model(paths.model).trainable_variables}
    assert set(kept) == set(averaged)
    assert not any(np.array_equal(kept[name], raw[name]) for name in kept)
    for name, value in kept.items():
        np.testing.assert_array_equal(value, averaged[name])


def test_a_loss_that_is_not_finite_stops_the_trial_naming_the_epoch(tmp_path, rng):
    config = load_config("toy", overrides=["training.epochs=3", "training.batch_size=16"])
    clips = _clips(rng, 24)
    clips.frames[5, 7] = np.nan  # as NaN statistics would make every frame
    with pytest.raises(ParameterError, match=r"^trial 1, epoch 1: the loss became nan .*; the last good checkpoint "
                                             r"is kept\. Lower training.learning_rate"):
        train_trial(model_kind(config), config.training, trial=1, n_features=N_FEATURES,
                    augmentation=BatchAugmentation(config.training, n_classes=2, feature_blocks=2),
                    train_clips=clips, validation_clips=_clips(rng, 8), paths=TrialPaths.of(tmp_path, 1),
                    run_hash="run", model_hash="model")
    assert not TrialPaths.of(tmp_path, 1).model.exists()


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="several steps a compiled call run under JAX only")
def test_runs_of_steps_in_one_call_train_as_a_call_a_step_does(tmp_path, monkeypatch):
    overrides = ["training.mode=clip", "training.time_shift=true", "training.time_masks=1",
                 "training.time_mask_frames=4", "training.frequency_masks=1", "training.frequency_mask_bands=5",
                 "training.mixup_alpha=0.4", "training.label_smoothing=0.1", "training.schedule=cosine",
                 "training.warmup_epochs=1"]
    calls = []
    run_steps = StepRuns.__call__
    monkeypatch.setattr(StepRuns, "__call__", lambda self, *args: calls.append(len(args[1])) or run_steps(self, *args))
    _, _, stepped = _train(tmp_path, np.random.default_rng(0), *overrides, folder="stepped")
    assert calls == []
    _, _, runs = _train(tmp_path, np.random.default_rng(0), *overrides, "training.steps_per_call=5", folder="runs")
    assert calls == [5, 5, 2] * 6  # 12 batches of one shape an epoch, at most 5 a call
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(runs.history[key], stepped.history[key], rtol=1e-4, err_msg=key)


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="under JAX several steps a call are allowed")
def test_several_steps_a_call_outside_jax_is_refused_by_name(tmp_path, rng):
    with pytest.raises(ParameterError, match=r"training.steps_per_call=4 needs the JAX backend \(KERAS_BACKEND=jax\)"):
        _train(tmp_path, rng, "training.steps_per_call=4")


def test_runs_of_steps_break_where_the_batch_shape_changes(rng):
    arrays = [rng.standard_normal((n, 4)).astype(np.float32) for n in (20,) * 5 + (30,) * 4]
    clips = StandardizedClips.from_arrays(arrays, names=[str(n) for n in range(9)], labels=np.arange(9) % 2,
                                          mean_vector=np.zeros(4), std_vector=np.ones(4), segment_frames=10)
    batches = AugmentedBatches(ClipBatches(clips, segment_frames=10, step=1, clips_per_batch=2, shuffle_seed=0),
                               BatchAugmentation(load_config("toy").training, n_classes=2), seed=0)
    calls = []

    def runs(table, plans, labels, rates):
        assert len({(plan.n_frames, len(plan.starts)) for plan in plans}) == 1
        calls.append(rates)
        return [{"loss": 1.0}] * len(plans)

    runs.steps = 100
    steps = list(trainer._runs_of_steps(runs, batches, lambda number, count: float(number)))
    assert [rate for _, _, rate in steps] == list(map(float, range(len(batches))))  # every step, in order
    assert sum(map(len, calls)) == len(batches) == 5 and len(calls) >= 3  # three shapes: 2 or 1 clips of 20, 2 of 30
