"""datasets.yaml parsed and validated once into a frozen :class:`DatasetConfig`.

The packaged ``datasets.yaml`` holds one entry per dataset; a user file given with
``--config`` adds entries or replaces packaged ones, and ``--set section.key=value``
overrides single settings, so the precedence is *flag > datasets.yaml > default*.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import types
import typing
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from mclnn.config.data import AugmentationSettings, Deformer, FeatureSettings, FoldSettings, SourceSettings
from mclnn.config.learning import ModelSettings, TrainingSettings
from mclnn.errors import ParameterError
from mclnn.preprocess.deformers import DEFORMERS

__all__ = ["DatasetConfig", "available_datasets", "load_config", "parse_assignment", "settings_hash", "settings_yaml",
           "write_settings"]

PACKAGED_CONFIG = "datasets.yaml"


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


def settings_yaml(config: DatasetConfig) -> str:
    """``config`` as a datasets YAML holding its one entry, fully resolved, for ``--config`` to replay.

    The header comment names the date and the versions of mclnn and of the libraries that
    decide the results.
    """
    entry = {"description": config.description}
    for section in _SECTIONS:
        entry[section] = json.loads(json.dumps(dataclasses.asdict(getattr(config, section))))
    entry["augmentation"]["deformers"] = [{"type": deformer.name, **json.loads(json.dumps(dict(deformer.params)))}
                                          for deformer in config.augmentation.deformers]
    versions = ", ".join(f"{name} {version}" for name, version in _versions().items())
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return (f"# The resolved entry of {config.name!r} as run on {stamp}; replay it with --config <this file>.\n"
            f"# Versions: {versions}.\n" + yaml.safe_dump({"datasets": {config.name: entry}}, sort_keys=False))


def write_settings(path: str | Path, config: DatasetConfig) -> None:
    """Write :func:`settings_yaml` to ``path`` atomically, unless the file there holds the same entry already.

    Temporary files that killed runs left beside ``path`` are removed first.
    """
    from mclnn.atomic import atomic_write_text, remove_leftovers

    text, path = settings_yaml(config), Path(path)
    remove_leftovers(path)
    entry = [line for line in text.splitlines() if not line.startswith("#")]
    if path.is_file() and [line for line in path.read_text().splitlines() if not line.startswith("#")] == entry:
        return
    atomic_write_text(path, text)


def _versions() -> dict[str, str]:
    """The installed versions of mclnn and of the libraries behind its numbers (metadata only: nothing is imported)."""
    found = {}
    for name in ("mclnn", "numpy", "librosa", "soundfile", "h5py", "scikit-learn", "keras", "tensorflow",
                 "tensorflow-cpu", "jax", "muda"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def available_datasets(*, config_path: str | Path | None = None) -> list[str]:
    """Names of the datasets defined by the packaged datasets.yaml and ``config_path``."""
    entries, _ = _read_entries(config_path)
    return sorted(entries)


def load_config(
    dataset: str,
    *,
    config_path: str | Path | None = None,
    overrides: Sequence[str | tuple[str, str]] | Mapping[str, Mapping[str, Any]] = (),
) -> DatasetConfig:
    """Resolve and validate one dataset's settings.

    Parameters
    ----------
    dataset : str
        Entry name in datasets.yaml.
    config_path : str or Path, optional
        A user YAML file with the same layout; its entries add to or replace the packaged ones.
    overrides : sequence of str or (str, str), or mapping
        ``section.key=value`` settings (values parsed as YAML) applied last. A pair
        ``(flag, setting)`` is a setting a command-line flag stands for, such as
        ``("--epochs 1", "training.epochs=1")``: an error it causes names the flag. From
        Python, a mapping of sections to settings does the same:
        ``{"training": {"epochs": 60}, "features": {"n_mels": 40}}``.

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
    if isinstance(overrides, Mapping):
        overrides = [(f"overrides[{section!r}][{key!r}]", {section: {key: value}})
                     for section, settings in overrides.items() for key, value in dict(settings).items()]
    labelled = [(None, override) if isinstance(override, str) else override for override in overrides]
    with_overrides = merged
    for _, override in labelled:
        with_overrides = _deep_merge(with_overrides, override if isinstance(override, Mapping)
                                     else _parse_override(override))
    try:
        return _build_config(dataset, with_overrides, origin, f"{origin}: dataset {dataset!r}")
    except ParameterError:
        if not overrides or not _builds(dataset, merged, origin):
            raise
    # The entry is valid without the --set values and flags, so they are at fault: name them, not the file.
    sets = [override for flag, override in labelled if flag is None]
    named = ([f"--set {' '.join(sets)}"] if sets else []) + [flag for flag, _ in labelled if flag is not None]
    return _build_config(dataset, with_overrides, origin, ", ".join(named))


def _builds(dataset, merged, origin):
    try:
        _build_config(dataset, merged, origin, origin)
    except ParameterError:
        return False
    return True


def _build_config(dataset, merged, origin, where):
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
    """A stable SHA-256 of dataclasses and plain values, for telling stale outputs apart.

    A dataclass field at its default is left out, so a setting added later (off by
    default) leaves the hashes of earlier outputs, and so those outputs, valid.
    """
    payload = json.dumps([_set_fields(item) for item in settings], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _set_fields(item: Any) -> Any:
    """A dataclass as a dict of its fields that differ from their defaults (nested ones alike); other values as they are."""
    if not dataclasses.is_dataclass(item) or isinstance(item, type):
        return item
    content = {}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING
        if value != default:
            content[field.name] = _set_fields(value)
    return content


def _read_entries(config_path):
    packaged = resources.files("mclnn").joinpath(PACKAGED_CONFIG)
    documents = [(PACKAGED_CONFIG, packaged.read_text())]
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ParameterError(f"--config {path}: no such file; give the path of a datasets YAML file")
        try:
            documents.append((str(path), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            raise ParameterError(f"--config {path}: not a text file (not UTF-8); give a datasets YAML file") from None
    entries, defaults = {}, {}
    for origin, text in documents:
        try:
            document = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            raise ParameterError(f"{origin}: {_yaml_problem(error)}") from None
        if not isinstance(document, Mapping) or not set(document) <= {"defaults", "datasets"}:
            raise ParameterError(f"{origin}: the top level must hold only 'defaults' and 'datasets' mappings")
        defaults = _deep_merge(defaults, document.get("defaults") or {})
        for name, entry in (document.get("datasets") or {}).items():
            if not isinstance(entry, Mapping):
                raise ParameterError(f"{origin}: dataset {name!r} must be a mapping, got {entry!r}")
            name = str(name)
            if entry.get("extends") == name and name in entries:
                # A user entry extending the packaged entry of its own name: merge the two now.
                parent, _ = entries[name]
                entry = _deep_merge(parent, {key: value for key, value in entry.items() if key != "extends"})
            entries[name] = (dict(entry), origin)
    return entries, defaults


def _yaml_problem(error):
    """One line for a YAML syntax error: where it is and what the parser expected."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"not valid YAML at {where}{problem}; fix the file's syntax"


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


def parse_assignment(text: str, *, flag: str, example: str, depth: int) -> tuple[list[str], Any]:
    """``KEY=VALUE`` from the command line: the key's dotted parts, and the value parsed as YAML.

    The one grammar of ``--set section.key=value`` and ``--hparams name=value,...``.

    Parameters
    ----------
    text : str
    flag : str
        The option, for messages (``--set``).
    example : str
        What a correct one looks like, for messages.
    depth : int
        How many dotted parts the key has.

    Raises
    ------
    ParameterError
        No ``=``, another number of key parts, or a value that is not YAML; naming ``flag`` and ``text``.
    """
    key, separator, value = text.partition("=")
    path = key.strip().split(".")
    if not separator or len(path) != depth or not all(path):
        raise ParameterError(f"{flag} {text!r}: expected {example}")
    try:
        return path, yaml.safe_load(value)
    except yaml.YAMLError:
        raise ParameterError(f"{flag} {text!r}: the value is not valid YAML") from None


def _parse_override(override):
    (section, key), value = parse_assignment(override, flag="--set", example="section.key=value, e.g. "
                                             "features.n_mels=40", depth=2)
    return {section: {key: value}}


def _parse_deformers(items, where):
    if not isinstance(items, list):
        raise ParameterError(f"{where}: augmentation.deformers must be a list, got {items!r}")
    deformers = []
    for item in items:
        if not isinstance(item, Mapping) or "type" not in item:
            raise ParameterError(f"{where}: each deformer needs a 'type', got {item!r}")
        name = item["type"]
        if name not in DEFORMERS:
            raise ParameterError(
                f"{where}: unknown deformer {name!r}; supported: {', '.join(sorted(DEFORMERS))}"
            )
        params = {key: value for key, value in item.items() if key != "type"}
        spec = DEFORMERS[name]
        unknown = set(params) - spec.parameters
        if unknown:
            raise ParameterError(
                f"{where}: deformer {name} has no parameter(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(spec.parameters))}"
            )
        required = spec.required
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
