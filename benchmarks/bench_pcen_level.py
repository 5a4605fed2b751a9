"""How much a recording's level moves the PCEN block, for several PCEN parameters (no training, no labels).

A source recording's level is one thing an unheard recording changes. For each parameter
set (gain, bias, power; the dataset's time constant and settled start kept), every clip is
turned into features twice, as it is and 20 dB quieter, and the script prints

- the mean absolute change of the PCEN block, in units of each band's standard deviation
  over all the clips' frames (what standardization divides by), and its ratio to the
  change under the dataset's own parameters, measured in the same run;
- the temporal share: the part of each band's variance that lies within clips rather than
  between them (1: the block carries only how a clip changes over time, none of its level).

    python benchmarks/bench_pcen_level.py --source ../shared/data/esc10 --fold 2 --per-category 3
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import defaultdict

import librosa
import numpy as np

from mclnn.config import load_config
from mclnn.preprocess import discover_clips
from mclnn.preprocess.features import clip_features

#: (gain, bias, power): librosa's defaults first, then the values PCEN's analysis for outdoor
#: recordings uses (Lostanlen et al., IEEE SPL 2019), then their bias and power at the default
#: gain, their power alone, and a gain of 1 (no level left at all).
PARAMETERS = [(0.98, 2.0, 0.5), (0.8, 10.0, 0.25), (0.98, 10.0, 0.25), (0.98, 2.0, 0.25), (1.0, 2.0, 0.5)]


def pcen_block(clip, settings):
    """The last ``n_mels`` features of every frame: the PCEN block."""
    return clip_features(clip, settings=settings)[:, -settings.n_mels:]


def level_figures(clips, settings):
    """(mean change for a 20 dB quieter clip in band standard deviations, temporal share of the variance)."""
    blocks = np.stack([pcen_block(clip, settings) for clip in clips])
    quieter = np.stack([pcen_block(clip * 0.1, settings) for clip in clips])
    frames = blocks.reshape(-1, blocks.shape[-1])
    change = float((np.abs(quieter - blocks) / frames.std(axis=0)).mean())
    temporal_share = float((blocks.var(axis=1).mean(axis=0) / frames.var(axis=0)).mean())
    return change, temporal_share


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="esc10-fast", help="a datasets.yaml entry with features.pcen (default esc10-fast)")
    parser.add_argument("--source", required=True, help="the dataset's audio folder")
    parser.add_argument("--fold", type=int, default=2, help="take clips of this official fold only (default 2)")
    parser.add_argument("--per-category", type=int, default=3, help="clips per category (default 3)")
    args = parser.parse_args()

    config = load_config(args.dataset)
    if not config.features.pcen:
        parser.error(f"{args.dataset} has no PCEN block (features.pcen is false); pick an entry that has one")
    chosen = defaultdict(list)
    for clip in discover_clips(config.source, root=args.source):
        if clip.fold == args.fold and len(chosen[clip.category]) < args.per_category:
            chosen[clip.category].append(clip.path)
    paths = [path for category in sorted(chosen) for path in chosen[category]]
    if not paths:
        parser.error(f"no clips of fold {args.fold} under {args.source}")
    clips = [librosa.load(path, sr=config.features.sample_rate, mono=True)[0] for path in paths]
    print(f"{len(clips)} clips of fold {args.fold}, {args.dataset}'s features "
          f"(time constant {config.features.pcen_time_constant:g} s, settled {config.features.pcen_settled})")

    baseline, _ = level_figures(clips, config.features)
    print(f"{'gain':>5} {'bias':>5} {'power':>5}  {'-20 dB change':>13}  {'ratio':>6}  {'temporal share':>14}")
    for gain, bias, power in PARAMETERS:
        settings = dataclasses.replace(config.features, pcen_gain=gain, pcen_bias=bias, pcen_power=power)
        change, share = level_figures(clips, settings)
        print(f"{gain:5g} {bias:5g} {power:5g}  {change:13.3f}  {change / baseline:6.2f}  {share:14.3f}")


if __name__ == "__main__":
    main()
