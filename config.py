"""Dataset settings: datasets.yaml parsed and validated once into frozen dataclasses.

The packaged ``datasets.yaml`` holds one entry per dataset; a user file given with
``--config`` adds entries or replaces packaged ones, and ``--set section.key=value``
overrides single settings, so the precedence is *flag > datasets.yaml > default*.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from mclnn.errors import ParameterError

__all__ = [
    "DCASE2018",
    "AugmentationSettings",
    "DatasetConfig",
    "Deformer",
    "FeatureSettings",
    "FoldSettings",
    "ModelSettings",
    "TrainingSettings",
    "SourceSettings",
    "available_datasets",
    "load_config",
    "settings_hash",
]

PACKAGED_CONFIG = "datasets.yaml"

# The analysis of the `logmel-dcase2018` feature preset (the DCASE 2018 Task 2 baseline):
# STFT magnitude with a periodic Hann window, FFT length the next power of two,
# mel bands between mel_fmin and mel_fmax, log(mel + log_offset); examples of
# example_seconds every example_hop_seconds.
DCASE2018 = {"window_seconds": 0.025, "hop_seconds": 0.010, "n_mels": 64, "mel_fmin": 125.0, "mel_fmax": 7500.0,
             "log_offset": 0.001, "example_seconds": 0.25, "example_hop_seconds": 0.125}

# muda deformers we support and the parameters each accepts (muda 0.4.1); the random
# number generator of the random ones is seeded by us, per clip.
DEFORMER_PARAMETERS = {
    "PitchShift": {"n_semitones"},
    "LinearPitchShift": {"n_samples", "lower", "upper"},
    "RandomPitchShift": {"n_samples", "mean", "sigma"},
    "TimeStretch": {"rate"},
    "LogspaceTimeStretch": {"n_samples", "lower", "upper"},
    "RandomTimeStretch": {"n_samples", "location", "scale"},
    "DynamicRangeCompression": {"preset"},
    "ColoredNoise": {"n_samples", "color", "weight_min", "weight_max"},
    "BackgroundNoise": {"n_samples", "files", "weight_min", "weight_max"},
}


@dataclass(frozen=True)
class SourceSettings:
    """Where a dataset's audio is and how its clips, categories and folds are found.

    Attributes
    ----------
    layout : {'folders', 'csv'}
        ``folders``: one sub-folder per category. ``csv``: a metadata CSV lists the clips.
    path : str or None
        Default audio folder; ``--source`` overrides it.
    generator : str or None
        Name of a built-in synthetic dataset written to the cache when no source is given.
    extensions : tuple of str
        Audio file endings looked for in the ``folders`` layout.
    fold_pattern : str or None
        Regular expression whose first group, matched against a file name, is its
        official fold (``folders`` layout).
    csv : str or None
        Metadata CSV, relative to the source folder (``csv`` layout).
    path_template : str
        Audio path relative to the source folder, formatted with the CSV row's columns.
    filename_column, category_column : str
        CSV columns holding the clip file name and its category.
    fold_column, group_column : str or None
        Optional CSV columns holding the official fold and a grouping key (e.g. source
        recording or speaker) whose clips must stay together.
    """

    layout: str = "folders"
    path: str | None = None
    generator: str | None = None
    extensions: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
    fold_pattern: str | None = None
    csv: str | None = None
    path_template: str = "{filename}"
    filename_column: str = "filename"
    category_column: str = "category"
    fold_column: str | None = None
    group_column: str | None = None

    def __post_init__(self):
        _check_choice("layout", self.layout, ("folders", "csv"))
        if self.layout == "csv" and not self.csv:
            raise ParameterError("source.csv is required with layout 'csv'; name the metadata CSV")
        if self.generator not in (None, "toy"):
            raise ParameterError(f"source.generator must be 'toy' or absent, got {self.generator!r}")
        if self.fold_pattern is not None:
            try:
                pattern = re.compile(self.fold_pattern)
            except re.error as error:
                raise ParameterError(
                    f"source.fold_pattern {self.fold_pattern!r} is not a regular expression: {error}"
                ) from None
            if pattern.groups != 1:
                raise ParameterError(
                    f"source.fold_pattern {self.fold_pattern!r} needs exactly one group "
                    "capturing the fold number, e.g. '^(\\d+)-'"
                )


@dataclass(frozen=True)
class FeatureSettings:
    """Log-mel feature settings, in librosa's vocabulary.

    Attributes
    ----------
    preset : {'mclnn', 'logmel-dcase2018'}
        ``mclnn``: the original MCLNN features (mel power spectrogram in dB, from
        ``n_mels``, ``n_fft``, ``hop_length``, ``top_db``, optionally the delta).
        ``logmel-dcase2018``: the DCASE 2018 Task 2 baseline's features, which fix their
        own analysis (see :data:`DCASE2018`) and ignore those five settings.
    sample_rate : int
        Audio is resampled to this rate and mixed to mono.
    n_mels, n_fft, hop_length : int
        Mel power spectrogram settings (``mclnn`` preset).
    top_db : float
        ``librosa.power_to_db(ref=np.max, top_db=...)`` floor (``mclnn`` preset).
    first_frame : int
        0-based index of the first frame kept (the original work's FIRST_FRAME_IN_SLICE).
        When a clip has fewer than ``first_frame + n_frames`` frames, its middle
        ``n_frames`` frames are kept instead, as in the original work.
    n_frames : int
        Frames kept per clip.
    delta : bool
        Append the first-order delta (``librosa.feature.delta(width=delta_width)`` of the
        whole clip's log-mel) after the log-mel along the feature axis.
    clip_seconds : float or None
        Every clip is brought to this length (None keeps each clip's own length).
    clip_position : {'start', 'middle'}
        Which part of a longer clip is kept.
    trim_and_repeat : bool
        Trim leading and trailing silence (``librosa.effects.trim(top_db=trim_top_db)``),
        then repeat the clip end to end until it fills ``clip_seconds``; otherwise
        shorter clips are zero-padded.
    """

    preset: str = "mclnn"
    sample_rate: int = 22050
    n_mels: int = 60
    n_fft: int = 1024
    hop_length: int = 512
    top_db: float = 80.0
    first_frame: int = 0
    n_frames: int = 200
    delta: bool = False
    delta_width: int = 9
    clip_seconds: float | None = None
    clip_position: str = "start"
    trim_and_repeat: bool = False
    trim_top_db: float = 60.0

    def __post_init__(self):
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length", "n_frames"):
            _check_positive(name, getattr(self, name))
        if self.first_frame < 0:
            raise ParameterError(f"features.first_frame must be >= 0, got {self.first_frame}")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            raise ParameterError(f"features.delta_width must be an odd integer >= 3, got {self.delta_width}")
        _check_choice("clip_position", self.clip_position, ("start", "middle"))
        _check_choice("preset", self.preset, ("mclnn", "logmel-dcase2018"))
        if self.preset != "mclnn" and self.delta:
            raise ParameterError(f"features.delta is not part of the {self.preset} preset; set delta: false")
        if self.clip_seconds is not None:
            _check_positive("clip_seconds", self.clip_seconds)
            if self.clip_frames < self.n_frames:
                raise ParameterError(
                    f"features.n_frames={self.n_frames} is more than the {self.clip_frames} frames "
                    f"of a {self.clip_seconds} s clip at a hop of {self.frame_hop} samples; "
                    "lower n_frames or raise clip_seconds"
                )
        if self.trim_and_repeat and self.clip_seconds is None:
            raise ParameterError("features.trim_and_repeat needs features.clip_seconds (the length to fill)")

    @property
    def n_features(self) -> int:
        """Features per frame: the mel bands, doubled when the delta is appended."""
        if self.preset == "logmel-dcase2018":
            return DCASE2018["n_mels"]
        return self.n_mels * (2 if self.delta else 1)

    @property
    def frame_length(self) -> int:
        """Samples in one analysis window (the shortest clip that gives a frame)."""
        if self.preset == "logmel-dcase2018":
            return int(round(DCASE2018["window_seconds"] * self.sample_rate))
        return self.n_fft

    @property
    def frame_hop(self) -> int:
        """Samples between consecutive frames."""
        if self.preset == "logmel-dcase2018":
            return int(round(DCASE2018["hop_seconds"] * self.sample_rate))
        return self.hop_length

    @property
    def clip_samples(self) -> int | None:
        """Samples per clip after length fixing, or None when clips keep their length."""
        return None if self.clip_seconds is None else int(round(self.clip_seconds * self.sample_rate))

    @property
    def clip_frames(self) -> int | None:
        """Frames of a fixed-length clip, or None (``mclnn`` frames are centred, DCASE 2018's are not)."""
        if self.clip_samples is None:
            return None
        if self.preset == "logmel-dcase2018":
            return 1 + (self.clip_samples - self.frame_length) // self.frame_hop
        return 1 + self.clip_samples // self.hop_length


@dataclass(frozen=True)
class Deformer:
    """One muda deformer: its class name and keyword parameters (lists become tuples)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def n_variants(self) -> int:
        """How many variants this deformer makes of each clip."""
        params = dict(self.params)
        listed = {
            "PitchShift": "n_semitones",
            "TimeStretch": "rate",
            "DynamicRangeCompression": "preset",
        }
        if self.name in listed:
            value = params[listed[self.name]]
            return len(value) if isinstance(value, tuple) else 1
        n_samples = params.get("n_samples", 1 if self.name in ("ColoredNoise", "BackgroundNoise") else 3)
        if self.name == "ColoredNoise":
            colors = params.get("color", ("white",))
            return n_samples * (len(colors) if isinstance(colors, tuple) else 1)
        if self.name == "BackgroundNoise":
            return n_samples * len(params["files"])
        return n_samples


@dataclass(frozen=True)
class AugmentationSettings:
    """muda augmentation: the deformers applied to every original clip, and the seed."""

    seed: int = 0
    deformers: tuple[Deformer, ...] = ()

    @property
    def n_variants(self) -> int:
        """Augmented variants stored after each original clip."""
        return sum(deformer.n_variants for deformer in self.deformers)


@dataclass(frozen=True)
class FoldSettings:
    """Cross-validation settings.

    Attributes
    ----------
    k : int
        Folds (and trials). Must equal the official fold count where the dataset has one,
        unless official folds are ignored.
    seed : int or None
        Shuffles clips within each class before assigning folds (datasets without
        official folds); None keeps storage order (``seedNoSeed`` in file names).
    """

    k: int = 10
    seed: int | None = None

    def __post_init__(self):
        if self.k < 3:
            raise ParameterError(f"folds.k must be at least 3 (test, validation and training folds), got {self.k}")


@dataclass(frozen=True)
class ModelSettings:
    """The MCLNN model: masked conditional layers, then pooling, dense layers, softmax.

    The per-layer lists run in parallel: ``hidden``, ``order``, ``bandwidth``,
    ``overlap`` and ``masked`` (empty: all masked) have one entry per MCLNN layer;
    ``dropout`` and ``initializers`` one per MCLNN layer, per dense layer and for the
    softmax layer, in that order.

    Attributes
    ----------
    hidden : tuple of int
        Hidden units of each MCLNN layer.
    order : tuple of int
        Each MCLNN layer's order n: it sees 2n+1 frames.
    bandwidth, overlap : tuple of int
        Each layer's mask: consecutive features a hidden unit sees, and features
        shared by neighbouring units (negative: a gap).
    masked : tuple of bool
        False makes a layer an unmasked CLNN.
    dense : tuple of int
        Units of the dense layers after temporal pooling.
    dropout : tuple of float
        Dropout rate at the input of every layer.
    initializers : tuple of str
        Keras initializer of every layer's kernel.
    extra_frames : int
        Frames beyond the 2 * sum(order) + 1 the MCLNN layers consume; pooled over.
    """

    hidden: tuple[int, ...] = (300,)
    order: tuple[int, ...] = (15,)
    bandwidth: tuple[int, ...] = (20,)
    overlap: tuple[int, ...] = (-5,)
    masked: tuple[bool, ...] = ()
    dense: tuple[int, ...] = (100, 100)
    dropout: tuple[float, ...] = (0.01, 0.5, 0.5, 0.1)
    initializers: tuple[str, ...] = ("he_normal", "glorot_uniform", "glorot_uniform", "glorot_uniform")
    extra_frames: int = 40

    def __post_init__(self):
        layers = len(self.hidden)
        if layers == 0:
            raise ParameterError("model.hidden needs at least one MCLNN layer")
        for name in ("order", "bandwidth", "overlap") + (("masked",) if self.masked else ()):
            if len(getattr(self, name)) != layers:
                raise ParameterError(
                    f"model.{name} has {len(getattr(self, name))} entries but model.hidden has {layers} "
                    f"MCLNN layers; give one per MCLNN layer"
                )
        all_layers = layers + len(self.dense) + 1
        for name in ("dropout", "initializers"):
            if len(getattr(self, name)) != all_layers:
                raise ParameterError(
                    f"model.{name} has {len(getattr(self, name))} entries; it needs {all_layers}: one per MCLNN "
                    f"layer ({layers}), per dense layer ({len(self.dense)}) and one for the softmax layer"
                )
        for name in ("hidden", "bandwidth", "dense"):
            for value in getattr(self, name):
                _check_positive(name, value)
        if any(value < 0 for value in self.order):
            raise ParameterError(f"model.order must be >= 0, got {list(self.order)}")
        if any(not 0 <= rate < 1 for rate in self.dropout):
            raise ParameterError(f"model.dropout rates must be in [0, 1), got {list(self.dropout)}")
        if self.extra_frames < 0:
            raise ParameterError(f"model.extra_frames must be >= 0, got {self.extra_frames}")

    @property
    def layer_masked(self) -> tuple[bool, ...]:
        """Whether each MCLNN layer is masked."""
        return self.masked or (True,) * len(self.hidden)

    @property
    def segment_frames(self) -> int:
        """Frames per segment: ``2 * sum(order) + extra_frames + 1``."""
        return 2 * sum(self.order) + self.extra_frames + 1


@dataclass(frozen=True)
class TrainingSettings:
    """How each trial's model is trained.

    Attributes
    ----------
    step : int
        Frames between the starts of consecutive segments of a clip.
    batch_size : int
    learning_rate : float
        Adam's learning rate.
    epochs : int
        Most epochs per trial.
    patience : int
        Epochs without improvement of ``monitor`` before stopping; the best weights are kept.
    monitor : {'val_accuracy', 'val_loss'}
    seed : int
        Seeds weights, dropout and shuffling; trial i uses ``seed + i``.
    mode : {'clip', 'segment'}
        ``clip`` (the default): batches of whole clips through the clip-level model,
        every segment's loss counted; overlapping segments of a clip share the dropout
        masks of the MCLNN layers' inputs. ``segment``: every segment is a sample of its
        own (the original work); about 40 times slower (benchmarks/RESULTS.md).
    """

    step: int = 1
    batch_size: int = 600
    learning_rate: float = 1e-4
    epochs: int = 2000
    patience: int = 50
    monitor: str = "val_accuracy"
    seed: int = 0
    mode: str = "clip"

    def __post_init__(self):
        for name in ("step", "batch_size", "learning_rate", "epochs", "patience"):
            _check_positive(name, getattr(self, name))
        _check_choice("monitor", self.monitor, ("val_accuracy", "val_loss"))
        _check_choice("mode", self.mode, ("segment", "clip"))


@dataclass(frozen=True)
class DatasetConfig:
    """Everything the stages need to know about one dataset."""

    name: str
    source: SourceSettings
    features: FeatureSettings
    augmentation: AugmentationSettings
    folds: FoldSettings = dataclasses.field(default_factory=FoldSettings)
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)
    training: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)
    description: str = ""
    origin: str = PACKAGED_CONFIG


_SECTIONS = {
    "source": SourceSettings,
    "features": FeatureSettings,
    "augmentation": AugmentationSettings,
    "folds": FoldSettings,
    "model": ModelSettings,
    "training": TrainingSettings,
}
_ENTRY_KEYS = {"extends", "description", *_SECTIONS}


def available_datasets(*, config_path: str | Path | None = None) -> list[str]:
    """Names of the datasets defined by the packaged datasets.yaml and ``config_path``."""
    entries, _ = _read_entries(config_path)
    return sorted(entries)


def load_config(
    dataset: str,
    *,
    config_path: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> DatasetConfig:
    """Resolve and validate one dataset's settings.

    Parameters
    ----------
    dataset : str
        Entry name in datasets.yaml.
    config_path : str or Path, optional
        A user YAML file with the same layout; its entries add to or replace the packaged ones.
    overrides : sequence of str
        ``section.key=value`` settings (values parsed as YAML) applied last.

    Returns
    -------
    DatasetConfig

    Raises
    ------
    ParameterError
        Unknown dataset, unknown setting or a value out of range; the message names it.
    """
    entries, defaults = _read_entries(config_path)
    if dataset not in entries:
        raise ParameterError(
            f"unknown dataset {dataset!r}; known datasets: {', '.join(sorted(entries))} "
            "(add your own with --config FILE)"
        )
    entry, origin = _resolve_entry(dataset, entries)
    merged = _deep_merge(defaults, entry)
    for override in overrides:
        merged = _deep_merge(merged, _parse_override(override))
    where = f"{origin}: dataset {dataset!r}"
    unknown = set(merged) - _ENTRY_KEYS
    if unknown:
        raise ParameterError(
            f"{where}: unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_ENTRY_KEYS))}"
        )
    sections = {}
    for section, cls in _SECTIONS.items():
        values = merged.get(section) or {}
        if not isinstance(values, Mapping):
            raise ParameterError(f"{where}: {section} must be a mapping, got {values!r}")
        if section == "augmentation":
            values = dict(values, deformers=_parse_deformers(values.get("deformers") or [], where))
        sections[section] = _build(cls, values, f"{where}: {section}")
    return DatasetConfig(
        name=dataset,
        description=str(merged.get("description", "")),
        origin=origin,
        **sections,
    )


def settings_hash(*settings: Any) -> str:
    """A stable SHA-256 of dataclasses and plain values, for telling stale outputs apart."""
    payload = json.dumps(
        [dataclasses.asdict(item) if dataclasses.is_dataclass(item) else item for item in settings],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _read_entries(config_path):
    packaged = resources.files("mclnn").joinpath(PACKAGED_CONFIG)
    documents = [(PACKAGED_CONFIG, packaged.read_text())]
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ParameterError(f"--config {path}: no such file; give the path of a datasets YAML file")
        documents.append((str(path), path.read_text()))
    entries, defaults = {}, {}
    for origin, text in documents:
        try:
            document = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise ParameterError(f"{origin} is not valid YAML: {error}".replace("\n", " ")) from None
        if not isinstance(document, Mapping) or not set(document) <= {"defaults", "datasets"}:
            raise ParameterError(f"{origin}: the top level must hold only 'defaults' and 'datasets' mappings")
        defaults = _deep_merge(defaults, document.get("defaults") or {})
        for name, entry in (document.get("datasets") or {}).items():
            if not isinstance(entry, Mapping):
                raise ParameterError(f"{origin}: dataset {name!r} must be a mapping, got {entry!r}")
            entries[str(name)] = (dict(entry), origin)
    return entries, defaults


def _resolve_entry(name, entries, seen=()):
    if name in seen:
        raise ParameterError(f"datasets.yaml: 'extends' loops through {' -> '.join((*seen, name))}")
    if name not in entries:
        raise ParameterError(f"dataset {seen[-1]!r} extends unknown dataset {name!r}")
    entry, origin = entries[name]
    parent_name = entry.get("extends")
    if parent_name is None:
        return entry, origin
    parent, _ = _resolve_entry(str(parent_name), entries, (*seen, name))
    return _deep_merge(parent, {key: value for key, value in entry.items() if key != "extends"}), origin


def _deep_merge(base, update):
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _parse_override(override):
    key, separator, text = override.partition("=")
    path = key.strip().split(".")
    if not separator or len(path) != 2 or not all(path):
        raise ParameterError(f"--set {override!r}: expected section.key=value, e.g. features.n_mels=40")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ParameterError(f"--set {override!r}: the value is not valid YAML") from None
    return {path[0]: {path[1]: value}}


def _parse_deformers(items, where):
    if not isinstance(items, list):
        raise ParameterError(f"{where}: augmentation.deformers must be a list, got {items!r}")
    deformers = []
    for item in items:
        if not isinstance(item, Mapping) or "type" not in item:
            raise ParameterError(f"{where}: each deformer needs a 'type', got {item!r}")
        name = item["type"]
        if name not in DEFORMER_PARAMETERS:
            raise ParameterError(
                f"{where}: unknown deformer {name!r}; supported: {', '.join(sorted(DEFORMER_PARAMETERS))}"
            )
        params = {key: value for key, value in item.items() if key != "type"}
        unknown = set(params) - DEFORMER_PARAMETERS[name]
        if unknown:
            raise ParameterError(
                f"{where}: deformer {name} has no parameter(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(DEFORMER_PARAMETERS[name]))}"
            )
        required = {"PitchShift": "n_semitones", "TimeStretch": "rate", "DynamicRangeCompression": "preset",
                    "BackgroundNoise": "files"}.get(name)
        if required and required not in params:
            raise ParameterError(f"{where}: deformer {name} needs '{required}'")
        frozen = tuple(sorted((key, tuple(value) if isinstance(value, list) else value) for key, value in params.items()))
        deformers.append(Deformer(name=name, params=frozen))
    return tuple(deformers)


def _build(cls, values, where):
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ParameterError(
            f"{where}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    hints = typing.get_type_hints(cls)
    checked = {name: _check_type(value, hints[name], f"{where}.{name}") for name, value in values.items()}
    try:
        return cls(**checked)
    except ParameterError as error:
        raise ParameterError(f"{where}: {error}") from None


def _check_type(value, annotation, where):
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        annotation = next(option for option in options if option is not type(None))
        origin = typing.get_origin(annotation)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ParameterError(f"{where} must be a list, got {value!r}")
        item_type = typing.get_args(annotation)[0]
        return tuple(_check_type(item, item_type, f"{where}[{index}]") for index, item in enumerate(value))
    if annotation is bool:
        if not isinstance(value, bool):
            raise ParameterError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"{where} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ParameterError(f"{where} must be a string, got {value!r}")
        return value
    return value


def _check_positive(name, value):
    if value <= 0:
        raise ParameterError(f"{name} must be positive, got {value}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
