"""How much of a training epoch the host spends forming batches, against the whole epoch, in one run.

On ESC-10-shaped synthetic clips (320 training clips of 200 frames x 120 features, 80
validation clips), with ``esc10-fast``'s model and recipe (clip mode, time shifts,
SpecAugment masks, mixup), it times:

- the host's part of an epoch: forming every training batch (gathering the clips, the
  augmentation) and every validation batch, with the model's work removed;
- the whole epoch as the trainer runs it (``train_on_batch`` per batch, then validation);

and prints both, their ratio (the issue's target after a device-side pipeline: host at
most 5% of the epoch), and the host's seconds per step for batches of 1, 2, 6 and 12 clips
(constant per step would mean O(1) in the batch size), and per step of segment mode's
batches of 600 segments (the original recipe's, whose gathering the H100 run waited on).

    python benchmarks/bench_host.py --epochs 2
"""

from __future__ import annotations

import argparse
import time

from mclnn.quiet_import import import_tensorflow  # noqa: E402

import_tensorflow()

import numpy as np  # noqa: E402

from mclnn.config import load_config  # noqa: E402
from mclnn.train.clips.segments import ClipBatches, SegmentBatches, StandardizedClips  # noqa: E402
from mclnn.train.fit.batch_augmentation import AugmentedBatches, BatchAugmentation  # noqa: E402
from mclnn.train.model.kinds import model_kind  # noqa: E402


def _clips(rng, count, n_features=120):
    arrays = [rng.standard_normal((200, n_features)).astype(np.float32) for _ in range(count)]
    return StandardizedClips.from_arrays(arrays, names=[str(n) for n in range(count)], labels=np.arange(count) % 10,
                                         mean_vector=np.zeros(n_features, np.float32),
                                         std_vector=np.ones(n_features, np.float32), segment_frames=101)


def _host_pass(batches):
    started = time.perf_counter()
    for number in range(len(batches)):
        batches[number]
    batches.on_epoch_end()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    arguments = parser.parse_args()
    config = load_config("esc10-fast")
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
    for number in range(len(training)):  # warm-up: tracing and compilation
        trainable.train_on_batch(*training[number])
    for number in range(len(validation_batches)):
        validator.test_on_batch(*validation_batches[number])
    host, whole = [], []
    for _ in range(arguments.epochs):
        host.append(_host_pass(training) + _host_pass(validation_batches))
        started = time.perf_counter()
        for number in range(len(training)):
            trainable.train_on_batch(*training[number])
        training.on_epoch_end()
        for number in range(len(validation_batches)):
            validator.test_on_batch(*validation_batches[number])
        whole.append(time.perf_counter() - started)
    host_s, whole_s = float(np.median(host)), float(np.median(whole))
    print(f"epoch ({len(training)} training and {len(validation_batches)} validation batches): host {host_s:.3f} s, "
          f"whole {whole_s:.2f} s, host / whole {host_s / whole_s:.1%} (median of {arguments.epochs})")
    for clips_per_batch in (1, 2, 6, 12):
        batches = AugmentedBatches(ClipBatches(train, segment_frames=101, step=1, clips_per_batch=clips_per_batch,
                                               shuffle_seed=0), augmentation, seed=0)
        seconds = _host_pass(batches)
        print(f"host, {clips_per_batch:>2} clips a batch: {1e3 * seconds / len(batches):.2f} ms a step")
    segments = AugmentedBatches(SegmentBatches(train, segment_frames=101, step=1, batch_size=600, shuffle_seed=0),
                                augmentation, seed=0)
    seconds = _host_pass(segments)
    print(f"host, segment mode, 600 segments a batch: {1e3 * seconds / len(segments):.2f} ms a step "
          f"({len(segments)} steps, {seconds:.2f} s an epoch)")


if __name__ == "__main__":
    main()
