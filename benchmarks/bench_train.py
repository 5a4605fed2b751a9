"""MCLNN training and inference speed: per-segment against clip-level, dense against banded.

On ESC-10-shaped data (clips of 200 frames x 120 features, segments of 101 frames with
step 1, the ESC-10 model, batches of 600 segments) it times, in one run:

- ``segment/dense``: every segment a sample, the kernel multiplied by the mask (the baseline);
- ``segment/banded``: every segment a sample, each unit's band gathered;
- ``clip/dense`` and ``clip/banded``: whole clips through the clip-level model; training
  on batches of the same 600 segments (6 clips), inference (XLA-compiled, as cv-train and
  ``mclnn predict`` score) on batches of the 32 clips cv-train scores at once.

and prints training and inference segments per second, the ratios to the baseline, and
the largest difference between per-segment and clip-level inference outputs.

    python benchmarks/bench_train.py
"""

from __future__ import annotations

import argparse
import functools
import os
import time

from mclnn.quiet_import import import_tensorflow  # noqa: E402

import_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mclnn.config import load_config  # noqa: E402
from mclnn.train.model.mclnn import build_model, clip_model, scoring_model  # noqa: E402
from mclnn.train.clips.segments import INFERENCE_CLIPS, segment_starts  # noqa: E402


def time_calls(function, repeats):
    function()  # warm-up: tracing and compilation
    started = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - started) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed batches per measurement")
    arguments = parser.parse_args()
    settings = load_config("esc10")
    segment_frames, step, batch = settings.model.segment_frames, settings.training.step, settings.training.batch_size
    rng = np.random.default_rng(0)
    starts = segment_starts(200, segment_frames=segment_frames, step=step)
    clips_per_batch = batch // len(starts)
    scored = rng.standard_normal((INFERENCE_CLIPS, 200, 120)).astype(np.float32)
    clips = scored[:clips_per_batch]
    labels = rng.integers(0, 10, size=clips_per_batch)
    segments = np.stack([clip[s:s + segment_frames] for clip in clips for s in starts])
    segment_labels = np.repeat(labels, len(starts))
    print(f"ESC-10 model, {batch} segments of {segment_frames} frames per batch "
          f"({clips_per_batch} clips of 200 frames), {os.cpu_count()} cores, keras {keras.__version__}")

    results, outputs = {}, {}
    for compute in ("dense", "banded"):
        for name in ("segment", "clip"):
            # A fresh model with the same seeded weights for every variant.
            model = build_model(settings.model, n_features=120, n_classes=10, seed=0, compute=compute)
            trained = clip_model(model, step=step) if name == "clip" else model
            inputs = clips if name == "clip" else segments
            targets = np.repeat(labels[:, None], len(starts), 1) if name == "clip" else segment_labels
            # Clips are scored as cv-train and `mclnn predict` score them: XLA-compiled.
            scorer, scored_inputs = (scoring_model(model, step=step), scored) if name == "clip" else (model, segments)
            outputs[name, compute] = np.asarray(scorer.predict_on_batch(inputs)).reshape(-1, 10)
            trained.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
            train_seconds = time_calls(functools.partial(trained.train_on_batch, inputs, targets), arguments.repeats)
            infer_seconds = time_calls(functools.partial(scorer.predict_on_batch, scored_inputs), arguments.repeats)
            scored_segments = len(scored) * len(starts) if name == "clip" else batch
            results[name, compute] = (batch / train_seconds, scored_segments / infer_seconds)

    base_train, base_infer = results["segment", "dense"]
    print(f"{'mode':16} {'train seg/s':>12} {'x baseline':>10} {'infer seg/s':>12} {'x baseline':>10}")
    for (name, compute), (train_rate, infer_rate) in results.items():
        print(f"{name + '/' + compute:16} {train_rate:12.0f} {train_rate / base_train:10.1f} "
              f"{infer_rate:12.0f} {infer_rate / base_infer:10.1f}")
    reference = outputs["segment", "dense"]
    for (name, compute), value in outputs.items():
        print(f"max |output - segment/dense| for {name}/{compute}: {np.max(np.abs(value - reference)):.2e}")


if __name__ == "__main__":
    main()
