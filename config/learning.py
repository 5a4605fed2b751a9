"""Settings of the training stage: the MCLNN model and how each trial is trained."""

from __future__ import annotations

from dataclasses import dataclass

from mclnn.config.checks import check_choice, check_positive
from mclnn.errors import ParameterError

__all__ = ["ModelSettings", "TrainingSettings"]


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
                check_positive(name, value)
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
            check_positive(name, getattr(self, name))
        check_choice("monitor", self.monitor, ("val_accuracy", "val_loss"))
        check_choice("mode", self.mode, ("segment", "clip"))
