"""The DCASE 2018 Task 2 baseline models: a log-mel CNN and an MLP over fixed-size examples."""

from __future__ import annotations

from typing import Any, Mapping

import keras
from keras import ops

from mclnn.config import FeatureSettings
from mclnn.config.loader import parse_assignment
from mclnn.errors import ParameterError

__all__ = ["CNN", "MLP", "BaselineArchitecture", "baseline_hparams", "build_baseline", "sparse_binary_crossentropy"]

# Shared by both models; example_frames and example_hop default to 0.25 s and 0.125 s of
# the dataset's frames (baseline_hparams).
_COMMON = {"classifier": "softmax", "lr": 1e-4, "adam_eps": 1e-8, "batch_size": 64, "weights_stddev": 0.01}


class BaselineArchitecture:
    """The layers between a baseline's input example and its classifier, and their own hyperparameters.

    Attributes
    ----------
    name : str
        The ``--model`` name.
    defaults : dict
        Hyperparameters of this architecture alone, with their DCASE 2018 values.
    """

    name = ""
    defaults: dict = {}

    def layers(self, hparams: dict, *, n_frames: int, n_features: int, weights) -> list:
        """The hidden layers for examples of ``(n_frames, n_features)``; ``weights()`` gives each kernel's initializer."""
        raise NotImplementedError


class _CNN(BaselineArchitecture):
    """Conv2D 7x7 (100 maps), max-pool, Conv2D 5x5 (150), max-pool, Conv2D 3x3 (200), max over time and frequency."""

    name = "cnn"

    def layers(self, hparams, *, n_frames, n_features, weights):
        layers = [keras.layers.Reshape((n_frames, n_features, 1), name="image")]
        for index, (maps, size) in enumerate(((100, 7), (150, 5), (200, 3))):
            if index:
                layers.append(keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{index}"))
            layers.append(keras.layers.Conv2D(maps, size, padding="same", activation="relu",
                                              kernel_initializer=weights(), name=f"conv{index}"))
        return layers + [keras.layers.GlobalMaxPooling2D(name="max_time_frequency")]


class _MLP(BaselineArchitecture):
    """``nl`` dense ReLU layers of ``nh`` units over the flattened example."""

    name = "mlp"
    defaults = {"nl": 2, "nh": 600}

    def layers(self, hparams, *, n_frames, n_features, weights):
        return [keras.layers.Flatten(name="flatten"),
                *(keras.layers.Dense(hparams["nh"], activation="relu", kernel_initializer=weights(), name=f"dense{i}")
                  for i in range(hparams["nl"]))]


CNN = _CNN()
MLP = _MLP()


def baseline_hparams(architecture: BaselineArchitecture, features: FeatureSettings,
                     overrides: str | Mapping[str, Any] | None = None) -> dict:
    """A baseline's hyperparameters: the DCASE 2018 defaults, then ``name=value,...`` overrides.

    Parameters
    ----------
    architecture : BaselineArchitecture
        :data:`CNN` or :data:`MLP`.
    features : FeatureSettings
        Sets the default example size: 0.25 s examples every 0.125 s, in frames
        (25 and 12 frames for the ``logmel-dcase2018`` preset's 10 ms hop).
    overrides : str or mapping, optional
        For instance ``"classifier=logistic,lr=0.001"``, or from Python
        ``{"classifier": "logistic", "lr": 0.001}``.

    Raises
    ------
    ParameterError
        An unknown name, or a value that is not of the default's type.
    """
    frame_seconds = features.frame_hop / features.sample_rate
    model = architecture.name
    hparams = {**_COMMON, **architecture.defaults, "example_frames": max(1, round(0.25 / frame_seconds)),
               "example_hop": max(1, round(0.125 / frame_seconds))}
    if isinstance(overrides, Mapping):
        assignments = list(overrides.items())
    else:
        assignments = [(name, value) for (name,), value in (
            parse_assignment(item, flag="--hparams", example="name=value, e.g. lr=0.001", depth=1)
            for item in filter(None, (part.strip() for part in (overrides or "").split(","))))]
    for name, value in assignments:
        if name not in hparams:
            raise ParameterError(f"--hparams: unknown name {name!r} for the {model} model; known: "
                                 + ", ".join(sorted(hparams)))
        hparams[name] = _of_the_type_of(hparams[name], value, name=name)
    if hparams["classifier"] not in ("softmax", "logistic"):
        raise ParameterError(f"--hparams: classifier must be softmax or logistic, got {hparams['classifier']!r}")
    for name in ("lr", "batch_size", "example_frames", "example_hop", *architecture.defaults):
        if hparams[name] <= 0:
            raise ParameterError(f"--hparams: {name} must be positive, got {hparams[name]}")
    return hparams


def _of_the_type_of(default, value, *, name):
    """``value`` as the default's type: an int where a float is wanted, and YAML's ``1e-4`` (a string), are numbers."""
    kind = type(default)
    if isinstance(value, bool) or not isinstance(value, (kind, int, str)) or (kind is int and not isinstance(value, int)):
        raise ParameterError(f"--hparams: {name}={value!r} is not a {kind.__name__}")
    try:
        return kind(value)
    except ValueError:
        raise ParameterError(f"--hparams: {name}={value!r} is not a {kind.__name__}") from None


def build_baseline(architecture: BaselineArchitecture, hparams: dict, *, n_frames: int, n_features: int,
                   n_classes: int, seed: int | None = None) -> keras.Sequential:
    """A fresh, uncompiled baseline model for examples of ``(n_frames, n_features)``.

    ``cnn`` (:data:`CNN`): Conv2D 7x7 with 100 maps, max-pool 3x3 stride 2, Conv2D 5x5 with
    150 maps, max-pool 3x3 stride 2, Conv2D 3x3 with 200 maps, max over time and frequency,
    then the classifier; ReLU, SAME padding. ``mlp`` (:data:`MLP`): ``nl`` dense ReLU layers
    of ``nh`` units over the flattened example. Weights from a truncated normal (``weights_stddev``), biases 0,
    Adam (``lr``, ``adam_eps``; the loss is chosen by :class:`mclnn.train.model.kinds.BaselineKind`).
    ``classifier=logistic`` gives independent sigmoid outputs instead of a softmax.
    """
    seeds = iter(range(seed, seed + 100)) if seed is not None else iter(lambda: None, 0)

    def weights():
        return keras.initializers.TruncatedNormal(stddev=hparams["weights_stddev"], seed=next(seeds))

    layers = [keras.Input(shape=(n_frames, n_features), name="example"),
              *architecture.layers(hparams, n_frames=n_frames, n_features=n_features, weights=weights)]
    logistic = hparams["classifier"] == "logistic"
    layers.append(keras.layers.Dense(n_classes, activation="sigmoid" if logistic else "softmax",
                                     kernel_initializer=weights(), name="classifier"))
    return keras.Sequential(layers, name=architecture.name)


@keras.saving.register_keras_serializable(package="mclnn")
def sparse_binary_crossentropy(labels, probabilities):
    """Binary cross-entropy of independent sigmoid outputs against one-hot class indices."""
    one_hot = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), ops.shape(probabilities)[-1])
    return keras.losses.binary_crossentropy(one_hot, probabilities)
