"""How much of a training epoch the host spends forming batches, against the whole epoch, in one run.

On ESC-10-shaped synthetic clips (320 training clips of 200 frames x 120 features, 80
validation clips), with ``esc10-fast-logmel``'s model and recipe (clip mode, time shifts,
SpecAugment masks, mixup), it times:

- the host's part of an epoch: every training and validation batch's plan (rows and
  random draws, :meth:`AugmentedBatches.plan`), with the model's work removed; and, for the
  pipeline before batches were formed on the device, the same plus gathering every batch's
  frames on the host (a lower bound of what that pipeline did there);
- the whole epoch as the trainer runs it (each batch formed where the backend computes,
  ``train_on_batch``, then validation), and under JAX also with runs of steps in one
  compiled call (:class:`~mclnn.train.fit.step_runs.StepRuns`, what
  ``training.steps_per_call`` asks for; here 9 steps a call), the ratio between the two;

and prints them, their ratios (the target: host at most 5% of the epoch), and the host's
milliseconds per step for batches of 1, 2, 6 and 12 clips (constant per step would mean
O(1) in the batch size) and of segment mode's 600 segments (the original recipe's, whose
gathering the H100 run waited on), with and without gathering.

    python benchmarks/bench_host.py --epochs 2
    KERAS_BACKEND=jax python benchmarks/bench_host.py --epochs 2
"""

from __future__ import annotations

import argparse
import time

from mclnn.quiet_import import import_tensorflow  # noqa: E402

import_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mclnn.config import load_config  # noqa: E402
from mclnn.config import TrainingSettings  # noqa: E402
from mclnn.train.clips.segments import ClipBatches, SegmentBatches, StandardizedClips  # noqa: E402
from mclnn.train.fit.batch_augmentation import AugmentedBatches, BatchAugmentation  # noqa: E402
from mclnn.train.fit.step_runs import runs_of_steps_available  # noqa: E402
from mclnn.train.fit.trainer import _run_epoch, _step_runs  # noqa: E402
from mclnn.train.model.kinds import model_kind  # noqa: E402


def _clips(rng, count, n_features=120):
    arrays = [rng.standard_normal((200, n_features)).astype(np.float32) for _ in range(count)]
    return StandardizedClips.from_arrays(arrays, names=[str(n) for n in range(count)], labels=np.arange(count) % 10,
                                         mean_vector=np.zeros(n_features, np.float32),
                                         std_vector=np.ones(n_features, np.float32), segment_frames=101)


def _host_pass(batches, *, gather=False):
    """Seconds of one pass over the batches' plans (and, with ``gather``, their frames gathered on the host)."""
    started = time.perf_counter()
    for number in range(len(batches)):
        batches.plan(number)
        if gather:
            batches.batches[number]
    batches.on_epoch_end()
    return time.perf_counter() - started


def _per_step(batches, label):
    plans, gathered = _host_pass(batches), _host_pass(batches, gather=True)
    print(f"host, {label}: {1e3 * plans / len(batches):.2f} ms a step; with the frames gathered on the host "
          f"{1e3 * gathered / len(batches):.2f} ms ({len(batches)} steps)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    arguments = parser.parse_args()
    # Under JAX the runs way takes 9 steps a call (6 calls an epoch of 54 batches of one shape).
    runs = ["training.steps_per_call=9"] if runs_of_steps_available() else []
    config = load_config("esc10-fast-logmel", overrides=runs)
    kind = model_kind(config)
    rng = np.random.default_rng(0)
    train, validation = _clips(rng, 320), _clips(rng, 80)
    augmentation = BatchAugmentation(config.training, n_classes=10, feature_blocks=2)
    mode, sizes = kind.training_mode, kind.sizes
    model = kind.build(n_features=120, n_classes=10, seed=0)
    trainable = mode.trainable(model, sizes)
    kind.compile(trainable)
    training = AugmentedBatches(mode.training_batches(train, sizes, shuffle_seed=0), augmentation, seed=0)
    validator, validation_batches = mode.validation(model, trainable, validation, sizes, compile=kind.compile)
    validation_batches = AugmentedBatches(validation_batches, augmentation)

    def rate(number, count):  # as the trainer's: set before every step
        trainable.optimizer.learning_rate.assign(1e-3)
        return 1e-3

    runs = _step_runs(trainable, training) if runs_of_steps_available() else None
    ways = {"a call a step": None} | ({} if runs is None else {"runs of steps in one call": runs})

    def epoch(way):
        started = time.perf_counter()
        _run_epoch(trainable.train_on_batch, training, before_step=rate, runs=way)
        _run_epoch(validator.test_on_batch, validation_batches)
        return time.perf_counter() - started

    for way in ways.values():  # warm-up: tracing and compilation
        epoch(way)
    host, gathering, whole = [], [], {name: [] for name in ways}
    for _ in range(arguments.epochs):
        host.append(_host_pass(training) + _host_pass(validation_batches))
        gathering.append(_host_pass(training, gather=True) + _host_pass(validation_batches, gather=True))
        for name, way in ways.items():
            whole[name].append(epoch(way))
    host_s, gathering_s = float(np.median(host)), float(np.median(gathering))
    whole_s = {name: float(np.median(times)) for name, times in whole.items()}
    first = next(iter(whole_s.values()))
    print(f"backend {keras.backend.backend()}; epoch ({len(training)} training and {len(validation_batches)} "
          f"validation batches, median of {arguments.epochs}): "
          + "; ".join(f"{name} {seconds:.2f} s ({first / seconds:.2f}x)" for name, seconds in whole_s.items()))
    print(f"host {host_s:.4f} s ({host_s / first:.2%} of the epoch); host with the frames gathered there "
          f"{gathering_s:.4f} s ({gathering_s / first:.2%})")
    for clips_per_batch in (1, 2, 6, 12):
        _per_step(AugmentedBatches(ClipBatches(train, segment_frames=101, step=1, clips_per_batch=clips_per_batch,
                                               shuffle_seed=0), augmentation, seed=0),
                  f"{clips_per_batch:>2} clips a batch")
    original = BatchAugmentation(TrainingSettings(), n_classes=10, feature_blocks=2)
    for recipe, augment in (("the original recipe", original), ("the fast recipe's augmentation", augmentation)):
        _per_step(AugmentedBatches(SegmentBatches(train, segment_frames=101, step=1, batch_size=600, shuffle_seed=0),
                                   augment, seed=0), f"segment mode, 600 segments a batch, {recipe}")

if __name__ == "__main__":
    main()
