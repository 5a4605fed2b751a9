import numpy as np
import pytest
import soundfile

from mclnn.preprocess.toy import TOY_CLASSES, ensure_toy_audio, synthesize_clip, write_toy_dataset


@pytest.mark.parametrize("category", TOY_CLASSES)
def test_clips_are_deterministic_and_audible(category):
    first = synthesize_clip(category, rng=np.random.default_rng(3), seconds=0.5)
    second = synthesize_clip(category, rng=np.random.default_rng(3), seconds=0.5)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (11025,)
    assert np.isclose(np.max(np.abs(first)), 0.5)


def test_write_toy_dataset_layout(tmp_path):
    write_toy_dataset(tmp_path, clips_per_class=2, seconds=0.25)
    files = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.wav"))
    assert files == [f"{category}/{category}_{number:02d}.wav" for category in TOY_CLASSES for number in (0, 1)]
    info = soundfile.info(tmp_path / files[0])
    assert (info.samplerate, info.channels, info.frames) == (22050, 1, 5512)


def test_ensure_toy_audio_writes_once(tmp_path):
    folder = ensure_toy_audio(tmp_path / "toy")
    stamp = (folder / "tone" / "tone_00.wav").stat().st_mtime_ns
    assert ensure_toy_audio(tmp_path / "toy") == folder
    assert (folder / "tone" / "tone_00.wav").stat().st_mtime_ns == stamp
    assert len(list(folder.rglob("*.wav"))) == 8 * len(TOY_CLASSES)
