"""muda augmentation: the configured deformers applied to one clip.

Each deformer is built from its datasets.yaml entry; the random ones get a seed derived
from the augmentation seed and the clip, so every variant is reproducible on its own,
whichever worker computes it. muda is imported only when augmenting: it takes about
2 s to import, which the cron-friendly up-to-date check must not pay.
"""

from __future__ import annotations

import functools
import shutil
from typing import Iterator

import librosa
import numpy as np
import soundfile

from mclnn.config import AugmentationSettings, Deformer
from mclnn.errors import ParameterError

__all__ = ["build_deformers", "check_programs", "deform"]

_RANDOM_DEFORMERS = {"RandomPitchShift", "RandomTimeStretch", "ColoredNoise", "BackgroundNoise"}
_PROGRAMS = {
    "rubberband": ("rubberband-cli", {"PitchShift", "LinearPitchShift", "RandomPitchShift", "TimeStretch",
                                      "LogspaceTimeStretch", "RandomTimeStretch"}),
    "sox": ("sox", {"DynamicRangeCompression"}),
}


def check_programs(settings: AugmentationSettings) -> None:
    """Raise ParameterError if a deformer needs a program (rubberband, sox) that is not installed."""
    names = {deformer.name for deformer in settings.deformers}
    for program, (package, users) in _PROGRAMS.items():
        needed_by = sorted(names & users)
        if needed_by and shutil.which(program) is None:
            raise ParameterError(
                f"augmentation with {', '.join(needed_by)} needs the `{program}` program; "
                f"install it (apt-get install {package}) or remove those deformers"
            )


def build_deformers(settings: AugmentationSettings, *, seed: int) -> list:
    """Instantiate the configured muda deformers, random ones seeded with ``seed``.

    Raises
    ------
    ParameterError
        muda rejects a deformer's parameters.
    """
    import muda

    deformers = []
    for position, deformer in enumerate(settings.deformers):
        params = {key: list(value) if isinstance(value, tuple) else value for key, value in deformer.params}
        if deformer.name in _RANDOM_DEFORMERS:
            params["rng"] = int(np.random.SeedSequence([seed, position]).generate_state(1)[0])
        cls = _background_noise_class() if deformer.name == "BackgroundNoise" else getattr(muda.deformers, deformer.name)
        try:
            deformers.append(cls(**params))
        except (ValueError, AssertionError, TypeError) as error:
            raise ParameterError(f"augmentation deformer {_describe(deformer)}: {error or 'invalid parameters'}") from None
    return deformers


def deform(y: np.ndarray, *, sr: int, settings: AugmentationSettings, seed: int) -> Iterator[tuple[np.ndarray, str]]:
    """Yield each augmented variant of one clip with a description of its deformation.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        The original clip.
    sr : int
        Its sampling rate.
    settings : AugmentationSettings
    seed : int
        Seed for this clip's random deformers.

    Yields
    ------
    y_variant : np.ndarray [shape=(m,), dtype=float32]
    deformation : str
        e.g. ``PitchShift(n_semitones=-3.5)``.
    """
    import jams
    import muda

    jam = jams.JAMS()
    jam.file_metadata.duration = len(y) / sr
    muda.jam_pack(jam, _audio={"y": y, "sr": sr})
    for deformer in build_deformers(settings, seed=seed):
        for variant in deformer.transform(jam):
            state = variant.sandbox.muda.history[-1]["state"]
            yield np.asarray(variant.sandbox.muda._audio["y"], dtype=np.float32), _describe_state(deformer, state)


def _describe(deformer: Deformer) -> str:
    return f"{deformer.name}({', '.join(f'{key}={value!r}' for key, value in deformer.params)})"


def _describe_state(deformer, state):
    shown = {key: value for key, value in state.items() if key not in ("tuning", "start", "stop")}
    if "filename" in shown:
        shown["filename"] = str(shown["filename"]).rsplit("/", 1)[-1]
    values = ", ".join(f"{key}={round(value, 4) if isinstance(value, float) else value}" for key, value in shown.items())
    return f"{type(deformer).__name__.lstrip('_')}({values})"


@functools.cache
def _background_noise_class():
    import muda

    class BackgroundNoise(muda.deformers.BackgroundNoise):
        """muda's BackgroundNoise with its noise reading fixed for librosa >= 0.10.

        muda 0.4.1 calls ``librosa.resample`` and ``librosa.util.fix_length`` with
        positional arguments, which librosa 0.10 made keyword-only.
        """

        def audio(self, mudabox, state):
            y, sr = mudabox._audio["y"], mudabox._audio["sr"]
            with soundfile.SoundFile(str(state["filename"])) as noise_file:
                noise_file.seek(state["start"])
                noise = noise_file.read(state["stop"] - state["start"], dtype="float32", always_2d=True)
                noise = librosa.resample(noise.mean(axis=1), orig_sr=noise_file.samplerate, target_sr=sr)
            noise = librosa.util.fix_length(noise, size=len(y))
            weight = state["weight"]
            mudabox._audio["y"] = (1.0 - weight) * librosa.util.normalize(y) + weight * librosa.util.normalize(noise)

    return BackgroundNoise
