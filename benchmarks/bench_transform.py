"""Feature extraction speed: a plain sequential librosa loop against ``mclnn transform``.

Both run in this process on the same clips with the same settings (ESC-10's by
default), after one warm-up clip each so neither pays librosa's lazy imports or numba
compilation. The script prints both times, the ratio, the largest feature difference,
and the augmentation throughput (variants per second) on a few clips.

    python benchmarks/bench_transform.py --source ../shared/data/esc10
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np

from mclnn import load_dataset
from mclnn.config import load_config
from mclnn.preprocess import discover_clips, transform_dataset


def plain_loop_features(path, settings):
    """The straightforward per-clip computation, with librosa calls only."""
    y, sr = librosa.load(path, sr=settings.sample_rate, mono=True)
    if settings.trim_and_repeat:
        y, _ = librosa.effects.trim(y, top_db=settings.trim_top_db)
        y = np.tile(y, -(-settings.clip_samples // len(y)))
    y = librosa.util.fix_length(y, size=settings.clip_samples)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=settings.n_fft, hop_length=settings.hop_length,
                                         n_mels=settings.n_mels)
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=settings.top_db)
    stop = settings.first_frame + settings.n_frames
    blocks = [log_mel[:, settings.first_frame:stop]]
    if settings.delta:
        blocks.append(librosa.feature.delta(log_mel, width=settings.delta_width)[:, settings.first_frame:stop])
    return np.concatenate(blocks).T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/esc10")
    parser.add_argument("--dataset", default="esc10")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--augment-clips", type=int, default=8, help="clips for the augmentation throughput")
    arguments = parser.parse_args()

    config = load_config(arguments.dataset)
    clips = discover_clips(config.source, root=arguments.source)
    print(f"{len(clips)} clips of {arguments.dataset} from {arguments.source}, {os.cpu_count()} cores, "
          f"jobs={arguments.jobs}")

    with tempfile.TemporaryDirectory() as scratch:
        plain_loop_features(clips[0].path, config.features)
        warm_source = Path(scratch, "warm")
        (warm_source / clips[0].category).mkdir(parents=True)
        os.symlink(clips[0].path, warm_source / clips[0].relative_path)
        transform_dataset(config, source_dir=warm_source, out_dir=Path(scratch, "warm-out"), jobs=arguments.jobs)

        started = time.perf_counter()
        reference = [plain_loop_features(clip.path, config.features) for clip in clips]
        plain_seconds = time.perf_counter() - started

        started = time.perf_counter()
        result = transform_dataset(config, source_dir=arguments.source, out_dir=Path(scratch, "out"),
                                   jobs=arguments.jobs, force=True)
        transform_seconds = time.perf_counter() - started
        with load_dataset(result.path) as dataset:
            largest_difference = max(float(np.max(np.abs(dataset.features(i) - reference[i])))
                                     for i in range(len(dataset)))
        audio_seconds = len(clips) * (config.features.clip_seconds or 0)
        print(f"plain loop        {plain_seconds:7.2f} s  ({audio_seconds / plain_seconds:.0f}x real time)")
        print(f"mclnn transform   {transform_seconds:7.2f} s  ({audio_seconds / transform_seconds:.0f}x real time)")
        print(f"speed-up          {plain_seconds / transform_seconds:7.2f}x")
        print(f"max |difference|  {largest_difference:.2e} dB")

        augmented = load_config(f"{arguments.dataset}-augmented")
        subset = Path(scratch, "subset")
        for clip in clips[:: max(1, len(clips) // arguments.augment_clips)][: arguments.augment_clips]:
            (subset / clip.category).mkdir(parents=True, exist_ok=True)
            os.symlink(clip.path, subset / clip.relative_path)
        started = time.perf_counter()
        result = transform_dataset(augmented, source_dir=subset, out_dir=Path(scratch, "aug"), jobs=arguments.jobs)
        augment_seconds = time.perf_counter() - started
        variants = result.n_clips - result.n_originals
        print(f"augmentation      {variants} variants of {result.n_originals} clips in {augment_seconds:.1f} s "
              f"= {variants / augment_seconds:.1f} variants/s")


if __name__ == "__main__":
    main()
