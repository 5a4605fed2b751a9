import librosa
import numpy as np
import pytest

from mclnn.errors import DatasetError
from mclnn.preprocess.audio import check_signal, fit_length, load_audio

from conftest import write_tone


@pytest.mark.parametrize("name, sr, channels, subtype", [
    ("mono22k.wav", 22050, 1, None),
    ("stereo44k.wav", 44100, 2, None),
    ("stereo48k.flac", 48000, 2, None),
    ("mono16k.ogg", 16000, 1, None),
    ("mono44k.mp3", 44100, 1, "MPEG_LAYER_III"),
])
def test_load_audio_equals_librosa_load(tmp_path, name, sr, channels, subtype):
    path = write_tone(tmp_path / name, sr=sr, channels=channels, subtype=subtype)
    expected, _ = librosa.load(path, sr=22050, mono=True)
    y = load_audio(path, sr=22050)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, atol=1e-6)


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 100, b"RIFF\x00\x00\x00\x00WAVEfmt garbage"])
def test_load_audio_rejects_non_audio(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="cannot decode audio .*corrupt or not audio"):
        load_audio(path, sr=22050)


def test_fit_length_pads_and_cuts():
    y = np.arange(1, 11, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(y, n_samples=12), np.r_[y, 0, 0])
    np.testing.assert_array_equal(fit_length(y, n_samples=4), y[:4])
    np.testing.assert_array_equal(fit_length(y, n_samples=4, position="middle"), y[3:7])
    assert fit_length(y, n_samples=None) is y


def test_fit_length_trims_silence_then_repeats():
    tone = np.sin(np.linspace(0, 40 * np.pi, 4000)).astype(np.float32)
    y = np.r_[np.zeros(10000, np.float32), tone, np.zeros(10000, np.float32)]
    fitted = fit_length(y, n_samples=20000, trim_and_repeat=True)
    trimmed, _ = librosa.effects.trim(y, top_db=60)
    assert len(trimmed) < 10000
    assert len(fitted) == 20000
    np.testing.assert_array_equal(fitted[:len(trimmed)], trimmed)
    np.testing.assert_array_equal(fitted[len(trimmed):2 * len(trimmed)], trimmed)


def test_check_signal_rejects_silent_and_short_clips():
    with pytest.raises(DatasetError, match="clip is silent"):
        check_signal(np.zeros(4096, np.float32), frame_length=1024)
    with pytest.raises(DatasetError, match="clip has 500 samples, shorter than one analysis frame of 1024 samples"):
        check_signal(np.ones(500, np.float32), frame_length=1024)
    check_signal(np.ones(1024, np.float32), frame_length=1024)
