"""Scaling out: the stages here against a 2-worker Dask LocalCluster and ``cv-train --jobs 2``, in one run.

1. ``mclnn transform`` of a dataset (ESC-10 by default), local (threads) against the
   same run through a LocalCluster of 2 worker processes of 1 thread each: the
   cluster's overhead on one machine.
2. ``cv-train`` of every trial with a short fixed budget (``--epochs``, 10 by default)
   on folds already made: one trial after another, ``jobs=2`` (two processes of
   cores/2 TensorFlow threads), and the LocalCluster (its workers started with one
   TensorFlow thread each, as README advises); ratios against the sequential run, and
   each process's peak resident memory (``VmHWM``: ``ru_maxrss`` carries a parent's
   peak into a process it starts).

    python benchmarks/bench_cluster.py esc10-fast --source ../shared/data/esc10 --out mclnn-data/esc10-fast
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from mclnn.quiet_import import import_tensorflow

import_tensorflow()

import distributed  # noqa: E402
import joblib  # noqa: E402

from mclnn.cluster import connect  # noqa: E402
from mclnn.config import load_config  # noqa: E402
from mclnn.preprocess import transform_dataset  # noqa: E402
from mclnn.train import cv_train  # noqa: E402


def peak_mib() -> float:
    """This process's peak resident memory."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def timed(run):
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--source", required=True, help="the dataset's audio")
    parser.add_argument("--out", required=True, help="an output folder holding the dataset's folds")
    parser.add_argument("--epochs", type=int, default=10)
    arguments = parser.parse_args()
    config = load_config(arguments.dataset, overrides=[f"training.epochs={arguments.epochs}"])
    print(f"{os.cpu_count()} cores; {arguments.dataset}; {arguments.epochs} epochs per trial")
    with tempfile.TemporaryDirectory() as scratch, distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1",
            env={"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}) as cluster, \
            connect(cluster.scheduler_address) as client:
        scratch = Path(scratch)
        local, _ = timed(lambda: transform_dataset(config, source_dir=arguments.source, out_dir=scratch / "local"))
        remote, _ = timed(lambda: transform_dataset(config, source_dir=arguments.source, out_dir=scratch / "remote",
                                                    client=client))
        print(f"transform  local {local:6.1f} s   2-worker cluster {remote:6.1f} s   cluster/local {remote / local:.2f}")

        runs = {}
        for name, options in (("sequential", {}), ("jobs=2", {"jobs": 2}), ("cluster", {"client": client})):
            out = shutil.copytree(arguments.out, scratch / name, ignore=shutil.ignore_patterns("*_weights"))
            seconds, report = timed(lambda: cv_train(config, out_dir=out, **options))
            runs[name] = (seconds, report.pooled["mean_probability_accuracy"])
        memory = {"driver (this process)": peak_mib()}
        memory |= {f"cluster {address}": mib for address, mib in client.run(peak_mib).items()}
        memory |= {f"jobs process {pid}": mib for pid, mib in set(joblib.Parallel(n_jobs=2, backend="loky")(
            joblib.delayed(_own_peak)() for _ in range(8)))}
    base = runs["sequential"][0]
    for name, (seconds, accuracy) in runs.items():
        print(f"cv-train {name:10} {seconds:7.1f} s   speed-up {base / seconds:.2f}x   pooled accuracy {accuracy:.4f}")
    for name, mib in memory.items():
        print(f"peak resident memory  {name:40} {mib:7.0f} MiB")


def _own_peak():
    time.sleep(0.2)  # let both processes take tasks
    return os.getpid(), peak_mib()


if __name__ == "__main__":
    main()
