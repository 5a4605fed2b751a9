"""Settings of the training stage: the MCLNN model and how each trial is trained."""

from __future__ import annotations

from dataclasses import dataclass

from mclnn.config.checks import check_choice, check_positive
from mclnn.errors import ParameterError
from mclnn.variants import BLOCK_MASKS, MONITORS, ORIGINAL_BLOCK_MASK, POOLINGS, SCHEDULES, TRAINING_MODES

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
    pooling : {'average', 'max', 'average+max'}
        How those frames are pooled (:mod:`mclnn.train.model.pooling`): their mean (the
        original work's), their maximum, or the sum of both.
    block_mask : {'across', 'interleaved', 'within'}
        How the first MCLNN layer's mask meets the blocks of a frame (the log-mel, its
        delta, PCEN; :func:`mclnn.train.model.layers.band_mask`): ``across`` (the original
        work's) runs it over the blocks one after another, so a unit sees a run of bands
        of one block, or of two where its band straddles them; ``interleaved`` runs it
        band by band, so a unit sees the same mel bands in every block; ``within`` gives
        each block its own mask over a third of the units (with three blocks), so every
        band lies inside one block.
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
    pooling: str = "average"
    block_mask: str = ORIGINAL_BLOCK_MASK

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
        POOLINGS.check(self.pooling)
        BLOCK_MASKS.check(self.block_mask)

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
    """How each trial's model is trained: the recipe.

    The defaults are the original work's recipe (Adam at a constant 1e-4, early
    stopping, no augmentation); ``esc10-fast`` in datasets.yaml shows a faster one.

    Attributes
    ----------
    step : int
        Frames between the starts of consecutive segments of a clip.
    batch_size : int
        Segments per batch (in ``clip`` mode, about this many segments' worth of whole clips).
    learning_rate : float
        The learning rate, the peak of a schedule.
    epochs : int
        Most epochs per trial; the budget a ``cosine`` or ``one-cycle`` schedule spans.
    patience : int
        Epochs without improvement of ``monitor`` before stopping.
    monitor : {'val_accuracy', 'val_loss'}
    seed : int
        Seeds weights (trial i: ``seed + 1000 * i``), dropout, shuffling and batch
        augmentation (``seed + i``).
    mode : {'clip', 'clip-mean', 'segment'}
        ``clip`` (the default): batches of whole clips through the clip-level model,
        every segment's loss counted; overlapping segments of a clip share the dropout
        masks of the MCLNN layers' inputs. ``clip-mean``: the same batches, one loss a
        clip, on the mean of its segments' probabilities (validation stays per segment).
        ``segment``: every segment is a sample of its own (the original work); about 40
        times slower (benchmarks/RESULTS.md).
    schedule : {'constant', 'cosine', 'one-cycle', 'plateau'}
        The learning rate over training (:mod:`mclnn.train.fit.schedules`): constant;
        linear warm-up over ``warmup_epochs`` then cosine decay to ``min_learning_rate``
        at ``epochs``; one cycle (up from ``learning_rate / 25`` over ``warmup_epochs``,
        else the first 30% of the epochs, then cosine down to ``min_learning_rate``);
        or constant, multiplied by ``plateau_factor`` after ``plateau_patience`` epochs
        without improvement of ``monitor``.
    warmup_epochs : float
    min_learning_rate : float
    plateau_factor : float
    plateau_patience : int
    weight_decay : float
        Above 0: AdamW with this decoupled weight decay (not on biases and PReLU slopes).
    label_smoothing : float
        Cross-entropy against labels smoothed towards uniform by this much.
    time_shift : bool
        Roll every training clip (segment) in time by a random number of frames
        (circularly: ESC clips are trimmed and looped end to end).
    frequency_masks, frequency_mask_bands : int
        SpecAugment: that many masks per training example, each of up to that many
        consecutive bands (the same bands of the log-mel and its delta), set to 0 (the mean).
    time_masks, time_mask_frames : int
        SpecAugment: that many masks of up to that many consecutive frames.
    mixup_alpha : float
        Above 0: mixup of training examples, each mixed with another of its batch by a
        weight drawn from Beta(alpha, alpha); their labels are mixed alike.
    frequency_shift : int
        Above 0: move every training example's bands (the log-mel's and the delta's alike)
        up or down by a random number of bands, at most this many, repeating the edge band:
        a cheap pitch shift.
    spectral_tilt : float
        Above 0: colour every training example's log-mel as another recording chain would,
        adding ``gain + tilt * b`` (``b`` from -1 at the lowest band to 1 at the highest;
        gain and tilt uniform in [-spectral_tilt, spectral_tilt], in standard deviations of
        the standardized features); the delta is left as it is (a constant's delta is 0).
    ema_momentum : float
        Above 0: keep an exponential moving average of the weights, updated after every
        step (``average = m * average + (1 - m) * weights``, e.g. 0.99 for about the last
        100 steps); each epoch is validated, and the model kept, with the averaged weights,
        while training goes on from the raw ones.
    keep : {'best', 'last'}
        Which epoch's model is kept and tested: the best by ``monitor`` or the last.
    steps_per_call : int
        Under JAX, train up to this many consecutive batches of one shape in one compiled
        call (Keras' own training step, unrolled, each batch formed on the device), so the
        host neither calls nor waits once per batch; 1: one call a batch. Meant for
        accelerators, where a call's round trip can outlast a small model's step; on the
        CPU it is about as fast as 1 and compiles longer (benchmarks/RESULTS.md).
    """

    step: int = 1
    batch_size: int = 600
    learning_rate: float = 1e-4
    epochs: int = 2000
    patience: int = 50
    monitor: str = "val_accuracy"
    seed: int = 0
    mode: str = "clip"
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    min_learning_rate: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 10
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    time_shift: bool = False
    frequency_masks: int = 0
    frequency_mask_bands: int = 8
    time_masks: int = 0
    time_mask_frames: int = 20
    mixup_alpha: float = 0.0
    frequency_shift: int = 0
    spectral_tilt: float = 0.0
    ema_momentum: float = 0.0
    keep: str = "best"
    steps_per_call: int = 1

    def __post_init__(self):
        for name in ("step", "batch_size", "learning_rate", "epochs", "patience", "plateau_patience", "steps_per_call"):
            check_positive(name, getattr(self, name))
        MONITORS.check(self.monitor)
        TRAINING_MODES.check(self.mode)
        SCHEDULES.check(self.schedule)
        check_choice("keep", self.keep, ("best", "last"))
        for name in ("warmup_epochs", "min_learning_rate", "weight_decay", "mixup_alpha", "frequency_masks",
                     "frequency_mask_bands", "time_masks", "time_mask_frames", "frequency_shift", "spectral_tilt"):
            if getattr(self, name) < 0:
                raise ParameterError(f"training.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise ParameterError(f"training.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0 <= self.ema_momentum < 1:
            raise ParameterError(f"training.ema_momentum must be in [0, 1) (0: no averaging), got {self.ema_momentum}")
        if not 0 < self.plateau_factor < 1:
            raise ParameterError(f"training.plateau_factor must be in (0, 1), got {self.plateau_factor}")
        if self.warmup_epochs >= self.epochs and SCHEDULES.load(self.schedule).decays_over_epochs:
            raise ParameterError(f"training.warmup_epochs={self.warmup_epochs} leaves nothing of the "
                                 f"{self.epochs} epochs to decay over; lower it or raise training.epochs")

    @property
    def soft_labels(self) -> bool:
        """Whether training needs probability labels (mixup or label smoothing) rather than class indices."""
        return self.mixup_alpha > 0 or self.label_smoothing > 0
