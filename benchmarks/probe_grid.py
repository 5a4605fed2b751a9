"""Run a grid of recipe probes on validation folds, several at once, and compare the recipes.

Each run is benchmarks/probe_recipe.py on one trial with one seed: no test fold is
loaded or scored. Runs start seed by seed (every recipe's and trial's first seed before
any second seed), so a grid cut off by ``--deadline`` has compared the recipes on the
runs it finished. The summary compares each recipe with the first one on the
(trial, seed) pairs both finished. ``--parallel`` runs share the machine: on a GPU
machine under ``KERAS_BACKEND=jax``, with ``XLA_PYTHON_CLIENT_PREALLOCATE=false``.

    python benchmarks/probe_grid.py esc10-long --out DIR --work /tmp/grid --parallel 12 \\
        --trials 1 2 3 4 5 --seeds 0 1 --recipe G= --recipe M=training.epochs=160,training.patience=160
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROBE = Path(__file__).with_name("probe_recipe.py")
MEASURES = ("best", "mean_last_5", "kept_clip_accuracy", "wall_seconds")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("--out", required=True, help="the folder holding Dataset.hdf5 and the folds")
    parser.add_argument("--work", required=True, type=Path, help="trial folders, logs and JSON rows go here")
    parser.add_argument("--recipe", action="append", required=True,
                        help="NAME=SECTION.KEY=VALUE,... (NAME= for the entry as it is); the first is the reference")
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=None, help="seconds after which runs are stopped")
    arguments = parser.parse_args()
    recipes = dict(_recipe(text) for text in arguments.recipe)
    runs = [(name, trial, seed) for seed in arguments.seeds for trial in arguments.trials for name in recipes]
    arguments.work.mkdir(parents=True, exist_ok=True)
    stop_at = time.monotonic() + arguments.deadline if arguments.deadline else None

    def run(name, trial, seed):
        stem = arguments.work / f"{name}-t{trial}-s{seed}"
        if stem.with_suffix(".json").is_file():
            return
        remaining = None if stop_at is None else stop_at - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        command = [sys.executable, str(PROBE), arguments.dataset, "--out", arguments.out,
                   "--work", str(arguments.work / f"{name}-s{seed}"), "--trials", str(trial),
                   "--json", str(stem.with_suffix(".json")), "--set", f"training.seed={seed}"]
        command += [part for override in recipes[name] for part in ("--set", override)]
        with open(stem.with_suffix(".log"), "w") as log:
            try:
                subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=remaining, check=False)
            except subprocess.TimeoutExpired:
                log.write("stopped at the deadline\n")

    with concurrent.futures.ThreadPoolExecutor(arguments.parallel) as pool:
        list(pool.map(lambda key: run(*key), runs))
    summarize(arguments.work, recipes, runs)


def _recipe(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    return name, [override for override in overrides.split(",") if override]


def summarize(work: Path, recipes: dict, runs: list) -> None:
    """Print each recipe's means over its finished runs, and its paired difference from the first recipe."""
    rows = {}
    for name, trial, seed in runs:
        path = work / f"{name}-t{trial}-s{seed}.json"
        if path.is_file():
            rows[name, trial, seed] = json.loads(path.read_text())["trials"][0]
    reference = next(iter(recipes))
    print("recipe  runs  best val  mean last 5  kept clip acc  wall s  | kept clip acc - reference (paired runs)")
    for name, overrides in recipes.items():
        mine = {key[1:]: row for key, row in rows.items() if key[0] == name}
        if not mine:
            print(f"{name:<7} none finished")
            continue
        means = [np.mean([row[measure] for row in mine.values()]) for measure in MEASURES]
        paired = [mine[key]["kept_clip_accuracy"] - rows[reference, *key]["kept_clip_accuracy"]
                  for key in mine if (reference, *key) in rows]
        difference = f"{np.mean(paired):+.4f} over {len(paired)}" if paired and name != reference else ""
        print(f"{name:<7} {len(mine):>4}  {means[0]:.4f}    {means[1]:.4f}       {means[2]:.4f}       "
              f"{means[3]:>6.0f}  | {difference}   {' '.join(overrides) or '(entry as it is)'}")


if __name__ == "__main__":
    main()
