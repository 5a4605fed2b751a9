"""Dataset settings: datasets.yaml parsed and validated once into frozen dataclasses.

:mod:`mclnn.config.data` and :mod:`mclnn.config.learning` hold the settings of each
section; :mod:`mclnn.config.loader` reads, merges and checks the YAML.
"""

from mclnn.config.data import AugmentationSettings, Deformer, FeatureSettings, FoldSettings, SourceSettings
from mclnn.config.learning import ModelSettings, TrainingSettings
from mclnn.config.loader import DatasetConfig, available_datasets, load_config, settings_hash, settings_yaml, write_settings

__all__ = [
    "AugmentationSettings",
    "DatasetConfig",
    "Deformer",
    "FeatureSettings",
    "FoldSettings",
    "ModelSettings",
    "SourceSettings",
    "TrainingSettings",
    "available_datasets",
    "load_config",
    "settings_hash",
    "settings_yaml",
    "write_settings",
]
