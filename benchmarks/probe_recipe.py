"""Probe a training recipe on validation folds only: no test fold is loaded or scored.

Trains the given trials with the dataset's settings plus ``--set`` overrides (as cv-train
would, same seeds) and prints, per trial, the validation accuracy by epoch, the best and
last epochs, the mean of the last 5, the kept model's clip-level validation accuracy and
the training time; then their means. For choosing a recipe before the one test run.

    .venv/bin/python benchmarks/probe_recipe.py esc10 --out mclnn-data/esc10 --trials 1 2 \\
        --work /tmp/probe/cosine --set training.schedule=cosine --set training.epochs=40
"""

from __future__ import annotations

import argparse
import json
import os
import time

from mclnn.quiet_import import import_tensorflow  # noqa: E402

import_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from mclnn.config import load_config  # noqa: E402
from mclnn.dataset_file import load_dataset  # noqa: E402
from mclnn.folds import read_folds_manifest  # noqa: E402
from mclnn.train.fit.batch_augmentation import BatchAugmentation  # noqa: E402
from mclnn.train.evaluate.scorer import evaluate_model  # noqa: E402
from mclnn.train.evaluate.scorer import Scorer  # noqa: E402
from mclnn.train.model.kinds import model_kind  # noqa: E402
from mclnn.train.fit.trainer import train_trial  # noqa: E402
from mclnn.train.clips.trial_clips import TrialClips  # noqa: E402
from mclnn.train.trial_files import TrialPaths  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("--out", required=True, help="the folder holding Dataset.hdf5 and the folds")
    parser.add_argument("--work", required=True, help="where the probe's trial folders go (resumable)")
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--json", help="also write the per-trial rows to this JSON file")
    parser.add_argument("--model", default="mclnn")
    parser.add_argument("--dtype-policy", default="float32",
                        help="Keras dtype policy, e.g. mixed_bfloat16 (measured on CPUs with AMX or AVX-512 BF16)")
    arguments = parser.parse_args()
    keras.config.set_dtype_policy(arguments.dtype_policy)
    config = load_config(arguments.dataset, overrides=arguments.overrides)
    kind = model_kind(config, arguments.model)
    manifest = read_folds_manifest(arguments.out, config.name, config.folds.k)
    keras.config.disable_interactive_logging()
    print(f"recipe: {' '.join(arguments.overrides) or '(the entry as it is)'}; dtype policy {arguments.dtype_policy}")
    rows = []
    with load_dataset(os.path.join(arguments.out, manifest["dataset_file"])) as dataset:
        n_classes = len(dataset.class_names)
        augmentation = BatchAugmentation(config.training, n_classes=n_classes,
                                            feature_blocks=2 if config.features.delta else 1)
        for entry in manifest["trials"]:
            if entry["trial"] not in arguments.trials:
                continue
            clips = TrialClips(dataset, entry, out_dir=arguments.out, segment_frames=kind.segment_frames)
            validation = clips.clips("validation")
            paths = TrialPaths.of(arguments.work, entry["trial"])
            started = time.perf_counter()
            state = train_trial(kind, config.training, trial=entry["trial"], n_features=dataset.n_features,
                                augmentation=augmentation, train_clips=clips.clips("train"),
                                validation_clips=validation, paths=paths, run_hash="probe", model_hash="probe",
                                progress=lambda trial, epoch, epochs, logs: print(
                                    f"  trial {trial} epoch {epoch}/{epochs}: val_accuracy {logs['val_accuracy']:.4f}"
                                    f" accuracy {logs['accuracy']:.4f} lr {logs.get('learning_rate', 0):.2e}",
                                    flush=True))
            kept = keras.models.load_model(paths.model)
            clip_accuracy = evaluate_model(kept, Scorer(kind.scoring), validation, filenames=dataset.filenames,
                                           n_classes=n_classes)["scores"]["mean_probability_accuracy"]
            accuracies = state.history["val_accuracy"]
            rows.append((entry["trial"], entry["validation_fold"], max(accuracies), int(np.argmax(accuracies)) + 1,
                         accuracies[-1], float(np.mean(accuracies[-5:])), clip_accuracy, state.seconds,
                         time.perf_counter() - started, state.epoch))
    if arguments.json:
        fields = ("trial", "validation_fold", "best", "best_epoch", "last", "mean_last_5", "kept_clip_accuracy",
                  "train_seconds", "wall_seconds", "epochs")
        with open(arguments.json, "w") as file:
            json.dump({"recipe": arguments.overrides, "keras_backend": keras.config.backend(),
                       "trials": [dict(zip(fields, map(float, row))) for row in rows]}, file, indent=1)
    print("trial  validates  best (epoch)  last  mean last 5  kept clip acc  train s  wall s  epochs")
    for row in rows:
        print(f"{row[0]:>5}  {row[1]:>9}  {row[2]:.4f} ({row[3]:>3})  {row[4]:.4f}  {row[5]:.4f}       "
              f"{row[6]:.4f}        {row[7]:>6.0f}  {row[8]:>6.0f}  {row[9]:>6}")
    means = np.mean([row[2:] for row in rows], axis=0)
    print(f" mean             {means[0]:.4f}        {means[2]:.4f}  {means[3]:.4f}       {means[4]:.4f}        "
          f"{means[5]:>6.0f}  {means[6]:>6.0f}")


if __name__ == "__main__":
    main()
