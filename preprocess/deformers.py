"""The muda deformers mclnn supports: one table of what each takes and needs.

Pure data, so that validating datasets.yaml needs neither muda nor librosa; the
augmentation itself (:mod:`mclnn.preprocess.augmentation`) reads the same table.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

__all__ = ["DEFORMERS", "DeformerSpec", "deformer_variants"]


class DeformerSpec(NamedTuple):
    """What one muda 0.4.1 deformer takes and needs.

    Attributes
    ----------
    parameters : frozenset of str
        Keyword parameters it accepts in datasets.yaml.
    required : str or None
        A parameter it cannot do without.
    random : bool
        It draws random numbers; mclnn seeds its generator per clip.
    program : tuple of (str, str) or None
        The external program it runs and the Debian package that installs it.
    listed : str or None
        The parameter whose list gives one variant per value.
    samples : int
        Variants per value of ``per_sample`` when ``n_samples`` is not given.
    per_sample : tuple of (str, Any) or None
        A list parameter (and its default) multiplying the variants.
    """

    parameters: frozenset
    required: str | None = None
    random: bool = False
    program: tuple[str, str] | None = None
    listed: str | None = None
    samples: int = 3
    per_sample: tuple[str, Any] | None = None


_RUBBERBAND = ("rubberband", "rubberband-cli")

DEFORMERS: Mapping[str, DeformerSpec] = {
    "PitchShift": DeformerSpec(frozenset({"n_semitones"}), required="n_semitones", program=_RUBBERBAND,
                               listed="n_semitones"),
    "LinearPitchShift": DeformerSpec(frozenset({"n_samples", "lower", "upper"}), program=_RUBBERBAND),
    "RandomPitchShift": DeformerSpec(frozenset({"n_samples", "mean", "sigma"}), random=True, program=_RUBBERBAND),
    "TimeStretch": DeformerSpec(frozenset({"rate"}), required="rate", program=_RUBBERBAND, listed="rate"),
    "LogspaceTimeStretch": DeformerSpec(frozenset({"n_samples", "lower", "upper"}), program=_RUBBERBAND),
    "RandomTimeStretch": DeformerSpec(frozenset({"n_samples", "location", "scale"}), random=True, program=_RUBBERBAND),
    "DynamicRangeCompression": DeformerSpec(frozenset({"preset"}), required="preset", program=("sox", "sox"),
                                            listed="preset"),
    "ColoredNoise": DeformerSpec(frozenset({"n_samples", "color", "weight_min", "weight_max"}), random=True,
                                 samples=1, per_sample=("color", ("white",))),
    "BackgroundNoise": DeformerSpec(frozenset({"n_samples", "files", "weight_min", "weight_max"}), required="files",
                                    random=True, samples=1, per_sample=("files", ())),
}


def deformer_variants(name: str, params: Mapping[str, Any]) -> int:
    """How many variants deformer ``name`` with ``params`` (lists as tuples) makes of each clip."""
    spec = DEFORMERS[name]
    if spec.listed is not None:
        value = params[spec.listed]
        return len(value) if isinstance(value, tuple) else 1
    n_samples = params.get("n_samples", spec.samples)
    if spec.per_sample is None:
        return n_samples
    values = params.get(*spec.per_sample)
    return n_samples * (len(values) if isinstance(values, tuple) else 1)
