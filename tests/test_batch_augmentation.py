import numpy as np
import pytest

from mclnn.config import TrainingSettings
from mclnn.errors import ParameterError
from mclnn.train.clips.segments import ClipBatches, SegmentBatches, StandardizedClips
from mclnn.train.fit.batch_augmentation import AugmentedBatches, BatchAugmentation


class ListBatches:
    """Given batches of ``(frames, labels)`` as a batch source: every example a clip, rows into their table."""

    def __init__(self, batches):
        self._batches = batches
        examples = [example for frames, _ in batches for example in frames]
        n_features = examples[0].shape[-1]
        self.clips = StandardizedClips.from_arrays(examples, names=[str(n) for n in range(len(examples))],
                                                   mean_vector=np.zeros(n_features), std_vector=np.ones(n_features),
                                                   segment_frames=1)
        self._first = np.cumsum([0] + [len(frames) for frames, _ in batches])
        self.epochs_ended = 0

    def __len__(self):
        return len(self._batches)

    def rows(self, batch):
        frames, labels = self._batches[batch]
        return self.clips.offsets[self._first[batch]:self._first[batch + 1]], frames.shape[1], labels

    def on_epoch_end(self):
        self.epochs_ended += 1


def augment(augmentation, frames, labels, *, rng):
    """One batch through the plan and the device's forming, back as arrays."""
    plan, labels = augmentation.plan(np.arange(len(frames)) * frames.shape[1], frames.shape[1], labels,
                                     n_features=frames.shape[2], rng=rng)
    return np.asarray(augmentation.form(frames.reshape(-1, frames.shape[2]), plan)), labels


def host_reference(augmentation, frames, labels, rng):
    """The host pipeline of earlier versions, written out: the device must form the same batches."""
    training, (examples, n_frames, n_features) = augmentation.training, frames.shape
    block = n_features // augmentation.feature_blocks
    if training.time_shift:
        shifts = rng.integers(0, n_frames, size=examples)
        frames = frames[np.arange(examples)[:, None], (np.arange(n_frames)[None, :] - shifts[:, None]) % n_frames]
    if training.frequency_shift:
        shifts = rng.integers(-training.frequency_shift, training.frequency_shift + 1, size=examples)
        bands = np.clip(np.arange(block)[None, :] - shifts[:, None], 0, block - 1)
        columns = np.concatenate([bands + offset for offset in range(0, n_features, block)], axis=1)
        frames = np.take_along_axis(frames, columns[:, None, :], axis=2)
    if training.spectral_tilt:
        gain, tilt = rng.uniform(-training.spectral_tilt, training.spectral_tilt, size=(2, examples, 1))
        colour = np.zeros((examples, 1, n_features), np.float32)
        colour[:, 0, :block] = gain + tilt * np.linspace(-1.0, 1.0, block)[None, :]
        frames = frames + colour
    frames = frames.copy()
    for example in range(examples):
        for _ in range(training.frequency_masks):
            width = rng.integers(0, min(training.frequency_mask_bands, block) + 1)
            first = rng.integers(0, block - width + 1)
            for offset in range(0, n_features, block):
                frames[example, :, offset + first:offset + first + width] = 0.0
        for _ in range(training.time_masks):
            width = rng.integers(0, min(training.time_mask_frames, n_frames) + 1)
            first = rng.integers(0, n_frames - width + 1)
            frames[example, first:first + width] = 0.0
    labels = augmentation.labels(labels)
    if training.mixup_alpha > 0:
        partners = rng.permutation(examples)
        weights = rng.beta(training.mixup_alpha, training.mixup_alpha, size=examples).astype(np.float32)
        frames = weights[:, None, None] * frames + (1 - weights[:, None, None]) * frames[partners]
        labels = weights[:, None, None] * labels + (1 - weights[:, None, None]) * labels[partners]
    return frames, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_device_forms_the_batches_the_host_formed_before(batch, seed):
    frames, labels = batch
    training = TrainingSettings(time_shift=True, frequency_shift=1, spectral_tilt=0.5, frequency_masks=2,
                                frequency_mask_bands=2, time_masks=1, time_mask_frames=6, mixup_alpha=0.4)
    augmentation = BatchAugmentation(training, 3, feature_blocks=2)
    formed, mixed = augment(augmentation, frames, labels, rng=np.random.default_rng(seed))
    expected, expected_labels = host_reference(augmentation, frames, labels, np.random.default_rng(seed))
    np.testing.assert_allclose(formed, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(mixed, expected_labels, rtol=1e-6)


def test_segment_and_clip_batches_form_on_the_device_what_the_host_gathers(rng):
    clips = StandardizedClips.from_arrays([rng.standard_normal((n, 6)).astype(np.float32) for n in (40, 40, 30)],
                                          names=list("abc"), mean_vector=np.zeros(6), std_vector=np.ones(6),
                                          segment_frames=10, labels=[0, 1, 2])
    augmentation = BatchAugmentation(TrainingSettings(), 3)
    for source in (SegmentBatches(clips, segment_frames=10, step=3, batch_size=7, shuffle_seed=0),
                   ClipBatches(clips, segment_frames=10, step=3, clips_per_batch=2, shuffle_seed=0)):
        on_host = [source[number] for number in range(len(source))]
        formed = AugmentedBatches(source, augmentation)
        assert not isinstance(clips.frames, np.ndarray)  # moved, not copied
        assert len(formed) == len(source)
        for number, (host_frames, host_labels) in enumerate(on_host):
            frames, labels = formed[number]
            np.testing.assert_array_equal(np.asarray(frames), host_frames)
            np.testing.assert_array_equal(labels, host_labels)
            again, _ = source[number]  # read from the host through the moved frames
            np.testing.assert_array_equal(again, host_frames)


@pytest.fixture
def batch(rng):
    frames = rng.standard_normal((6, 30, 8)).astype(np.float32) + 5  # no zeros of its own
    return frames, np.repeat(np.array([0, 1, 2, 0, 1, 2])[:, None], 4, axis=1)  # 4 segments per clip


def test_time_shift_rolls_each_clip(batch):
    frames, labels = batch
    augmentation = BatchAugmentation(TrainingSettings(time_shift=True), 3)
    shifted, same_labels = augment(augmentation, frames, labels, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(same_labels, labels)
    shifts = np.random.default_rng(1).integers(0, 30, size=6)
    for example, shift in enumerate(shifts):
        np.testing.assert_array_equal(shifted[example], np.roll(frames[example], shift, axis=0))


def test_masks_zero_the_same_bands_of_each_block_and_whole_frame_runs(batch):
    frames, labels = batch
    training = TrainingSettings(frequency_masks=1, frequency_mask_bands=3, time_masks=1, time_mask_frames=5)
    augmentation = BatchAugmentation(training, 3, feature_blocks=2)
    masked, _ = augment(augmentation, frames, labels, rng=np.random.default_rng(2))
    for example in masked:
        bands = np.flatnonzero((example == 0).all(axis=0))
        frame_runs = np.flatnonzero((example == 0).all(axis=1))
        assert len(bands) <= 6 and list(bands[bands >= 4] - 4) == list(bands[bands < 4])
        assert len(frame_runs) <= 5 and np.all(np.diff(frame_runs) == 1)
        # Nothing else is touched.
        untouched = np.ones(example.shape, bool)
        untouched[:, bands] = untouched[frame_runs] = False
        assert np.all(example[untouched] != 0)


def test_mixup_mixes_frames_and_labels_alike(batch):
    frames, labels = batch
    augmentation = BatchAugmentation(TrainingSettings(mixup_alpha=0.4), 3)
    mixed, soft = augment(augmentation, frames, labels, rng=np.random.default_rng(3))
    assert soft.shape == (6, 4, 3)
    np.testing.assert_allclose(soft.sum(axis=-1), 1.0, rtol=1e-6)
    rng = np.random.default_rng(3)
    partners, weights = rng.permutation(6), rng.beta(0.4, 0.4, size=6).astype(np.float32)
    for example in range(6):
        np.testing.assert_allclose(mixed[example], weights[example] * frames[example]
                                   + (1 - weights[example]) * frames[partners[example]], rtol=1e-5)
        expected = np.zeros(3)
        expected[labels[example, 0]] += weights[example]
        expected[labels[partners[example], 0]] += 1 - weights[example]
        np.testing.assert_allclose(soft[example, 2], expected, rtol=1e-5)


def test_label_smoothing_alone_gives_one_hot_labels(batch):
    frames, labels = batch
    augmentation = BatchAugmentation(TrainingSettings(label_smoothing=0.1), 3)
    same, one_hot = augment(augmentation, frames, labels, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(same, frames)
    np.testing.assert_array_equal(one_hot.argmax(axis=-1), labels)
    assert one_hot.max() == 1 and one_hot.sum() == labels.size


def test_epochs_are_seeded_so_a_resumed_run_draws_the_same(batch):
    training = TrainingSettings(time_shift=True, mixup_alpha=0.4, time_masks=1, time_mask_frames=5)
    augmentation = BatchAugmentation(training, 3)
    first = AugmentedBatches(ListBatches([batch, batch]), augmentation, seed=7)
    first.on_epoch_end()
    second_epoch = [first[number] for number in range(2)]
    resumed = AugmentedBatches(ListBatches([batch, batch]), augmentation, seed=7, epoch=1)
    for (frames, labels), (again_frames, again_labels) in zip(second_epoch, [resumed[0], resumed[1]]):
        np.testing.assert_array_equal(frames, again_frames)
        np.testing.assert_array_equal(labels, again_labels)
    assert not np.array_equal(second_epoch[0][0], second_epoch[1][0])  # each batch draws anew


def test_unseeded_batches_only_change_the_labels_form(batch):
    batches = AugmentedBatches(ListBatches([batch]), BatchAugmentation(TrainingSettings(mixup_alpha=0.4), 3))
    frames, labels = batches[0]
    np.testing.assert_array_equal(frames, batch[0])
    np.testing.assert_array_equal(labels.argmax(axis=-1), batch[1])


def test_frequency_shift_moves_both_blocks_alike_and_repeats_the_edge(batch, rng):
    frames, labels = batch  # 8 features: 4 log-mel bands and their 4 deltas
    augmentation = BatchAugmentation(TrainingSettings(frequency_shift=2), n_classes=3, feature_blocks=2)
    shifted, _ = augment(augmentation, frames, labels, rng=rng)
    seen = set()
    for example in range(len(frames)):
        shift = next(s for s in range(-2, 3) if np.array_equal(
            shifted[example], frames[example][:, np.concatenate([np.clip(np.arange(4) - s, 0, 3),
                                                                 4 + np.clip(np.arange(4) - s, 0, 3)])]))
        seen.add(shift)
    assert len(seen) > 1  # examples move by different amounts


def test_spectral_tilt_colours_the_log_mel_with_a_line_and_leaves_the_delta(batch, rng):
    frames, labels = batch
    augmentation = BatchAugmentation(TrainingSettings(spectral_tilt=0.5), n_classes=3, feature_blocks=2)
    coloured, _ = augment(augmentation, frames, labels, rng=rng)
    np.testing.assert_array_equal(coloured[:, :, 4:], frames[:, :, 4:])
    added = coloured[:, :, :4] - frames[:, :, :4]
    np.testing.assert_allclose(added, added[:, :1, :].repeat(30, axis=1), atol=1e-6)  # the same in every frame
    steps = np.diff(added[:, 0, :], axis=1)
    np.testing.assert_allclose(steps, steps[:, :1].repeat(3, axis=1), atol=1e-6)  # linear over the bands
    assert np.all(np.abs(added) <= 1.0 + 1e-6) and np.ptp(added[:, 0, 0]) > 0


@pytest.mark.parametrize("name", ["frequency_shift", "spectral_tilt"])
def test_negative_values_are_refused(name):
    with pytest.raises(ParameterError, match=f"training.{name} must be >= 0"):
        TrainingSettings(**{name: -1})
