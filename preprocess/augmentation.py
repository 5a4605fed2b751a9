"""muda augmentation: the configured deformers applied to one clip.

Each deformer is built from its datasets.yaml entry; the random ones get a seed derived
from the augmentation seed and the clip, so every variant is reproducible on its own,
whichever worker computes it. muda is imported only when augmenting: it takes about
2 s to import, which the cron-friendly up-to-date check must not pay.
"""

from __future__ import annotations

import functools
import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import librosa
import numpy as np

from mclnn.atomic import exclusive_lock
from mclnn.preprocess.audio import soundfile
from mclnn.config import AugmentationSettings, Deformer
from mclnn.errors import ParameterError
from mclnn.preprocess.deformers import DEFORMERS

__all__ = ["build_deformers", "check_programs", "deform", "warm_numba_caches"]


def check_programs(settings: AugmentationSettings) -> None:
    """Raise ParameterError if augmenting needs muda (the ``augment`` extra) or a program (rubberband,
    sox) that is not installed."""
    if settings.deformers:
        missing = [name for name in ("muda", "jams") if importlib.util.find_spec(name) is None]
        if missing:
            raise ParameterError(f"augmentation needs {' and '.join(missing)}: pip install 'mclnn[augment]', "
                                 "or remove the augmentation deformers")
    needed = {}
    for deformer in settings.deformers:
        program = DEFORMERS[deformer.name].program
        if program is not None:
            needed.setdefault(program, set()).add(deformer.name)
    for (program, package), needed_by in needed.items():
        if shutil.which(program) is None:
            raise ParameterError(
                f"augmentation with {', '.join(sorted(needed_by))} needs the `{program}` program; "
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
        if DEFORMERS[deformer.name].random:
            params["rng"] = int(np.random.SeedSequence([seed, position]).generate_state(1)[0])
        cls = _adapted_deformers().get(deformer.name) or getattr(muda.deformers, deformer.name)
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
    return f"{type(deformer).__name__}({values})"


@functools.cache
def _adapted_deformers():
    """muda 0.4.1 deformers that fail as released, with their audio step fixed."""
    import muda
    from muda.deformers.colorednoise import noise_generator

    class BackgroundNoise(muda.deformers.BackgroundNoise):
        """muda's BackgroundNoise, reading noise with librosa >= 0.10's keyword-only API.

        muda 0.4.1 calls ``librosa.resample`` and ``librosa.util.fix_length`` with
        positional arguments, which librosa 0.10 rejects.
        """

        def audio(self, mudabox, state):
            y, sr = mudabox._audio["y"], mudabox._audio["sr"]
            with soundfile.SoundFile(str(state["filename"])) as noise_file:
                noise_file.seek(state["start"])
                noise = noise_file.read(state["stop"] - state["start"], dtype="float32", always_2d=True)
                noise = librosa.resample(noise.mean(axis=1), orig_sr=noise_file.samplerate, target_sr=sr)
            mudabox._audio["y"] = _mix(y, librosa.util.fix_length(noise, size=len(y)), state["weight"])

    class ColoredNoise(muda.deformers.ColoredNoise):
        """muda's ColoredNoise, also for odd-length clips.

        muda 0.4.1's noise has one sample fewer than an odd-length clip (``irfft``
        without ``n``); the noise is drawn for one more sample and cut.
        """

        def audio(self, mudabox, state):
            y, sr = mudabox._audio["y"], mudabox._audio["sr"]
            noise = noise_generator(np.pad(y, (0, len(y) % 2)), sr, state["color"], self._rng)[:len(y)]
            mudabox._audio["y"] = _mix(y, noise, state["weight"])

    return {"BackgroundNoise": BackgroundNoise, "ColoredNoise": ColoredNoise}


def _mix(y, noise, weight):
    """muda's additive noise mix: both peak-normalized, then weighted."""
    return (1.0 - weight) * librosa.util.normalize(y) + weight * librosa.util.normalize(noise)


def warm_numba_caches() -> None:
    """Compile, in this process, the numba functions that muda's pitch deformers reach in librosa.

    librosa keeps its numba functions compiled in an on-disk cache. Processes that compile
    one at the same moment can leave a mismatched pair of cache files behind, and a
    process that loads them dies of a segmentation fault (numba issue 10128; seen here on
    a fresh install, two transform workers compiling librosa's pitch tracking at once).
    Called before worker processes start, under a lock every mclnn process on the machine
    shares, so that at most one process compiles and the workers only read the cache.
    """
    with exclusive_lock(Path(tempfile.gettempdir()) / "mclnn-librosa-numba-cache", wait=True):
        librosa.estimate_tuning(y=np.random.default_rng(0).standard_normal(4096).astype(np.float32), sr=22050)
