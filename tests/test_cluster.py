"""The stages on a real Dask scheduler with two worker processes of one thread each, on loopback."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from mclnn.cluster import connect
from mclnn.config import load_config
from mclnn.errors import DatasetError
from mclnn.preprocess.toy import write_toy_dataset
from mclnn.preprocess.transform import transform_dataset
from mclnn.train import TrialPaths, cv_train, weights_dir
from mclnn.train.predict import list_clips, load_trained_models, predict_clips, predict_on_workers


distributed = pytest.importorskip("distributed")


pytestmark = pytest.mark.slow  # every test starts Dask workers


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as local_cluster:
        yield local_cluster


def _file_content(path):
    """Every dataset and attribute of an HDF5 file but the time it was written."""
    content = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: content.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset)
                          else None)
        content["attrs"] = {key: value for key, value in handle.attrs.items() if key != "created"}
    return content


def test_transform_on_the_cluster_equals_the_local_run(cluster, toy_source, tiny_config, tmp_path):
    local = transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "local")
    with connect(cluster.scheduler_address) as client:
        remote = transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "remote", client=client)
    assert (remote.n_clips, remote.skipped) == (local.n_clips, local.skipped)
    local_content, remote_content = _file_content(local.path), _file_content(remote.path)
    assert local_content.keys() == remote_content.keys()
    for name, value in local_content.items():
        if name == "attrs":
            assert value.keys() == remote_content[name].keys()
            for key in value:
                assert np.array_equal(value[key], remote_content[name][key]), key
        else:
            assert value.dtype == remote_content[name].dtype and np.array_equal(value, remote_content[name]), name


def test_a_clip_a_worker_cannot_read_names_the_clip_and_the_worker(cluster, toy_source, tiny_config, tmp_path):
    (toy_source / "tone" / "tone_01.wav").write_bytes(b"not audio")
    with connect(cluster.scheduler_address) as client, pytest.raises(DatasetError) as raised:
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "out", client=client)
    assert "tone_01.wav: cannot decode audio" in str(raised.value)
    assert "(on worker tcp://127.0.0.1:" in str(raised.value)
    assert not (tmp_path / "out" / "Dataset.hdf5").exists()


def test_a_bad_address_is_one_line_within_seconds_and_writes_nothing(tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mclnn.cli", "transform", "toy", "--out", tmp_path / "out",
                             "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True)
    assert result.returncode == 1 and time.monotonic() - started < 20
    assert result.stderr.strip().splitlines() == [
        "Error: --scheduler tcp://127.0.0.1:9: no Dask scheduler answered there (Timed out trying to connect to "
        "tcp://127.0.0.1:9 after 5 s); start one with `dask scheduler` and give the address it prints"]
    assert not (tmp_path / "out").exists()


def _scores(report):
    return [(trial.trial, trial.scores, trial.epochs_run) for trial in report.trials]


def test_cv_train_on_the_cluster_and_in_two_processes_equals_the_local_run(cluster, toy_folds, tmp_path):
    config = load_config("toy", overrides=["training.epochs=3"])
    outs = {name: shutil.copytree(toy_folds, tmp_path / name, symlinks=True) for name in ("local", "jobs", "cluster")}
    local = cv_train(config, out_dir=outs["local"])
    in_processes = cv_train(config, out_dir=outs["jobs"], jobs=2)
    with connect(cluster.scheduler_address) as client:
        on_workers = cv_train(config, out_dir=outs["cluster"], client=client)
    assert _scores(in_processes) == _scores(local)
    assert _scores(on_workers) == _scores(local)
    assert {trial.ran_on.split(" ")[0] for trial in on_workers.trials} == {"worker"}
    assert not [trial for trial in in_processes.trials if trial.ran_on.endswith(f" process {os.getpid()}")]


def test_a_worker_lost_in_a_trial_is_replaced_and_the_trial_resumes_from_its_checkpoint(toy_folds, tmp_path):
    out = shutil.copytree(toy_folds, tmp_path / "out", symlinks=True)
    state = TrialPaths.of(weights_dir(out, {"tag": "TOY", "k": 4}), 1).state
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as lossy, distributed.Client(lossy) as client:
        run = subprocess.Popen([sys.executable, "-m", "mclnn.cli", "cv-train", "toy", "--out", out, "--trial", "1",
                                "--scheduler", lossy.scheduler_address, "--set", "training.epochs=30",
                                "--set", "training.patience=30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        deadline = time.monotonic() + 300  # a guard against a hang; a loaded machine starts the run slowly
        while not (state.is_file() and json.loads(state.read_text())["epoch"] >= 2):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()
            time.sleep(0.05)
        busy = [address for address, keys in client.processing().items() if keys]
        killed = client.run(os.getpid, workers=busy)[busy[0]]
        os.kill(killed, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    report = json.loads((weights_dir(out, {"tag": "TOY", "k": 4}) / "report.json").read_text())
    trial = report["trials"][0]
    assert trial["resumed_after"] and trial["resumed_after"][0] >= 2
    assert trial["epochs_run"] == len(json.loads(state.read_text())["history"]["loss"])
    assert "toy pooled over trials 1: clip accuracy" in stdout


def test_predict_on_the_cluster_equals_the_local_run_in_input_order(cluster, toy_folds, tmp_path):
    out = shutil.copytree(toy_folds, tmp_path / "out", symlinks=True)
    cv_train(load_config("toy", overrides=["training.epochs=2"]), out_dir=out, trial=1)
    clips = write_toy_dataset(tmp_path / "new", clips_per_class=14, seed=99)  # 70 clips: two tasks
    (clips / "broken.wav").write_text("not audio")
    models = load_trained_models(weights_dir(out, {"tag": "TOY", "k": 4}))
    listed = list_clips(clips)
    local = predict_clips(models, listed)
    with connect(cluster.scheduler_address) as client:
        remote = predict_on_workers(weights_dir(out, {"tag": "TOY", "k": 4}), listed, client=client)
    assert remote.names == local.names and remote.class_names == local.class_names
    np.testing.assert_allclose(remote.probabilities, local.probabilities, rtol=1e-5, atol=1e-6)
    [(name, reason)] = remote.failures
    assert name == "broken.wav" and reason.startswith(local.failures[0][1] + " (on worker tcp://127.0.0.1:")
