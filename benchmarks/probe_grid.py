"""Recipes on validation folds, several runs at once, each compared with the first by ``mclnn compare``.

Each (recipe, seed) is one ``mclnn cv-train --evaluate-on validation`` run into
``WORK/<recipe>/seed_<s>``: no test fold is read. Runs start seed by seed (every recipe's
first seed before any second seed), so a grid cut off by ``--deadline`` has compared the
recipes on what it finished; a rerun resumes. Then ``mclnn compare WORK/<first> WORK/<recipe>``
prints each recipe against the first, on the trials and seeds both finished. Recipes
share ``--out``'s Dataset.hdf5, so they differ in model and training settings only.

    python benchmarks/probe_grid.py esc10-fast --out mclnn-data/esc10-fast --work /tmp/grid --parallel 2 \\
        --seeds 0 1 --recipe fast= --recipe long=training.epochs=80,training.patience=80
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time
from pathlib import Path

MCLNN = [sys.executable, "-m", "mclnn.cli"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("--out", required=True, help="the folder holding Dataset.hdf5 and the folds")
    parser.add_argument("--work", required=True, type=Path, help="each recipe's weights folder and logs go here")
    parser.add_argument("--recipe", action="append", required=True,
                        help="NAME=SECTION.KEY=VALUE,... (NAME= for the entry as it is); the first is the reference")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--parallel", type=int, default=1, help="runs at once, each with cores/parallel threads")
    parser.add_argument("--deadline", type=float, default=None, help="seconds after which runs are stopped")
    arguments = parser.parse_args()
    recipes = dict(_recipe(text) for text in arguments.recipe)
    stop_at = time.monotonic() + arguments.deadline if arguments.deadline else None
    threads = str(max(1, (os.cpu_count() or 1) // arguments.parallel))
    environment = {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1"}

    def run(name, seed):
        folder = arguments.work / name / f"seed_{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        command = [*MCLNN, "cv-train", arguments.dataset, "--out", arguments.out, "--evaluate-on", "validation",
                   "--weights", str(folder), "--seed", str(seed),
                   *(part for override in recipes[name] for part in ("--set", override))]
        remaining = None if stop_at is None else max(0.0, stop_at - time.monotonic())
        with open(folder / "cv-train.log", "a") as log:
            try:
                subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=remaining, env=environment)
            except subprocess.TimeoutExpired:
                log.write("stopped at the deadline\n")

    runs = [(name, seed) for seed in arguments.seeds for name in recipes]
    with concurrent.futures.ThreadPoolExecutor(arguments.parallel) as pool:
        list(pool.map(lambda key: run(*key), runs))
    reference = next(iter(recipes))
    for name in list(recipes)[1:]:
        print(f"\n## {name} ({' '.join(recipes[name])}) against {reference}\n", flush=True)
        subprocess.run([*MCLNN, "compare", str(arguments.work / reference), str(arguments.work / name),
                        "--json", str(arguments.work / f"compare_{name}.json")], check=False)


def _recipe(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition("=")
    return name, [override for override in overrides.split(",") if override]


if __name__ == "__main__":
    main()
