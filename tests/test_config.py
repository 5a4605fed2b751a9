import dataclasses
import re
from dataclasses import replace

import pytest

from mclnn.config import available_datasets, load_config, settings_hash
from mclnn.errors import ParameterError

ALL_DATASETS = ["toy", "esc10", "esc10-fast", "esc10-fast104", "esc10-band-pcen", "esc10-band-pcen80",
                "esc10-band-pcen160", "esc10-settled", "esc10-settled80", "esc10-settled160", "esc10-fast-logmel",
                "esc10-band", "esc10-long", "esc10-long160", "esc10-augmented", "esc50",
                "esc50-augmented", "urbansound8k", "yornoise", "homburg", "gtzan", "ismir2004", "ballroom"]

# dataset: (n_mels, n_fft, hop_length, first_frame, n_frames, delta, clip_seconds)
ORIGINAL_FEATURES = {
    "esc10": (60, 1024, 512, 4, 200, True, 5.0),
    "esc10-augmented": (60, 1024, 512, 4, 200, True, 5.0),
    "esc50": (60, 1024, 512, 4, 200, True, 5.0),
    "esc50-augmented": (60, 1024, 512, 4, 200, True, 5.0),
    "urbansound8k": (60, 1024, 512, 1, 170, True, 4.0),
    "yornoise": (60, 1024, 512, 1, 170, True, 4.0),
    "homburg": (256, 2048, 1024, 8, 200, False, 10.0),
    "gtzan": (256, 2048, 1024, 23, 600, False, 30.0),
    "ballroom": (256, 2048, 1024, 23, 600, False, 30.0),
    "ismir2004": (256, 2048, 1024, 600, 600, False, 30.0),
}


def test_every_dataset_is_defined_and_valid():
    assert set(ALL_DATASETS) <= set(available_datasets())
    for name in ALL_DATASETS:
        config = load_config(name)
        assert config.name == name
        assert config.features.sample_rate == 22050


@pytest.mark.parametrize("name, expected", ORIGINAL_FEATURES.items())
def test_original_feature_settings(name, expected):
    features = load_config(name).features
    assert (features.n_mels, features.n_fft, features.hop_length, features.first_frame, features.n_frames,
            features.delta, features.clip_seconds) == expected


def test_esc_trims_and_repeats_and_ismir_takes_the_middle():
    assert load_config("esc10").features.trim_and_repeat
    assert load_config("esc50").features.trim_and_repeat
    assert not load_config("urbansound8k").features.trim_and_repeat
    assert load_config("ismir2004").features.clip_position == "middle"


def test_esc10_stores_120_features():
    assert load_config("esc10").features.n_features == 120


@pytest.mark.parametrize("name, variants", [("esc10", 0), ("esc10-augmented", 12), ("esc50-augmented", 4)])
def test_augmented_entries_extend_their_base(name, variants):
    config = load_config(name)
    assert config.augmentation.n_variants == variants
    assert config.features == load_config(name.replace("-augmented", "")).features


def test_pcen_parameters_are_settings_that_change_the_hash():
    fast = load_config("esc10-fast")
    longer = load_config("esc10-fast", overrides=["features.pcen_time_constant=1", "features.pcen_power=0.25"])
    assert (longer.features.pcen_time_constant, longer.features.pcen_power) == (1.0, 0.25)
    assert settings_hash(longer.features) != settings_hash(fast.features)
    same = f"features.pcen_time_constant={fast.features.pcen_time_constant}"
    assert settings_hash(load_config("esc10-fast", overrides=[same]).features) == settings_hash(fast.features)


def test_override_beats_yaml():
    config = load_config("esc10", overrides=["features.n_mels=40", "source.path=/data/esc"])
    assert config.features.n_mels == 40
    assert config.source.path == "/data/esc"


def test_user_config_adds_and_replaces(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text(
        "datasets:\n"
        "  birds:\n    extends: esc10\n    features: {n_mels: 32}\n"
        "  esc10:\n    source: {layout: folders}\n    features: {n_frames: 100}\n"
    )
    assert "birds" in available_datasets(config_path=user)
    assert load_config("birds", config_path=user).features.n_mels == 32
    # Replacing esc10 replaces the whole entry: its features fall back to the defaults.
    assert load_config("esc10", config_path=user).features.n_frames == 100


def test_settings_hash_tracks_values_not_spelling(tmp_path):
    user = tmp_path / "same.yaml"
    # The same settings reached another way: the values spelled out, ints given for floats.
    user.write_text("datasets:\n  same:\n    extends: esc10\n    features: {n_mels: 60, top_db: 80, hop_length: 512}\n")
    esc10 = settings_hash(load_config("esc10").features)
    assert settings_hash(load_config("same", config_path=user).features) == esc10
    assert settings_hash(load_config("esc10", overrides=["features.n_mels=61"]).features) != esc10
    assert settings_hash({"a": 1, "b": 2}) == settings_hash({"b": 2, "a": 1})


def test_a_setting_at_its_default_leaves_the_hash_as_it_was():
    """Outputs made before a setting existed stay up to date: its default is not hashed."""
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Before:
        n_mels: int = 60

    @dataclasses.dataclass(frozen=True)
    class After:
        n_mels: int = 60
        band_centering: bool = False

    assert settings_hash(Before(n_mels=40)) == settings_hash(After(n_mels=40))
    assert settings_hash(After(n_mels=40, band_centering=True)) != settings_hash(After(n_mels=40))
    assert settings_hash(load_config("esc10").features) != settings_hash(load_config("esc10-dcase2018").features)


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "esc11"}, r"unknown dataset 'esc11'.*esc10"),
    ({"dataset": "esc10", "overrides": ["features.n_mel=40"]}, r"unknown setting\(s\) n_mel"),
    ({"dataset": "esc10", "overrides": ["features.n_mels=many"]}, r"features.n_mels must be an integer, got 'many'"),
    ({"dataset": "esc10", "overrides": ["features.n_mels=-3"]}, r"n_mels must be positive, got -3"),
    ({"dataset": "esc10", "overrides": ["features.delta=maybe"]}, r"delta must be true or false"),
    ({"dataset": "esc10", "overrides": ["features.n_frames=300"]}, r"n_frames=300 is more than the 216 frames"),
    ({"dataset": "esc10", "overrides": ["features.delta_width=4"]}, r"delta_width must be an odd integer"),
    ({"dataset": "esc10", "overrides": ["features.clip_position=end"]}, r"clip_position must be one of"),
    ({"dataset": "esc10", "overrides": ["n_mels=40"]}, r"expected section.key=value"),
    ({"dataset": "esc10", "overrides": ["features.n_mels"]}, r"expected section.key=value"),
    ({"dataset": "esc10", "overrides": ["reports.units=3"]}, r"unknown section\(s\) reports"),
    ({"dataset": "esc10", "overrides": ["source.layout=zip"]}, r"layout must be one of folders, csv"),
    ({"dataset": "esc10", "overrides": ["model.pooling=median"]},
     r"model.pooling must be one of average, max, average\+max; got 'median'"),
    ({"dataset": "esc10", "overrides": ["source.fold_pattern=^\\d+-"]}, r"needs exactly one group"),
    ({"dataset": "esc10", "overrides": ["source.layout=csv"]}, r"source.csv is required"),
    ({"dataset": "esc10", "config_path": "/nonexistent.yaml"}, r"--config /nonexistent.yaml: no such file"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        load_config(**kwargs)


@pytest.mark.parametrize("deformers, message", [
    ("[{type: Reverb}]", r"unknown deformer 'Reverb'"),
    ("[{type: PitchShift, semitones: 1}]", r"PitchShift has no parameter\(s\) semitones"),
    ("[{type: PitchShift}]", r"PitchShift needs 'n_semitones'"),
    ("[{n_semitones: 1}]", r"each deformer needs a 'type'"),
])
def test_bad_deformers_are_named(tmp_path, deformers, message):
    user = tmp_path / "aug.yaml"
    user.write_text(f"datasets:\n  mine:\n    extends: toy\n    augmentation: {{deformers: {deformers}}}\n")
    with pytest.raises(ParameterError, match=message):
        load_config("mine", config_path=user)


def test_bad_yaml_is_one_line_naming_file_and_place(tmp_path):
    user = tmp_path / "broken.yaml"
    user.write_text("datasets:\n  mine:\n    extends: toy\n    features: {n_mels: 40\n")
    with pytest.raises(ParameterError) as raised:
        load_config("mine", config_path=user)
    message = str(raised.value)
    assert "\n" not in message and len(message) < 200
    assert re.fullmatch(r".*broken\.yaml: not valid YAML at line \d+, column \d+: .+; fix the file's syntax", message)


def test_set_errors_name_set_not_the_file():
    with pytest.raises(ParameterError, match=r"^--set features.n_mels=many: features.n_mels must be an integer"):
        load_config("esc10", overrides=["features.n_mels=many"])
    with pytest.raises(ParameterError, match=r"^--set features.n_mel=40: features: unknown setting"):
        load_config("esc10", overrides=["features.n_mel=40"])


def test_file_errors_still_name_the_file_when_set_is_given(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("datasets:\n  mine:\n    extends: toy\n    features: {n_mels: -1}\n")
    with pytest.raises(ParameterError, match=r"mine.yaml: dataset 'mine': features"):
        load_config("mine", config_path=user, overrides=["training.epochs=3"])


def test_same_named_user_entry_extends_the_packaged_one(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("datasets:\n  esc10:\n    extends: esc10\n    training: {epochs: 7}\n")
    extended, packaged = load_config("esc10", config_path=user), load_config("esc10")
    assert extended.training.epochs == 7
    assert extended.features == packaged.features and extended.source == packaged.source
    fast = load_config("esc10-fast-logmel", config_path=user)
    assert fast.training.epochs == 40 and fast.features == packaged.features


def test_extends_loop_is_named(tmp_path):
    user = tmp_path / "loop.yaml"
    user.write_text("datasets:\n  a: {extends: b}\n  b: {extends: a}\n")
    with pytest.raises(ParameterError, match="loops through a -> b -> a"):
        load_config("a", config_path=user)


def test_inconsistent_model_lists_are_named():
    with pytest.raises(ParameterError, match=r"model.order has 1 entries but model.hidden has 2 MCLNN layers"):
        load_config("toy", overrides=["model.hidden=[40, 30]"])
    with pytest.raises(ParameterError, match=r"model.dropout has 3 entries; it needs 4"):
        load_config("toy", overrides=["model.dense=[32, 16]"])


def test_k_below_three_is_rejected():
    with pytest.raises(ParameterError, match="folds.k must be at least 3"):
        load_config("toy", overrides=["folds.k=2"])


def _data_and_model(config):
    return config.features, config.model, config.folds, config.source


def test_esc10_fast_logmel_changes_only_the_recipe():
    fast, original = load_config("esc10-fast-logmel"), load_config("esc10")
    assert _data_and_model(fast) == _data_and_model(original)
    assert original.training.schedule == "constant" and original.training.learning_rate == 1e-4
    assert fast.training.schedule == "cosine" and fast.training.epochs == 40 and fast.training.soft_labels


@pytest.mark.parametrize("name, pcen", [
    ("esc10-band-pcen", dict(pcen=True)),
    ("esc10-settled", dict(pcen=True, pcen_time_constant=2.0, pcen_settled=True)),
])
def test_the_pcen_entries_are_the_logmel_recipe_on_the_band_with_pcen(name, pcen):
    entry, logmel = load_config(name), load_config("esc10-fast-logmel")
    assert (entry.training, entry.model, entry.folds, entry.source) == (logmel.training, logmel.model, logmel.folds,
                                                                        logmel.source)
    assert entry.features == replace(logmel.features, fmin=125.0, fmax=7500.0, **pcen)


@pytest.mark.parametrize("name, shorter, epochs", [
    ("esc10-long", "esc10-fast-logmel", 80), ("esc10-long160", "esc10-fast-logmel", 160),
    ("esc10-band-pcen80", "esc10-band-pcen", 80), ("esc10-band-pcen160", "esc10-band-pcen", 160),
    ("esc10-settled80", "esc10-settled", 80), ("esc10-settled160", "esc10-settled", 160),
    ("esc10-fast104", "esc10-fast", 104),
])
def test_longer_esc10_entries_change_only_the_epoch_budget(name, shorter, epochs):
    longer, fast = load_config(name), load_config(shorter)
    assert _data_and_model(longer) == _data_and_model(fast)
    assert (longer.training.epochs, longer.training.patience) == (epochs, epochs)
    assert replace(longer.training, epochs=fast.training.epochs, patience=fast.training.patience) == fast.training


def test_esc10_fast_is_esc10_settled_on_71_frame_segments_over_52_epochs():
    fast, settled = load_config("esc10-fast"), load_config("esc10-settled")
    assert (fast.features, fast.folds, fast.source) == (settled.features, settled.folds, settled.source)
    assert fast.model == replace(settled.model, extra_frames=10) and fast.model.segment_frames == 71
    # 6 clips a batch, as esc10-settled's 600 segments of 101 frames are.
    assert fast.training == replace(settled.training, batch_size=780, epochs=52, patience=52)


def test_a_config_file_that_is_not_text_is_one_line(tmp_path):
    binary = tmp_path / "datasets.yaml"
    binary.write_bytes(b"\xff\xfe\x00datasets:\x9c\x80")
    with pytest.raises(ParameterError, match=rf"^--config {binary}: not a text file \(not UTF-8\); give a datasets "
                                             "YAML file$"):
        load_config("esc10", config_path=binary)


@pytest.mark.parametrize("name, overrides", [
    ("toy", []), ("esc10-augmented", ["training.epochs=7", "features.n_mels=40"]), ("esc10-dcase2018", []),
    ("esc10-fast", ["training.spectral_tilt=0.25"]), ("urbansound8k", []),
])
def test_settings_yaml_replays_the_resolved_entry(tmp_path, name, overrides):
    from mclnn.config import settings_yaml

    config = load_config(name, overrides=overrides)
    written = tmp_path / "settings.yaml"
    written.write_text(settings_yaml(config))
    replayed = load_config(name, config_path=written)
    assert dataclasses.replace(replayed, origin="") == dataclasses.replace(config, origin="")
    assert written.read_text().startswith(f"# The resolved entry of {name!r} as run on ")
    assert "# Versions: mclnn " in written.read_text()
