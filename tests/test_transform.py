import dataclasses
import logging
import os

import h5py
import librosa
import numpy as np
import pytest
import soundfile

from mclnn import load_dataset
from mclnn.atomic import exclusive_lock
from mclnn.config import SourceSettings, load_config
from mclnn.errors import DatasetError, ParameterError
from mclnn.preprocess import transform as transform_module
from mclnn.preprocess.audio import fit_length, load_audio
from mclnn.preprocess.toy import TOY_CLASSES
from mclnn.preprocess.transform import dataset_path, resolve_source, storage_ordering_path, transform_dataset

from conftest import SR, TINY_FEATURES, write_tone
from test_features import librosa_reference


@pytest.fixture
def built(toy_source, tiny_config, tmp_path):
    out = tmp_path / "out"
    result = transform_dataset(tiny_config, source_dir=toy_source, out_dir=out, jobs=2)
    return result, out


def test_clips_are_stored_in_category_then_file_order(built, toy_source):
    result, out = built
    assert (result.n_clips, result.n_originals, result.up_to_date, result.skipped) == (15, 15, False, ())
    with load_dataset(result.path) as dataset:
        expected = sorted(path.relative_to(toy_source).as_posix() for path in toy_source.rglob("*.wav"))
        assert list(dataset.filenames) == expected
        assert dataset.class_names == sorted(TOY_CLASSES)
        assert list(dataset.labels) == [label for label in range(5) for _ in range(3)]
        assert list(dataset.categories) == [name for name in sorted(TOY_CLASSES) for _ in range(3)]
        assert list(dataset.groups) == list(range(15))
        assert set(dataset.variants) == {0} and set(dataset.folds) == {-1}
        assert dataset.features(0).shape == (16, 80) and dataset.n_features == 80
        assert list(dataset.frame_counts) == [16] * 15
        assert dataset.feature_settings["n_mels"] == 40
        assert {"config_hash", "source_fingerprint", "versions", "created"} <= set(dataset.attrs)
    assert storage_ordering_path(out, "toy").read_text().splitlines() == expected


def test_features_equal_the_plain_librosa_computation(built, toy_source, tiny_config):
    result, _ = built
    settings = tiny_config.features
    with load_dataset(result.path) as dataset:
        for index in (0, 7, 14):
            y, _ = librosa.load(toy_source / dataset.filenames[index], sr=settings.sample_rate)
            expected = librosa_reference(fit_length(y, n_samples=settings.clip_samples), settings)
            np.testing.assert_allclose(dataset.features(index), expected, atol=1e-3)


def test_rerun_with_unchanged_inputs_does_nothing(built, toy_source, tiny_config):
    result, out = built
    stamp = result.path.stat().st_mtime_ns
    again = transform_dataset(tiny_config, source_dir=toy_source, out_dir=out)
    assert again.up_to_date and again.n_clips == 15
    assert result.path.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("change", ["setting", "source file", "force"])
def test_changes_rebuild(built, toy_source, change):
    result, out = built
    config = load_config("toy", overrides=TINY_FEATURES)
    force = change == "force"
    if change == "setting":
        config = load_config("toy", overrides=[*TINY_FEATURES, "features.n_mels=32"])
    if change == "source file":
        write_tone(toy_source / "tone" / "tone_00.wav", seconds=0.5, frequency=880)
    again = transform_dataset(config, source_dir=toy_source, out_dir=out, force=force)
    assert not again.up_to_date
    with load_dataset(again.path) as dataset:
        assert dataset.n_features == (64 if change == "setting" else 80)


def test_bad_clip_fails_naming_the_file_and_writes_nothing(toy_source, tiny_config, tmp_path):
    (toy_source / "tone" / "tone_01.wav").write_bytes(b"this is not a wav file")
    with pytest.raises(DatasetError, match=r"tone/tone_01.wav: cannot decode audio"):
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "out")
    assert not dataset_path(tmp_path / "out").exists()
    assert not list((tmp_path / "out").glob(".*partial*"))


@pytest.mark.parametrize("bad_clip, reason", [
    (lambda path: path.write_bytes(b"garbage"), "cannot decode audio"),
    (lambda path: soundfile.write(path, np.zeros(11025), 22050), "clip is silent"),
])
def test_skip_bad_records_the_clip_and_goes_on(toy_source, tiny_config, tmp_path, bad_clip, reason):
    bad_clip(toy_source / "chirp" / "chirp_02.wav")
    result = transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "out", skip_bad=True)
    assert result.n_clips == 14
    assert result.skipped[0][0] == "chirp/chirp_02.wav"
    assert reason in result.skipped[0][1]
    with load_dataset(result.path) as dataset:
        assert "chirp/chirp_02.wav" not in set(dataset.filenames)
        assert dataset.attrs["skipped"][0]["file"] == "chirp/chirp_02.wav"
        assert list(dataset.groups) == list(range(14))


def test_skip_bad_records_a_csv_row_outside_the_source_folder_without_reading_it(toy_source, tiny_config, tmp_path,
                                                                                 monkeypatch):
    secret = write_tone(tmp_path / "outside" / "secret.wav")
    rows = [f"{path.relative_to(toy_source).as_posix()},{path.parent.name}" for path in sorted(toy_source.rglob("*.wav"))]
    (toy_source / "meta.csv").write_text("\n".join(["filename,category", *rows, "../outside/secret.wav,tone"]) + "\n")
    config = dataclasses.replace(tiny_config, source=SourceSettings(layout="csv", csv="meta.csv"))
    with pytest.raises(DatasetError, match=r"line 17 of .*meta.csv names '../outside/secret.wav', which is outside"):
        transform_dataset(config, source_dir=toy_source, out_dir=tmp_path / "out")
    assert not dataset_path(tmp_path / "out").exists()
    read = []
    monkeypatch.setattr(transform_module, "load_audio", lambda path, **kw: read.append(path) or load_audio(path, **kw))
    result = transform_dataset(config, source_dir=toy_source, out_dir=tmp_path / "out", skip_bad=True, jobs=1)
    assert secret not in read and len(read) == 15
    assert (result.n_clips, result.n_originals) == (15, 15)
    assert result.skipped == (("../outside/secret.wav", f"line 17 of {toy_source / 'meta.csv'} names "
                                                        f"'../outside/secret.wav', which is outside {toy_source}; "
                                                        "not read"),)
    with load_dataset(result.path) as dataset:
        assert dataset.attrs["skipped"] == [{"file": "../outside/secret.wav", "reason": result.skipped[0][1]}]


def test_silent_and_short_clips_are_named(toy_source, tiny_config, tmp_path):
    soundfile.write(toy_source / "tone" / "tone_02.wav", np.zeros(11025), 22050)
    with pytest.raises(DatasetError, match=r"tone/tone_02.wav: clip is silent"):
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "out")
    write_tone(toy_source / "tone" / "tone_02.wav", seconds=0.01)
    with pytest.raises(DatasetError,
                       match=r"tone/tone_02.wav: clip has 220 samples, shorter than one analysis frame of 1024 samples"):
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "out")


def test_every_clip_bad_is_an_error(toy_source, tiny_config, tmp_path):
    for path in toy_source.rglob("*.wav"):
        path.write_bytes(b"junk")
    with pytest.raises(DatasetError, match="every clip was skipped as bad"):
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "out", skip_bad=True)


def test_interrupted_write_leaves_the_previous_output(built, toy_source, tiny_config, monkeypatch):
    result, out = built
    before = result.path.read_bytes()
    extract = transform_module._extract_clip
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return extract(*args, **kwargs)

    monkeypatch.setattr(transform_module, "_extract_clip", interrupted)
    with pytest.raises(KeyboardInterrupt):
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=out, force=True, jobs=1)
    assert result.path.read_bytes() == before
    with load_dataset(result.path) as dataset:
        assert len(dataset) == 15
    assert not list(out.glob(".*partial*"))


@pytest.mark.parametrize("force", [True, False])
def test_leftovers_of_a_killed_run_are_removed(built, toy_source, tiny_config, force):
    result, out = built
    leftover = out / f".Dataset.{2**22 + 1}.partial.hdf5"  # above Linux's largest process id
    leftover.write_bytes(b"half-written")
    running = out / f".Dataset.{os.getpid()}.partial.hdf5"
    running.write_bytes(b"being written")
    again = transform_dataset(tiny_config, source_dir=toy_source, out_dir=out, force=force)
    assert again.up_to_date is not force
    assert not leftover.exists()
    # A rebuild holds the lock, so nothing else can be writing: every partial file goes. A run that
    # finds the file up to date rebuilds nothing and leaves a living process's partial file alone.
    assert running.exists() is not force


@pytest.mark.parametrize("change, reason", [
    (["features.n_mels=32"], "its settings changed: features.n_mels 40 -> 32"),
    (["augmentation.seed=3"], "the augmentation settings changed"),
])
def test_a_rebuild_says_which_setting_changed(built, toy_source, caplog, change, reason):
    result, out = built
    with caplog.at_level(logging.INFO, logger="mclnn"):
        transform_dataset(load_config("toy", overrides=[*TINY_FEATURES, *change]), source_dir=toy_source, out_dir=out)
    assert f"rebuilding {result.path}: {reason}" in caplog.text


def test_a_rebuild_says_which_source_files_changed(built, toy_source, tiny_config, caplog):
    result, out = built
    write_tone(toy_source / "tone" / "tone_00.wav", seconds=0.5, frequency=880)
    write_tone(toy_source / "tone" / "tone_new.wav", seconds=0.5)
    (toy_source / "chirp" / "chirp_01.wav").unlink()
    with caplog.at_level(logging.INFO, logger="mclnn"):
        transform_dataset(tiny_config, source_dir=toy_source, out_dir=out)
    assert (f"rebuilding {result.path}: source files changed: 1 added (e.g. tone/tone_new.wav), 1 removed "
            "(e.g. chirp/chirp_01.wav), 1 replaced or touched (e.g. tone/tone_00.wav)") in caplog.text


def test_concurrent_run_is_refused(toy_source, tiny_config, tmp_path):
    out = tmp_path / "out"
    with exclusive_lock(dataset_path(out)):
        with pytest.raises(DatasetError, match="another mclnn run is writing this output right now"):
            transform_dataset(tiny_config, source_dir=toy_source, out_dir=out)
    transform_dataset(tiny_config, source_dir=toy_source, out_dir=out)


def test_load_dataset_rejects_other_files(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset file; run `mclnn transform` with --out .* first"):
        load_dataset(tmp_path / "missing.hdf5")
    (tmp_path / "text.hdf5").write_text("hello")
    with pytest.raises(DatasetError, match="not a readable HDF5 file"):
        load_dataset(tmp_path / "text.hdf5")
    with h5py.File(tmp_path / "other.hdf5", "w") as other:
        other["spectrogram"] = np.zeros((3, 3))
    with pytest.raises(DatasetError, match="not a Dataset.hdf5 written by mclnn"):
        load_dataset(tmp_path / "other.hdf5")


def test_toy_source_is_synthesized_into_the_cache(tmp_path):
    config = load_config("toy")
    source = resolve_source(config)
    assert source == tmp_path / "cache" / "toy"
    assert len(list(source.rglob("*.wav"))) == 40
    assert resolve_source(config, tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_missing_source_is_named():
    with pytest.raises(ParameterError, match="no audio folder for dataset 'esc10': pass --source DIR"):
        resolve_source(load_config("esc10"))


def test_a_clip_mostly_padded_is_warned_of_and_counted(toy_source, tmp_path, caplog):
    write_tone(toy_source / "tone" / "tone_short.wav", seconds=0.06)  # 6% of the 1 s kept
    config = load_config("toy", overrides=[*TINY_FEATURES, "features.clip_seconds=1.0"])
    with caplog.at_level(logging.WARNING, logger="mclnn"):
        result = transform_dataset(config, source_dir=toy_source, out_dir=tmp_path / "out")
    assert result.stretched == (("tone/tone_short.wav", pytest.approx(0.06, abs=0.001)),)
    assert "tone/tone_short.wav has 0.06 s of its own audio for the 1 s kept" in caplog.text
    again = transform_dataset(config, source_dir=toy_source, out_dir=tmp_path / "out")
    assert again.up_to_date and again.stretched == result.stretched


def test_a_silent_kept_window_is_told_from_a_silent_clip(toy_source, tmp_path):
    late = int(0.6 * SR)  # 0.6 s of silence, then 0.6 s of a tone
    sound = np.r_[np.zeros(late, np.float32), 0.5 * np.sin(np.arange(late, dtype=np.float32) / 5)]
    soundfile.write(toy_source / "tone" / "tone_late.wav", sound, SR)
    config = load_config("toy", overrides=TINY_FEATURES)
    with pytest.raises(DatasetError, match=r"tone_late.wav: the 0.5 s kept from the start of the clip is silent"):
        transform_dataset(config, source_dir=toy_source, out_dir=tmp_path / "out")
    middle = load_config("toy", overrides=[*TINY_FEATURES, "features.clip_position=middle"])
    assert transform_dataset(middle, source_dir=toy_source, out_dir=tmp_path / "out").n_originals == 16


def test_a_touched_source_file_rebuilds_nothing_downstream(toy_source, tiny_config, tmp_path, caplog):
    """Cron reruns decide by content: a timestamp changes no feature, no fold and no trained trial."""
    from mclnn.folds import make_folds
    from mclnn.train import cv_train

    out = tmp_path / "out"
    config = load_config("toy", overrides=[*TINY_FEATURES, "training.epochs=1"])
    first = transform_dataset(config, source_dir=toy_source, out_dir=out)
    make_folds(config, dataset_file=first.path, out_dir=out, k=3)
    cv_train(config, out_dir=out, k=3, trial=1)
    report = out / "TOY_folds_3_weights" / "report.json"
    report_written = report.stat().st_mtime_ns
    with load_dataset(first.path) as dataset:
        digest = dataset.attrs["content_digest"]
    clip = sorted(toy_source.rglob("*.wav"))[3]
    os.utime(clip, ns=(1, 1))  # touched, as a copy or a backup restore does
    with caplog.at_level(logging.INFO):
        again = transform_dataset(config, source_dir=toy_source, out_dir=out)
    assert again.up_to_date and "hold the same bytes; its features are kept" in caplog.text
    with load_dataset(first.path) as dataset:
        assert dataset.attrs["content_digest"] == digest
    assert transform_dataset(config, source_dir=toy_source, out_dir=out).up_to_date  # the new times are recorded
    assert make_folds(config, dataset_file=first.path, out_dir=out, k=3).up_to_date
    cv_train(config, out_dir=out, k=3, trial=1)
    assert report.stat().st_mtime_ns == report_written  # an unchanged rerun leaves the report alone
    # A forced rebuild writes the same data: still the same folds.
    transform_dataset(config, source_dir=toy_source, out_dir=out, force=True)
    assert make_folds(config, dataset_file=first.path, out_dir=out, k=3).up_to_date
    # An edited clip is rebuilt, and the folds follow.
    write_tone(clip, seconds=0.5, frequency=1234.0)
    edited = transform_dataset(config, source_dir=toy_source, out_dir=out)
    assert not edited.up_to_date
    assert not make_folds(config, dataset_file=first.path, out_dir=out, k=3).up_to_date


def test_an_edited_clip_is_the_only_one_extracted_again(toy_source, tiny_config, tmp_path, monkeypatch, caplog):
    out = tmp_path / "out"
    transform_dataset(tiny_config, source_dir=toy_source, out_dir=out)
    edited = sorted(toy_source.rglob("*.wav"))[5]
    write_tone(edited, seconds=0.5, frequency=987.0)
    extracted = []
    extract = transform_module._extract_clip

    def counted(clip, *args, **kwargs):
        extracted.append(clip.path)
        return extract(clip, *args, **kwargs)

    monkeypatch.setattr(transform_module, "_extract_clip", counted)
    with caplog.at_level(logging.INFO):
        partly = transform_dataset(tiny_config, source_dir=toy_source, out_dir=out, jobs=1)
    assert not partly.up_to_date and extracted == [edited]
    assert "14 of 15 clips are unchanged and copied from" in caplog.text
    # The same file, to the bit, as a rebuild that extracts every clip.
    whole = transform_dataset(tiny_config, source_dir=toy_source, out_dir=tmp_path / "whole", jobs=1)
    with load_dataset(partly.path) as kept, load_dataset(whole.path) as fresh:
        assert kept.attrs["content_digest"] == fresh.attrs["content_digest"]
