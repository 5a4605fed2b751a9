import csv
import errno
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mclnn import load_dataset
from mclnn.cli import cli
from mclnn.folds import read_folds_manifest
from mclnn.folds.fold_files import read_trial_indices

from conftest import TINY_FEATURES

TINY = [option for setting in TINY_FEATURES for option in ("--set", setting)]


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def test_transform_toy_then_up_to_date(run, tmp_path):
    out = tmp_path / "toy"
    first = run("transform", "toy", "--out", out, *TINY)
    assert first.exit_code == 0, first.output
    assert "toy: wrote" in first.output and "40 clips from 40 originals" in first.output
    with load_dataset(out / "Dataset.hdf5") as dataset:
        assert len(dataset) == 40
    second = run("transform", "toy", "--out", out, *TINY)
    assert second.exit_code == 0
    assert "is up to date (40 clips)" in second.output
    forced = run("transform", "toy", "--out", out, "--force", "--jobs", 1, *TINY)
    assert "toy: wrote" in forced.output


def test_an_up_to_date_transform_says_so_once_on_stdout_and_stderr(tmp_path):
    command = [sys.executable, "-m", "mclnn.cli", "transform", "toy", "--out", str(tmp_path / "toy"), *TINY]
    environment = {**os.environ, "MCLNN_CACHE": str(tmp_path / "cache")}
    subprocess.run(command, check=True, capture_output=True, env=environment)
    again = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    assert (again.stdout + again.stderr).count("up to date") == 1


@pytest.mark.parametrize("code, remedy", [(errno.ENOSPC, "free some space or give another --out"),
                                           (errno.EROFS, "give a writable --out"),
                                           (errno.EACCES, "give a folder you may write to (--out)")])
def test_a_refused_write_is_one_line_and_the_previous_dataset_stays(run, tmp_path, monkeypatch, code, remedy):
    from mclnn.preprocess import transform

    out = tmp_path / "toy"
    assert run("transform", "toy", "--out", out, *TINY).exit_code == 0
    before = (out / "Dataset.hdf5").read_bytes()
    partial = out / ".Dataset.1.partial.hdf5"

    def refused(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(partial))

    monkeypatch.setattr(transform, "_write_dataset", refused)
    result = run("transform", "toy", "--out", out, "--force", *TINY)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {partial}: {os.strerror(code)}; {remedy} (earlier outputs are intact)"
    assert (out / "Dataset.hdf5").read_bytes() == before


def test_too_little_free_space_is_refused_before_writing(run, tmp_path, monkeypatch):
    from mclnn.preprocess import transform

    out = tmp_path / "toy"
    monkeypatch.setattr(transform.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 2**20))
    result = run("transform", "toy", "--out", out, *TINY)
    assert result.exit_code == 1
    assert re.fullmatch(rf"Error: {out}: 1 MiB free, but a Dataset.hdf5 of 40 clips needs up to \d+ MiB; free some "
                        r"space or give another --out", result.output.strip())
    assert not (out / "Dataset.hdf5").exists()


@pytest.mark.parametrize("args, message", [
    (["transform", "esc11"], "Error: unknown dataset 'esc11'"),
    (["transform", "esc10"], "Error: no audio folder for dataset 'esc10': pass --source DIR"),
    (["transform", "esc10", "--source", "/no/such/folder"], "Error: source folder /no/such/folder does not exist"),
    (["transform", "toy", "--set", "features.n_mels=0"], "n_mels must be positive, got 0"),
    (["transform", "toy", "--set", "bogus"], "expected section.key=value"),
    (["transform", "toy", "--jobs", "0"], "Invalid value for '--jobs'"),
    (["cv-train", "toy", "--seeds", "0"], "a count of seeds must be at least 1, got '0'"),
    (["cv-train", "toy", "--seeds", "1,two"], "expected a count or comma-separated seeds, got '1,two'"),
    (["cv-train", "toy", "--set", "training.schedule=linear"], "schedule must be one of constant, cosine"),
    (["cv-train", "esc10-fast", "--epochs", "1"], "Error: --epochs 1: training: training.warmup_epochs=2.0 leaves "
                                                 "nothing of the 1 epochs to decay over"),
    (["cv-train", "esc10-fast", "--set", "training.patience=3", "--epochs", "1"],
     "Error: --set training.patience=3, --epochs 1: training: training.warmup_epochs=2.0"),
])
def test_bad_input_gives_one_line_and_non_zero_exit(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert message in lines[-1]
    if result.exit_code == 1:  # mclnn's own errors: exactly one line
        assert len(lines) == 1
    else:  # click's usage errors (exit 2) add its usage lines
        assert result.exit_code == 2 and lines[0].startswith("Usage:")


def test_datasets_lists_every_entry(run):
    result = run("datasets")
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert {"toy", "esc10", "esc10-augmented", "esc50", "gtzan", "ismir2004", "ballroom"} <= set(names)


def test_folds_after_transform(run, tmp_path):
    out = tmp_path / "toy"
    assert run("transform", "toy", "--out", out, *TINY).exit_code == 0
    result = run("folds", "toy", "--out", out, "--k", 3, *TINY)
    assert result.exit_code == 0, result.output
    assert "trial  test fold  validation fold" in result.output
    assert "toy: 3 stratified folds, seed 0;" in result.output and "written" in result.output
    assert (out / "TOY_folds_3_index" / "Fold_02of03_TOY_seed0_Test.hdf5").is_file()
    again = run("folds", "toy", "--out", out, "--k", 3, *TINY)
    assert "is up to date" in again.output
    no_seed = run("folds", "toy", "--out", out, "--k", 3, "--set", "folds.seed=null", *TINY)
    assert "no seed" in no_seed.output
    assert (out / "TOY_folds_3_index" / "Fold_01of03_TOY_seedNoSeed_Train.hdf5").is_file()


def test_folds_without_dataset_file_is_one_line(run, tmp_path):
    result = run("folds", "toy", "--out", tmp_path / "empty")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'empty' / 'Dataset.hdf5'}: no such dataset file; " \
                                    f"run `mclnn transform` with --out {tmp_path / 'empty'} first"


def test_cv_train_one_trial_through_the_cli(run, tmp_path):
    out = tmp_path / "toy"
    assert run("transform", "toy", "--out", out).exit_code == 0
    assert run("folds", "toy", "--out", out).exit_code == 0
    result = run("cv-train", "toy", "--out", out, "--trial", 2, "--epochs", 2, "--seed", 5)
    assert result.exit_code == 0, result.output
    assert "toy trial 2 (tests fold 4): clip accuracy" in result.output
    assert "toy pooled over trials 2: clip accuracy" in result.output
    assert (out / "TOY_folds_4_weights" / "report.md").is_file()
    # The old name of --trial still selects a trial, and says it is deprecated.
    again = run("cv-train", "toy", "--out", out, "--fold", 2, "--epochs", 2, "--seed", 5)
    assert again.exit_code == 0 and "--fold is deprecated" in again.output
    assert "toy trial 2 (tests fold 4): clip accuracy" in again.output
    # Two seeds: each seed's pooled accuracy, then their mean and ensemble, from the seeds' report.
    seeds = run("cv-train", "toy", "--out", out, "--trial", 2, "--epochs", 1, "--seeds", "5,6")
    assert seeds.exit_code == 0, seeds.output
    written = json.loads((out / "TOY_folds_4_weights" / "report_seeds.json").read_text())
    for row in written["per_seed"]:
        assert (f"toy seed {row['seed']} pooled over trials 2: clip accuracy "
                f"{row['mean_probability_accuracy']:.4f} mean-probability vote") in seeds.output
    assert f"toy over 2 seeds: {written['mean']:.4f} ± {written['std']:.4f} (95% bootstrap" in seeds.output


def _tensorflow_is_not_loaded():
    raise AssertionError("TensorFlow was loaded before the arguments were checked")


def test_cv_train_without_folds_is_one_line_before_tensorflow_loads(run, tmp_path, monkeypatch):
    monkeypatch.setattr("mclnn.cli.import_tensorflow", _tensorflow_is_not_loaded)
    result = run("cv-train", "toy", "--out", tmp_path / "nothing")
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {tmp_path / 'nothing' / 'TOY_folds_4_manifest.json'}: no folds for toy "
                                     f"with k=4; run `mclnn folds toy --k 4 --out {tmp_path / 'nothing'}` first")


def test_cv_train_trial_out_of_range_before_tensorflow_loads(run, tmp_path, monkeypatch):
    out = tmp_path / "toy"
    assert run("transform", "toy", "--out", out, *TINY).exit_code == 0
    assert run("folds", "toy", "--out", out, *TINY).exit_code == 0
    monkeypatch.setattr("mclnn.cli.import_tensorflow", _tensorflow_is_not_loaded)
    result = run("cv-train", "toy", "--out", out, "--trial", 9, *TINY)
    assert result.exit_code == 1
    assert result.output.strip() == "Error: --trial 9 is out of range: the folds have trials 1..4"


def test_predict_writes_top3_rows_and_names_unreadable_clips(run, tmp_path):
    from mclnn.preprocess.toy import write_toy_dataset

    out = tmp_path / "toy"
    assert run("transform", "toy", "--out", out).exit_code == 0
    assert run("folds", "toy", "--out", out).exit_code == 0
    assert run("cv-train", "toy", "--out", out, "--trial", 1, "--epochs", 2).exit_code == 0
    clips = write_toy_dataset(tmp_path / "new", clips_per_class=1, seed=99)
    (clips / "broken.wav").write_text("not audio")
    output, class_map = tmp_path / "predictions.csv", tmp_path / "classes.csv"
    result = run("predict", out / "TOY_folds_4_weights", clips, "-o", output, "--probabilities",
                 "--class-map", class_map)
    assert result.exit_code == 1
    assert "skipped broken.wav: " in result.output
    assert f"Error: 1 of 6 clips could not be predicted (named above); the others are in {output}" in result.output
    names = [row["name"] for row in csv.DictReader(class_map.open())]
    assert names == ["am_noise", "chirp", "click_train", "noise_burst", "tone"]
    rows = list(csv.DictReader(output.open()))
    assert [row["fname"] for row in rows] == sorted(p.relative_to(clips).as_posix() for p in clips.rglob("*.wav")
                                                    if p.name != "broken.wav")
    labels = [name.replace(" ", "_") for name in names]
    for row in rows:
        top3 = row["label"].split(" ")
        assert len(set(top3)) == 3 and set(top3) <= set(labels)
        probabilities = [float(row[label]) for label in labels]
        assert sum(probabilities) == pytest.approx(1, abs=1e-4)
        assert top3[0] == labels[max(range(5), key=lambda c: probabilities[c])]
    skipping = run("predict", out / "TOY_folds_4_weights", clips, "-o", output, "--skip-bad")
    assert skipping.exit_code == 0 and "skipped broken.wav: " in skipping.output
    assert "5 clips predicted with 1 model(s)" in skipping.output


def test_predict_reads_a_csv_of_file_names(run, tmp_path):
    from mclnn.preprocess.toy import write_toy_dataset

    out = tmp_path / "toy"
    for args in (("transform", "toy"), ("folds", "toy"), ("cv-train", "toy", "--trial", 1, "--epochs", 1)):
        assert run(*args, "--out", out).exit_code == 0
    clips = write_toy_dataset(tmp_path / "new", clips_per_class=1, seed=3)
    names = sorted(p.relative_to(clips).as_posix() for p in clips.rglob("*.wav"))
    listing = tmp_path / "test.csv"
    listing.write_text("fname\n" + "\n".join(names[:3]) + "\n")
    output = tmp_path / "p.csv"
    model = out / "TOY_folds_4_weights" / "trial_01" / "model.keras"
    result = run("predict", model, listing, "--audio-dir", clips, "-o", output)
    assert result.exit_code == 0, result.output
    assert [row["fname"] for row in csv.DictReader(output.open())] == names[:3]
    assert output.read_text().splitlines()[0] == "fname,label"
    # A file the CSV names that is not there is said so, and the others are still predicted.
    listing.write_text("fname\n" + names[0] + "\nmissing.wav\n")
    missing = run("predict", model, listing, "--audio-dir", clips, "-o", output)
    assert missing.exit_code == 1 and f"skipped missing.wav: no such file: {clips / 'missing.wav'}" in missing.output
    # CSVs that name no clips are one-line errors.
    listing.write_text("name,label\nx.wav,dog\n")
    no_column = run("predict", model, listing, "-o", output)
    assert no_column.exit_code == 1
    assert no_column.output.strip() == f"Error: {listing}: no fname column (its columns: name, label); name the " \
                                       "column of file names fname"
    listing.write_bytes(b"\xff\xfe\x00binary\x9c\x80")
    binary = run("predict", model, listing, "-o", output)
    assert binary.exit_code == 1
    assert binary.output.strip() == (f"Error: {listing}: not a text CSV file (not UTF-8); "
                                     "give a CSV with an fname column")
    # A row naming a file outside --audio-dir is refused, before anything is read.
    listing.write_text("fname\n" + names[0] + "\n../toy/Dataset.hdf5\n")
    outside = run("predict", model, listing, "--audio-dir", clips, "-o", output)
    assert outside.exit_code == 1
    assert outside.output.strip() == (f"Error: row 3 of {listing} names '../toy/Dataset.hdf5', which is outside "
                                      f"{clips}; list only clips inside that folder")
    # With --skip-bad it is a named skip: the other rows are predicted, exit 0.
    output.unlink(missing_ok=True)
    skipped = run("predict", model, listing, "--audio-dir", clips, "-o", output, "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert (f"skipped ../toy/Dataset.hdf5: row 3 of {listing} names '../toy/Dataset.hdf5', which is outside "
            f"{clips}; not read") in skipped.output
    assert [row.split(",")[0] for row in output.read_text().splitlines()] == ["fname", names[0]]


@pytest.mark.slow
def test_without_a_terminal_each_epoch_is_a_line_and_a_rerun_says_what_it_skips(tmp_path):
    """As under cron: stderr is a pipe. TensorFlow's start-up lines and retracing warnings stay out."""
    out = tmp_path / "toy"
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}

    def mclnn(*args):
        return subprocess.run([sys.executable, "-m", "mclnn.cli", *map(str, args), "--out", out, *TINY],
                              capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL, check=True)

    transform = mclnn("transform", "toy")
    assert re.search(r"^toy: clips: 40/40 \(\d+ s\)$", transform.stderr, re.MULTILINE), transform.stderr
    mclnn("folds", "toy", "--k", 3)
    trained = mclnn("cv-train", "toy", "--k", 3, "--trial", 1, "--epochs", 2)
    lines = trained.stderr.splitlines()
    for epoch in (1, 2):
        line = next(line for line in lines if line.startswith(f"toy trial 1: epoch {epoch}/2  "))
        assert re.fullmatch(r"toy trial 1: epoch \d/2  (\w+ \d+\.\d{4}  )+\d+\.\d s", line), line
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(line.split())
    assert not [line for line in lines if "absl" in line or "oneDNN" in line or "retracing" in line], lines
    again = mclnn("cv-train", "toy", "--k", 3, "--trial", 1, "--epochs", 2)
    assert "trial 1 is finished; skipping it" in again.stderr.splitlines()


@pytest.mark.slow
def test_jobs_run_trials_in_processes_that_say_where_they_ran_and_stay_quiet(tmp_path):
    out = tmp_path / "toy"
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "mclnn.cli"]
    for stage in (["transform", "toy"], ["folds", "toy", "--k", "3"]):
        subprocess.run([*command, *stage, "--out", out, *TINY], check=True, capture_output=True, env=environment)
    run = subprocess.run([*command, "cv-train", "toy", "--k", "3", "--epochs", "1", "--jobs", "2", "--out", out, *TINY],
                         capture_output=True, text=True, env=environment, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    finished = [line for line in run.stderr.splitlines() if " finished on " in line]
    assert len(finished) == 3 and all(re.fullmatch(r"seed 0 trial \d finished on \S+ process \d+ \(\d of 3\)", line)
                                      for line in finished), run.stderr
    assert not [line for line in run.stderr.splitlines() if "absl" in line or "oneDNN" in line], run.stderr
    assert "toy pooled over trials 1, 2, 3: clip accuracy" in run.stdout
    # The workers' epoch lines reach the log, so a stuck trial can be told from a slow one.
    epochs = [line for line in run.stderr.splitlines() if ": epoch 1/1 " in line]
    assert sorted(line.split(":")[0] for line in epochs) == [f"toy seed 0 trial {n}" for n in (1, 2, 3)], run.stderr
    assert "A worker stopped" not in run.stderr


@pytest.mark.slow
def test_validation_runs_read_no_test_file_and_compare_decides_between_them(run, toy_folds, tmp_path):
    out = shutil.copytree(toy_folds, tmp_path / "toy", symlinks=True)
    for entry in read_folds_manifest(out, "toy", 4)["trials"]:
        (out / entry["files"]["test"]).unlink()  # a validation run must not need them
    runs = {}
    for name, epochs in (("short", 1), ("longer", 3)):
        runs[name] = tmp_path / name
        result = run("cv-train", "toy", "--out", out, "--trial", 1, "--epochs", epochs, "--evaluate-on", "validation",
                     "--weights", runs[name])
        assert result.exit_code == 0, result.output
        assert "toy trial 1 (scored on its validation fold 2): clip accuracy" in result.output
    report = json.loads((runs["short"] / "report.json").read_text())
    assert report["evaluated_on"] == "validation" and "validation fold" in (runs["short"] / "report.md").read_text()
    trial = json.loads((runs["short"] / "trial_01" / "report.json").read_text())
    entry = read_folds_manifest(out, "toy", 4)["trials"][0]
    with load_dataset(out / "Dataset.hdf5") as dataset:
        validation = read_trial_indices(out / entry["files"]["validation"], dataset)
    assert sorted(clip["index"] for clip in trial["clips"]) == sorted(validation.tolist())
    compared = run("compare", runs["short"], runs["longer"], "--json", tmp_path / "compare.json")
    assert compared.exit_code == 0, compared.output
    assert "on each trial's validation fold" in compared.output and "| **pooled** | - | - | 10 |" in compared.output
    assert json.loads((tmp_path / "compare.json").read_text())["pooled"]["clips"] == 10
    # Without --weights, validation runs have their own folder beside the folds.
    assert run("cv-train", "toy", "--out", out, "--trial", 1, "--epochs", 1, "--evaluate-on", "validation",
               ).exit_code == 0
    assert (out / "TOY_folds_4_weights_validation" / "report.json").is_file()
    assert not (out / "TOY_folds_4_weights").exists()


def test_compare_refuses_runs_of_other_clips_in_one_line(run, tmp_path):
    from test_compare import _write_run

    first = _write_run(tmp_path / "a", [[1, 0, 1, 0]])
    other = _write_run(tmp_path / "b", [[1, 0, 1, 0]], labels=[1, 1, 0, 0])
    result = run("compare", first, other)
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        f"Error: trial 1 of {other} (seed 0) scored other clips than {first}; "
        "compare runs that scored the same clips (file names and labels) of the same folds"]
