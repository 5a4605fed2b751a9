import dataclasses
import re

import librosa
import numpy as np
import pytest

from mclnn.config import FeatureSettings
from mclnn.errors import DatasetError, ParameterError
from mclnn.preprocess.features import clip_features, dcase2018_log_mel, first_order_delta, frame_range, log_mel_features


def librosa_reference(y, settings):
    """The plain librosa computation, written out."""
    mel = librosa.feature.melspectrogram(y=y, sr=settings.sample_rate, n_fft=settings.n_fft,
                                         hop_length=settings.hop_length, n_mels=settings.n_mels, fmin=settings.fmin,
                                         fmax=settings.fmax)
    if settings.db_reference == "clip_max":
        log_mel = librosa.power_to_db(mel, ref=np.max, top_db=settings.top_db)
    else:
        log_mel = 10 * np.log10(np.maximum(mel, 1e-10))
    start, stop = frame_range(log_mel.shape[1], settings=settings)
    blocks = [log_mel[:, start:stop]]
    if settings.delta:
        blocks.append(librosa.feature.delta(log_mel, width=settings.delta_width)[:, start:stop])
    return np.concatenate(blocks).T


@pytest.mark.parametrize("delta", [True, False])
@pytest.mark.parametrize("n_fft, hop_length, n_mels, delta_width", [(1024, 512, 60, 9), (2048, 1024, 128, 5),
                                                                   (512, 256, 40, 3)])
def test_log_mel_features_equal_librosa(rng, delta, n_fft, hop_length, n_mels, delta_width):
    settings = FeatureSettings(n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, delta=delta,
                               delta_width=delta_width, first_frame=3, n_frames=30)
    y = (0.2 * rng.standard_normal(22050 * 2)).astype(np.float32) * np.linspace(0, 1, 22050 * 2, dtype=np.float32)
    features = log_mel_features(y, settings=settings)
    assert features.shape == (30, n_mels * (2 if delta else 1))
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, librosa_reference(y, settings), atol=1e-3)


@pytest.mark.parametrize("options", [{"fmin": 125.0, "fmax": 7500.0}, {"fmin": 300.0},
                                     {"db_reference": "absolute"}])
def test_band_limits_and_the_absolute_reference_equal_librosa(rng, options):
    settings = FeatureSettings(delta=True, first_frame=3, n_frames=30, **options)
    y = (0.01 * rng.standard_normal(22050 * 2)).astype(np.float32) * np.linspace(0, 1, 22050 * 2, dtype=np.float32)
    features = log_mel_features(y, settings=settings)
    np.testing.assert_allclose(features, librosa_reference(y, settings), atol=1e-3)
    plain = log_mel_features(y, settings=FeatureSettings(delta=True, first_frame=3, n_frames=30))
    assert not np.allclose(features, plain, atol=1.0)
    if "db_reference" in options:  # the same log-mel, moved down by this quiet clip's peak level
        shift = features[:, :60] - plain[:, :60]
        assert np.ptp(shift) < 1e-3 and shift.mean() < -20


@pytest.mark.parametrize("options, message", [
    ({"fmin": 8000.0, "fmax": 7500.0}, r"fmin=8000 and fmax=7500 must satisfy 0 <= fmin < fmax <= 11025"),
    ({"fmax": 20000.0}, r"fmax=20000 must satisfy"),
    ({"db_reference": "peak"}, r"db_reference must be one of clip_max, absolute"),
])
def test_bad_band_limits_and_references_are_named(options, message):
    with pytest.raises(ParameterError, match=message):
        FeatureSettings(**options)


@pytest.mark.parametrize("width", [3, 5, 9, 11])
@pytest.mark.parametrize("shape", [(40, 50), (2, 3, 17), (12,)])
def test_first_order_delta_equals_librosa(rng, width, shape):
    data = rng.standard_normal(shape) * 30
    np.testing.assert_allclose(first_order_delta(data, width=width), librosa.feature.delta(data, width=width),
                               atol=1e-9)


def test_first_order_delta_needs_width_frames():
    with pytest.raises(DatasetError, match="clip has 5 frames, fewer than the delta width 9"):
        first_order_delta(np.zeros((3, 5)), width=9)


@pytest.mark.parametrize("total, first, n_frames, expected", [
    (216, 4, 200, (4, 204)),        # ESC-10: from first_frame
    (646, 600, 600, (23, 623)),     # ISMIR2004: 600 + 600 > 646, the middle 600
    (204, 4, 200, (4, 204)),        # exactly enough
    (203, 4, 200, (1, 201)),        # one short: middle
    (150, 4, 200, (0, 150)),        # shorter than n_frames: all of it
])
def test_frame_range(total, first, n_frames, expected):
    settings = dataclasses.replace(FeatureSettings(), first_frame=first, n_frames=n_frames)
    assert frame_range(total, settings=settings) == expected


def dcase_settings(**changes):
    return FeatureSettings(preset="logmel-dcase2018", sample_rate=44100, clip_seconds=5.0, first_frame=0,
                           n_frames=498, **changes)


def test_dcase2018_analysis_sizes():
    settings = dcase_settings()
    assert (settings.frame_length, settings.frame_hop, settings.n_features) == (1102, 441, 64)
    assert settings.clip_frames == 1 + (220500 - 1102) // 441 == 498
    assert FeatureSettings(preset="logmel-dcase2018", sample_rate=22050).frame_length == 551


def test_dcase2018_log_mel_equals_a_frame_by_frame_reference(rng):
    settings = dcase_settings()
    y = (0.1 * rng.standard_normal(44100)).astype(np.float32)
    features = dcase2018_log_mel(y, settings=settings)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1102) / 1102)  # periodic Hann
    basis = librosa.filters.mel(sr=44100, n_fft=2048, n_mels=64, fmin=125, fmax=7500, htk=True, norm=None)
    expected = [np.log(basis @ np.abs(np.fft.rfft(y[t * 441:t * 441 + 1102] * window, n=2048)) + 0.001)
                for t in range(1 + (len(y) - 1102) // 441)]
    assert features.shape == (98, 64) and features.dtype == np.float32
    np.testing.assert_allclose(features, np.array(expected), atol=1e-4)


def test_dcase2018_log_mel_puts_a_tone_in_its_band():
    settings = dcase_settings()
    t = np.arange(44100) / 44100
    features = dcase2018_log_mel(np.sin(2 * np.pi * 1000 * t).astype(np.float32), settings=settings)
    centres = librosa.mel_frequencies(n_mels=66, fmin=125, fmax=7500, htk=True)[1:-1]
    assert abs(centres[np.argmax(features.mean(axis=0))] - 1000) < 60


def test_clip_features_fixes_the_length_and_picks_the_preset(rng):
    y = (0.1 * rng.standard_normal(3 * 44100)).astype(np.float32)
    assert clip_features(y, settings=dcase_settings()).shape == (498, 64)
    mclnn = FeatureSettings(sample_rate=44100, clip_seconds=5.0, n_frames=200, delta=True)
    assert clip_features(y, settings=mclnn).shape == (200, 120)


def test_dcase2018_preset_has_no_delta():
    with pytest.raises(ParameterError, match="features.delta is not part of the logmel-dcase2018 preset"):
        dcase_settings(delta=True)


def test_pcen_follows_the_log_mel_and_delta_and_equals_librosa(rng):
    y = (0.05 * rng.standard_normal(22050 * 2)).astype(np.float32) * np.linspace(0, 1, 22050 * 2, dtype=np.float32)
    plain = FeatureSettings(n_mels=40, delta=True, first_frame=3, n_frames=30)
    settings = dataclasses.replace(plain, pcen=True)
    assert (settings.feature_blocks, settings.n_features) == (3, 120)
    features = clip_features(y, settings=settings)
    assert features.shape == (30, 120)
    np.testing.assert_array_equal(features[:, :80], clip_features(y, settings=plain))
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=512, n_mels=40)
    expected = librosa.pcen(mel * 2.0**31, sr=22050, hop_length=512)[:, 3:33].T
    np.testing.assert_allclose(features[:, 80:], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("parameters", [dict(time_constant=0.06), dict(time_constant=2.0, gain=0.8),
                                        dict(bias=10.0, power=0.25), dict(bias=0.0, power=0.0)])
def test_pcen_parameters_reach_librosa(rng, parameters):
    y = (0.05 * rng.standard_normal(22050)).astype(np.float32)
    settings = FeatureSettings(n_mels=20, n_frames=30, pcen=True, **{f"pcen_{k}": v for k, v in parameters.items()})
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=512, n_mels=20)
    expected = librosa.pcen(mel * 2.0**31, sr=22050, hop_length=512, **parameters)[:, :30].T
    default = librosa.pcen(mel * 2.0**31, sr=22050, hop_length=512)[:, :30].T
    features = clip_features(y, settings=settings)[:, 20:]
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(features, default, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("setting, message", [
    (dict(pcen_time_constant=0.0), "features.pcen_time_constant must be positive, got 0.0"),
    (dict(pcen_gain=1.5), "features.pcen_gain must be between 0 and 1, got 1.5"),
    (dict(pcen_bias=-1.0), "features.pcen_bias must be >= 0, got -1.0"),
    (dict(pcen_power=-0.5), "features.pcen_power must be >= 0, got -0.5"),
])
def test_bad_pcen_parameters_are_refused(setting, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        FeatureSettings(pcen=True, **setting)


def _settled_pcen_reference(power, *, sr, hop_length, time_constant, gain=0.98, bias=2.0, exponent=0.5, eps=1e-6):
    """PCEN written out frame by frame, the smoothed energy starting at its mean over the first time constant."""
    frames = time_constant * sr / hop_length
    smoothing = (np.sqrt(1 + 4 * frames**2) - 1) / (2 * frames**2)
    smoothed = power[:, :round(frames)].astype(np.float64).mean(axis=1)
    out = np.empty(power.shape)
    for t in range(power.shape[1]):
        smoothed = (1 - smoothing) * smoothed + smoothing * power[:, t]
        out[:, t] = (power[:, t] / (eps + smoothed) ** gain + bias) ** exponent - bias**exponent
    return out


@pytest.mark.parametrize("time_constant", [0.4, 2.0])
def test_settled_pcen_starts_at_the_opening_power(rng, time_constant):
    y = (0.05 * rng.standard_normal(22050 * 2)).astype(np.float32)
    settings = FeatureSettings(n_mels=20, n_frames=80, pcen=True, pcen_time_constant=time_constant, pcen_settled=True)
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=512, n_mels=20) * 2.0**31
    expected = _settled_pcen_reference(mel, sr=22050, hop_length=512, time_constant=time_constant)[:, :80].T
    settled = clip_features(y, settings=settings)[:, 20:]
    np.testing.assert_allclose(settled, expected, rtol=1e-4, atol=1e-4)
    # Steady noise: settled, the first frames look like the rest; from silence, they are an onset.
    unsettled = clip_features(y, settings=dataclasses.replace(settings, pcen_settled=False))[:, 20:]
    steady = settled[40:].mean()
    assert abs(settled[:5].mean() - steady) < 0.25 * steady < unsettled[:5].mean() - steady


def test_pcen_parameters_need_pcen():
    with pytest.raises(ParameterError, match="features.pcen_time_constant has no effect without features.pcen"):
        FeatureSettings(pcen_time_constant=2.0)
    with pytest.raises(ParameterError, match="features.pcen_settled has no effect without features.pcen"):
        FeatureSettings(pcen_settled=True)


def test_dcase2018_preset_has_no_pcen():
    with pytest.raises(ParameterError, match="features.pcen is not part of the logmel-dcase2018 preset"):
        dcase_settings(pcen=True)


def test_band_centering_zeroes_each_log_mel_bands_mean_and_keeps_the_delta(rng):
    y = rng.standard_normal(22050).astype(np.float32) * np.linspace(0.1, 1.0, 22050, dtype=np.float32)
    plain = FeatureSettings(n_mels=20, n_frames=30, first_frame=2, delta=True)
    centred = dataclasses.replace(plain, band_centering=True)
    before, after = clip_features(y, settings=plain), clip_features(y, settings=centred)
    np.testing.assert_allclose(after[:, :20].mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(after[:, :20], before[:, :20] - before[:, :20].mean(axis=0), atol=1e-4)
    np.testing.assert_array_equal(after[:, 20:], before[:, 20:])
