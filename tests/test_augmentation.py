import numpy as np
import pytest

from mclnn import load_dataset
from mclnn.config import AugmentationSettings, Deformer, load_config
from mclnn.errors import ParameterError
from mclnn.preprocess import augmentation
from mclnn.preprocess.augmentation import build_deformers, check_programs, deform
from mclnn.preprocess.toy import write_toy_dataset
from mclnn.preprocess.transform import transform_dataset

from conftest import TINY_FEATURES, write_tone

PITCH_AND_NOISE = AugmentationSettings(seed=5, deformers=(
    Deformer("PitchShift", (("n_semitones", (-1, 1)),)),
    Deformer("ColoredNoise", (("color", ("pink",)), ("n_samples", 1))),
))


@pytest.fixture
def augmented_config(tmp_path):
    user = tmp_path / "aug.yaml"
    user.write_text(
        "datasets:\n  toy-aug:\n    extends: toy\n    augmentation:\n      seed: 5\n      deformers:\n"
        "        - {type: PitchShift, n_semitones: [-1, 1]}\n"
        "        - {type: ColoredNoise, n_samples: 1, color: [pink]}\n")
    return load_config("toy-aug", config_path=user, overrides=TINY_FEATURES)


@pytest.fixture
def small_source(tmp_path):
    return write_toy_dataset(tmp_path / "small", clips_per_class=1, seconds=0.5, seed=3)


def test_variants_follow_their_original(augmented_config, small_source, tmp_path):
    result = transform_dataset(augmented_config, source_dir=small_source, out_dir=tmp_path / "out", jobs=2)
    assert (result.n_originals, result.n_clips) == (5, 20)
    with load_dataset(result.path) as dataset:
        assert list(dataset.variants) == [0, 1, 2, 3] * 5
        assert list(dataset.groups) == [group for group in range(0, 20, 4) for _ in range(4)]
        assert list(dataset.filenames[:4]) == [dataset.filenames[0]] * 4
        assert list(dataset.labels) == [label for label in range(5) for _ in range(4)]
        assert list(dataset.deformations[:4]) == [
            "", "PitchShift(n_semitones=-1)", "PitchShift(n_semitones=1)", dataset.deformations[3]]
        assert dataset.deformations[3].startswith("ColoredNoise(color=pink, weight=")
        assert not np.allclose(dataset.features(0), dataset.features(1))
        assert "muda" in dataset.attrs["versions"]


@pytest.mark.parametrize("augmenting", [True, False])
def test_librosa_numba_cache_is_warmed_before_augmenting_workers_start(augmented_config, small_source, tmp_path,
                                                                      monkeypatch, augmenting):
    class Warmed(Exception):
        pass

    def warm():
        raise Warmed

    monkeypatch.setattr("mclnn.preprocess.transform.warm_numba_caches", warm)
    config = augmented_config if augmenting else load_config("toy", overrides=TINY_FEATURES)
    if augmenting:
        with pytest.raises(Warmed):
            transform_dataset(config, source_dir=small_source, out_dir=tmp_path / "out", jobs=2)
        assert not (tmp_path / "out" / "Dataset.hdf5").exists()
    else:
        transform_dataset(config, source_dir=small_source, out_dir=tmp_path / "out", jobs=2)


def test_variants_are_reproducible_per_clip(rng):
    y = (0.3 * np.sin(np.arange(11025) * 0.05) + 0.01 * rng.standard_normal(11025)).astype(np.float32)
    first = list(deform(y, sr=22050, settings=PITCH_AND_NOISE, seed=11))
    again = list(deform(y, sr=22050, settings=PITCH_AND_NOISE, seed=11))
    other = list(deform(y, sr=22050, settings=PITCH_AND_NOISE, seed=12))
    assert len(first) == PITCH_AND_NOISE.n_variants == 3
    for (variant, description), (repeat, repeat_description) in zip(first, again):
        np.testing.assert_array_equal(variant, repeat)
        assert description == repeat_description
    assert not np.allclose(first[2][0], other[2][0])


def test_background_noise_works_with_current_librosa(tmp_path, rng):
    noise_file = write_tone(tmp_path / "noise.wav", sr=44100, seconds=2.0, frequency=100)
    settings = AugmentationSettings(seed=0, deformers=(
        Deformer("BackgroundNoise", (("files", (str(noise_file),)), ("n_samples", 2))),))
    y = (0.3 * np.sin(np.arange(11025) * 0.3)).astype(np.float32)
    variants = list(deform(y, sr=22050, settings=settings, seed=1))
    assert len(variants) == settings.n_variants == 2
    for variant, description in variants:
        assert variant.shape == y.shape
        assert description.startswith("BackgroundNoise(filename=noise.wav, weight=")
        assert not np.allclose(variant, y / np.max(np.abs(y)))


def test_muda_rejections_are_named():
    settings = AugmentationSettings(deformers=(Deformer("DynamicRangeCompression", (("preset", "loud"),)),))
    with pytest.raises(ParameterError, match=r"deformer DynamicRangeCompression\(preset='loud'\)"):
        build_deformers(settings, seed=0)


@pytest.mark.parametrize("deformer, program", [("PitchShift", "rubberband"), ("LogspaceTimeStretch", "rubberband"),
                                               ("DynamicRangeCompression", "sox")])
def test_missing_program_is_named(monkeypatch, deformer, program):
    monkeypatch.setattr(augmentation.shutil, "which", lambda name: None)
    settings = AugmentationSettings(deformers=(Deformer(deformer, ()),))
    with pytest.raises(ParameterError, match=rf"{deformer} needs the `{program}` program; install it"):
        check_programs(settings)


def test_configured_variant_counts():
    assert load_config("esc10-augmented").augmentation.n_variants == 12
    assert load_config("esc50-augmented").augmentation.n_variants == 4
