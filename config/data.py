"""Settings of the data stages: where the audio is, its features, augmentation and folds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mclnn.config.checks import check_choice, check_positive
from mclnn.errors import ParameterError
from mclnn.preprocess.deformers import deformer_variants
from mclnn.variants import FEATURE_PRESETS

__all__ = ["AugmentationSettings", "Deformer", "FeatureSettings", "FoldSettings", "SourceSettings"]


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
        check_choice("layout", self.layout, ("folders", "csv"))
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
        own analysis (see :data:`mclnn.preprocess.feature_presets.DCASE2018`) and ignore those five settings.
        :data:`mclnn.variants.FEATURE_PRESETS` lists the presets.
    sample_rate : int
        Audio is resampled to this rate and mixed to mono.
    n_mels, n_fft, hop_length : int
        Mel power spectrogram settings (``mclnn`` preset).
    top_db : float
        ``librosa.power_to_db(ref=np.max, top_db=...)`` floor (``mclnn`` preset).
    fmin, fmax : float
        The mel bands span ``fmin`` to ``fmax`` Hz (``mclnn`` preset; default 0 to half the
        sample rate). The DCASE 2018 baseline's features keep 125-7500 Hz.
    db_reference : {'clip_max', 'absolute'}
        ``clip_max`` (the original work): dB relative to the clip's loudest bin, floored
        ``top_db`` below it, so every clip peaks at 0 dB. ``absolute``: dB of the power as
        decoded (reference 1), floored at -100 dB, so a quiet recording stays quieter and
        its noise floor is not lifted to within ``top_db`` of its peak (``mclnn`` preset).
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
    pcen : bool
        Append, after the log-mel (and its delta), the per-channel energy normalization of
        the same mel power (``librosa.pcen``, on the power scaled by 2**31 as librosa advises
        for float audio): an automatic gain control per band (each band divided by a
        smoothed copy of its own recent energy), so a steady background is suppressed and
        onsets stand out (``mclnn`` preset).
    pcen_time_constant, pcen_gain, pcen_bias, pcen_power : float
        ``librosa.pcen``'s ``time_constant`` (seconds the smoothed energy looks back; > 0),
        ``gain`` (how far the smoothed energy divides the band out, 0-1), ``bias`` and
        ``power`` (the root compression after the gain, >= 0); librosa's defaults 0.4, 0.98,
        2 and 0.5. Only with ``pcen``.
    pcen_settled : bool
        Start each band's smoothed energy at the band's mean energy over the clip's first
        ``pcen_time_constant`` seconds, as if the sound had been going on before the clip
        began. librosa starts it from near silence, so the first ``pcen_time_constant``
        seconds of every clip come out as a loud onset in every band (about 1 s in 5 at
        2 s). Only with ``pcen``.
    band_centering : bool
        Subtract from each band of the clip's log-mel its mean over the clip's kept frames
        (the delta is unchanged): a recording chain's steady colouring (microphone, room,
        equalizer) is a constant per band in dB, and goes.
    """

    preset: str = "mclnn"
    sample_rate: int = 22050
    n_mels: int = 60
    n_fft: int = 1024
    hop_length: int = 512
    top_db: float = 80.0
    fmin: float = 0.0
    fmax: float | None = None
    db_reference: str = "clip_max"
    first_frame: int = 0
    n_frames: int = 200
    delta: bool = False
    delta_width: int = 9
    clip_seconds: float | None = None
    clip_position: str = "start"
    trim_and_repeat: bool = False
    trim_top_db: float = 60.0
    pcen: bool = False
    pcen_time_constant: float = 0.4
    pcen_gain: float = 0.98
    pcen_bias: float = 2.0
    pcen_power: float = 0.5
    pcen_settled: bool = False
    band_centering: bool = False

    def __post_init__(self):
        for name in ("sample_rate", "n_mels", "n_fft", "hop_length", "n_frames"):
            check_positive(name, getattr(self, name))
        if self.first_frame < 0:
            raise ParameterError(f"features.first_frame must be >= 0, got {self.first_frame}")
        if self.delta_width < 3 or self.delta_width % 2 == 0:
            raise ParameterError(f"features.delta_width must be an odd integer >= 3, got {self.delta_width}")
        check_choice("clip_position", self.clip_position, ("start", "middle"))
        check_choice("db_reference", self.db_reference, ("clip_max", "absolute"))
        top = self.sample_rate / 2 if self.fmax is None else self.fmax
        if not 0 <= self.fmin < top <= self.sample_rate / 2:
            raise ParameterError(f"features.fmin={self.fmin:g} and fmax={top:g} must satisfy 0 <= fmin < fmax <= "
                                 f"{self.sample_rate / 2:g} (half of sample_rate)")
        FEATURE_PRESETS.check(self.preset)
        if self.delta and not self.feature_preset.takes_delta:
            raise ParameterError(f"features.delta is not part of the {self.preset} preset; set delta: false")
        if self.pcen and not self.feature_preset.takes_delta:
            raise ParameterError(f"features.pcen is not part of the {self.preset} preset; set pcen: false")
        self._check_pcen_parameters()
        if self.clip_seconds is not None:
            check_positive("clip_seconds", self.clip_seconds)
            if self.clip_frames < self.n_frames:
                raise ParameterError(
                    f"features.n_frames={self.n_frames} is more than the {self.clip_frames} frames "
                    f"of a {self.clip_seconds} s clip at a hop of {self.frame_hop} samples; "
                    "lower n_frames or raise clip_seconds"
                )
        if self.trim_and_repeat and self.clip_seconds is None:
            raise ParameterError("features.trim_and_repeat needs features.clip_seconds (the length to fill)")

    def _check_pcen_parameters(self):
        names = ("time_constant", "gain", "bias", "power", "settled")
        parameters = {name: getattr(self, f"pcen_{name}") for name in names}
        changed = [name for name, value in parameters.items()
                   if value != getattr(FeatureSettings, f"pcen_{name}")]
        if changed and not self.pcen:
            raise ParameterError(f"features.pcen_{changed[0]} has no effect without features.pcen; "
                                 "set pcen: true or leave it out")
        check_positive("features.pcen_time_constant", self.pcen_time_constant)
        if not 0 <= self.pcen_gain <= 1:
            raise ParameterError(f"features.pcen_gain must be between 0 and 1, got {self.pcen_gain}")
        for name in ("bias", "power"):
            if parameters[name] < 0:
                raise ParameterError(f"features.pcen_{name} must be >= 0, got {parameters[name]}")

    @property
    def feature_preset(self):
        """The :class:`~mclnn.preprocess.feature_presets.FeaturePreset` of ``preset``."""
        return FEATURE_PRESETS.load(self.preset)

    @property
    def n_features(self) -> int:
        """Features per frame (for ``mclnn``: the mel bands once per block, see :attr:`feature_blocks`)."""
        return self.feature_preset.n_features(self)

    @property
    def feature_blocks(self) -> int:
        """Equal blocks of bands per frame: the log-mel, then the delta and PCEN where appended."""
        return 1 + self.delta + self.pcen

    @property
    def frame_length(self) -> int:
        """Samples in one analysis window (the shortest clip that gives a frame)."""
        return self.feature_preset.frame_length(self)

    @property
    def frame_hop(self) -> int:
        """Samples between consecutive frames."""
        return self.feature_preset.frame_hop(self)

    @property
    def clip_samples(self) -> int | None:
        """Samples per clip after length fixing, or None when clips keep their length."""
        return None if self.clip_seconds is None else int(round(self.clip_seconds * self.sample_rate))

    @property
    def clip_frames(self) -> int | None:
        """Frames of a fixed-length clip, or None (``mclnn`` frames are centred, DCASE 2018's are not)."""
        if self.clip_samples is None:
            return None
        return self.feature_preset.frames_in(self.clip_samples, self)


@dataclass(frozen=True)
class Deformer:
    """One muda deformer: its class name and keyword parameters (lists become tuples)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def n_variants(self) -> int:
        """How many variants this deformer makes of each clip."""
        return deformer_variants(self.name, dict(self.params))


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
