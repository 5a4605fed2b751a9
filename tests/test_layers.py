import keras
import numpy as np
import pytest

from conftest import KERAS_BACKEND

from mclnn.config import load_config
from mclnn.errors import ParameterError
from mclnn.train.model.kinds import model_kind
from mclnn.train.model.layers import MaskedConditional, band_mask
from mclnn.train.model.mclnn import build_model


def slow_mask(l, e, bw, ov):
    """The mask rule as the issue states it, one position at a time."""
    flat = np.zeros(l * e)
    g = 0
    while g * (l + bw - ov) < l * e:
        for a in range(bw):
            position = a + g * (l + bw - ov)
            if position < l * e:
                flat[position] = 1
        g += 1
    mask = np.zeros((l, e))
    for j in range(e):  # column-major: column j holds positions j*l .. j*l + l - 1
        mask[:, j] = flat[j * l:(j + 1) * l]
    return mask


@pytest.mark.parametrize("l, e, bw, ov", [(120, 300, 20, -5), (300, 200, 5, 3), (256, 220, 40, -10),
                                          (10, 4, 3, 1), (7, 5, 2, -3), (6, 3, 8, 2), (5, 4, 1, 0)])
def test_band_mask_matches_the_rule(l, e, bw, ov):
    np.testing.assert_array_equal(band_mask(l, e, bandwidth=bw, overlap=ov), slow_mask(l, e, bw, ov))


def test_esc10_first_layer_mask():
    mask = band_mask(120, 300, bandwidth=20, overlap=-5)
    assert mask.shape == (120, 300) and mask.dtype == np.float32
    assert list(np.flatnonzero(mask[:, 0])) == list(range(0, 20))
    assert list(np.flatnonzero(mask[:, 1])) == list(range(25, 45))
    assert list(np.flatnonzero(mask[:, 4])) == list(range(100, 120))
    assert 1 - mask.mean() > 0.83  # mostly zeros


@pytest.mark.parametrize("l, e, bw, ov, blocks", [(180, 300, 20, -5, 3), (120, 300, 20, -5, 2), (12, 7, 3, -1, 3)])
def test_band_mask_over_blocks_runs_the_rule_band_by_band(l, e, bw, ov, blocks):
    """Feature ``block * bands + band`` takes the row ``band * blocks + block`` of the rule's mask."""
    bands = l // blocks
    rule = slow_mask(l, e, bw, ov)
    expected = np.stack([rule[band * blocks + block] for block in range(blocks) for band in range(bands)])
    mask = band_mask(l, e, bandwidth=bw, overlap=ov, blocks=blocks, block_mask="interleaved")
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == rule.sum()


@pytest.mark.parametrize("l, e, bw, ov, blocks", [(180, 300, 20, -5, 3), (120, 301, 20, -5, 2), (12, 7, 3, -1, 3)])
def test_band_mask_within_blocks_runs_the_rule_inside_each_block(l, e, bw, ov, blocks):
    """Block b's features and the b-th equal share of the units (the first shares one larger) take the rule's
    mask for one block; everything else is zero."""
    bands = l // blocks
    shares = [e // blocks + (b < e % blocks) for b in range(blocks)]
    expected = np.zeros((l, e))
    column = 0
    for block, share in enumerate(shares):
        expected[block * bands:(block + 1) * bands, column:column + share] = slow_mask(bands, share, bw, ov)
        column += share
    np.testing.assert_array_equal(band_mask(l, e, bandwidth=bw, overlap=ov, blocks=blocks, block_mask="within"),
                                  expected)


def test_only_within_keeps_every_band_inside_one_block():
    def straddling(mask):
        return sum(len({row // 60 for row in np.flatnonzero(mask[:, unit])}) > 1 for unit in range(300))
    across = band_mask(180, 300, bandwidth=20, overlap=-5, blocks=3)
    within = band_mask(180, 300, bandwidth=20, overlap=-5, blocks=3, block_mask="within")
    assert straddling(across) == 44 and straddling(within) == 0
    assert [int(within[block * 60:(block + 1) * 60].any(axis=0).sum()) for block in range(3)] == [int(
        within[:60, :100].any(axis=0).sum())] * 3


@pytest.mark.parametrize("block_mask", ["across", "interleaved", "within"])
def test_with_one_block_every_block_mask_is_the_rule(block_mask):
    np.testing.assert_array_equal(band_mask(120, 300, bandwidth=20, overlap=-5, block_mask=block_mask),
                                  slow_mask(120, 300, 20, -5))


def test_band_mask_over_blocks_shows_a_unit_the_same_bands_in_every_block():
    mask = band_mask(180, 300, bandwidth=20, overlap=-5, blocks=3, block_mask="interleaved").reshape(3, 60, 300)
    log_mel, delta, pcen = (set(np.flatnonzero(block[:, 0])) for block in mask)
    assert log_mel == delta == set(range(7)) and pcen == set(range(6))
    plain = band_mask(180, 300, bandwidth=20, overlap=-5).reshape(3, 60, 300)
    assert [len(np.flatnonzero(block[:, 0])) for block in plain] == [20, 0, 0]


def test_band_mask_rejects_impossible_bands():
    with pytest.raises(ParameterError, match="need bandwidth >= 1"):
        band_mask(10, 4, bandwidth=0, overlap=0)
    with pytest.raises(ParameterError, match="features \\+ bandwidth - overlap >= 1"):
        band_mask(10, 4, bandwidth=2, overlap=12)
    with pytest.raises(ParameterError, match="mask blocks=3 for 10 features: need equal blocks"):
        band_mask(10, 4, bandwidth=2, overlap=0, blocks=3)
    with pytest.raises(ParameterError, match="model.block_mask must be one of across, interleaved, within; got 'x'"):
        band_mask(10, 4, bandwidth=2, overlap=0, block_mask="x")


def reference_output(x, kernel, bias, mask, order):
    """out[b, t] = bias + sum_k x[b, t + k] @ (W[k] * M), written as loops."""
    batch, frames, _ = x.shape
    out = np.zeros((batch, frames - 2 * order, kernel.shape[2]))
    for b in range(batch):
        for t in range(frames - 2 * order):
            out[b, t] = bias + sum(x[b, t + k] @ (kernel[k] * mask) for k in range(2 * order + 1))
    return out


@pytest.mark.parametrize("masked, compute", [(True, "dense"), (True, "banded"), (True, "auto"), (False, "dense")])
@pytest.mark.parametrize("order, units, bandwidth, overlap", [(2, 6, 3, 1), (0, 4, 5, -2), (3, 9, 2, 0),
                                                             (1, 5, 4, 7)])
def test_layer_equals_numpy_reference(rng, masked, compute, order, units, bandwidth, overlap):
    x = rng.standard_normal((3, 14, 10)).astype(np.float32)
    layer = MaskedConditional(units, order, bandwidth=bandwidth, overlap=overlap, masked=masked, compute=compute)
    layer.build(x.shape)
    kernel = rng.standard_normal((2 * order + 1, 10, units)).astype(np.float32)
    bias = rng.standard_normal(units).astype(np.float32)
    layer.set_weights([kernel, bias])
    mask = band_mask(10, units, bandwidth=bandwidth, overlap=overlap) if masked else np.ones((10, units))
    output = np.asarray(layer(x))
    assert output.shape == layer.compute_output_shape(x.shape) == (3, 14 - 2 * order, units)
    np.testing.assert_allclose(output, reference_output(x, kernel, bias, mask, order), rtol=1e-5, atol=1e-5)


def test_layer_uses_the_configured_initializer():
    layer = MaskedConditional(4, 1, bandwidth=2, overlap=0, kernel_initializer=keras.initializers.Constant(0.25))
    layer.build((None, 5, 6))
    np.testing.assert_array_equal(np.asarray(layer.kernel), np.full((3, 6, 4), 0.25))
    seeded = MaskedConditional(300, 15, bandwidth=20, overlap=-5,
                               kernel_initializer=keras.initializers.HeNormal(seed=1))
    seeded.build((None, 101, 120))
    # He normal: standard deviation sqrt(2 / fan_in), fan_in = 31 frames * 120 features (not 'uniform').
    assert np.std(np.asarray(seeded.kernel)) == pytest.approx(np.sqrt(2 / (31 * 120)), rel=0.02)


def test_layer_config_round_trip():
    layer = MaskedConditional(7, 2, bandwidth=3, overlap=-1, masked=False, kernel_initializer="he_normal",
                              compute="banded", blocks=2, block_mask="within", name="mclnn_x")
    again = MaskedConditional.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    assert (again.units, again.order, again.bandwidth, again.overlap, again.masked, again.compute, again.blocks,
            again.block_mask) == (7, 2, 3, -1, False, "banded", 2, "within")
    saved_before_block_mask = {key: value for key, value in layer.get_config().items() if key != "block_mask"}
    assert MaskedConditional.from_config(saved_before_block_mask).block_mask == "interleaved"


def test_bad_layer_arguments():
    with pytest.raises(ParameterError, match="units >= 1 and order >= 0"):
        MaskedConditional(0, 1)
    with pytest.raises(ParameterError, match="compute must be auto, dense or banded, got 'sparse'"):
        MaskedConditional(3, 1, compute="sparse")


def test_model_structure_and_save_load_round_trip(tmp_path, rng):
    settings = load_config("esc10").model
    model = build_model(settings, n_features=120, n_classes=10, seed=3)
    names = [layer.name for layer in model.layers]
    assert names == ["dropout0", "mclnn0", "prelu0", "dropout1", "mclnn1", "prelu1", "pool",
                     "dropout2", "dense2", "prelu2", "dropout3", "dense3", "prelu3", "dropout4", "softmax"]
    assert model.input_shape == (None, 101, 120) and model.output_shape == (None, 10)
    assert model.get_layer("mclnn1").output.shape == (None, 41, 200)
    segments = rng.standard_normal((4, 101, 120)).astype(np.float32)
    predictions = model.predict(segments, verbose=0)
    np.testing.assert_allclose(predictions.sum(axis=1), 1, rtol=1e-5)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.predict(segments, verbose=0), predictions)


@pytest.mark.parametrize("block_mask", ["interleaved", "within"])
def test_block_masks_reach_the_first_layer_alone_and_survive_saving(tmp_path, rng, block_mask):
    config = load_config("esc10-fast", overrides=[f"model.block_mask={block_mask}"])
    model = model_kind(config).build(n_features=180, n_classes=10, seed=0)
    first, second = model.get_layer("mclnn0"), model.get_layer("mclnn1")
    assert (first.blocks, first.block_mask, second.blocks, second.block_mask) == (3, block_mask, 1, "across")
    np.testing.assert_array_equal(np.asarray(first.mask), band_mask(180, 300, bandwidth=20, overlap=-5, blocks=3,
                                                                     block_mask=block_mask))
    segments = rng.standard_normal((2, *model.input_shape[1:])).astype(np.float32)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert (loaded.get_layer("mclnn0").blocks, loaded.get_layer("mclnn0").block_mask) == (3, block_mask)
    np.testing.assert_array_equal(loaded.predict(segments, verbose=0), model.predict(segments, verbose=0))
    plain = model_kind(load_config("esc10-fast")).build(n_features=180, n_classes=10, seed=0)
    assert (plain.get_layer("mclnn0").blocks, plain.get_layer("mclnn0").block_mask) == (3, "across")
    np.testing.assert_array_equal(np.asarray(plain.get_layer("mclnn0").mask),
                                  band_mask(180, 300, bandwidth=20, overlap=-5))


def test_block_masks_need_blocks():
    config = load_config("toy", overrides=["features.delta=false", "model.block_mask=within"])
    with pytest.raises(ParameterError, match="model.block_mask=within needs more than one block .* toy has the "
                                             "log-mel alone: set features.delta or features.pcen"):
        model_kind(config)
    with pytest.raises(ParameterError, match="model.block_mask must be one of across, interleaved, within; "
                                             "got 'inside'"):
        load_config("toy", overrides=["model.block_mask=inside"])


def test_same_seed_same_weights():
    settings = load_config("toy").model
    first = build_model(settings, n_features=80, n_classes=5, seed=11).get_weights()
    second = build_model(settings, n_features=80, n_classes=5, seed=11).get_weights()
    other = build_model(settings, n_features=80, n_classes=5, seed=12).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], other[0])


@pytest.mark.skipif(KERAS_BACKEND != "tensorflow", reason="takes gradients with TensorFlow's GradientTape")
def test_banded_and_dense_have_the_same_gradients(rng):
    import tensorflow as tf

    x = tf.constant(rng.standard_normal((2, 20, 12)).astype(np.float32))
    gradients = {}
    for compute in ("dense", "banded"):
        layer = MaskedConditional(7, 2, bandwidth=3, overlap=-1, compute=compute,
                                  kernel_initializer=keras.initializers.GlorotUniform(seed=4))
        layer.build(x.shape)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) ** 2)
        gradients[compute] = [g.numpy() for g in tape.gradient(loss, [layer.kernel, layer.bias])]
    for dense, banded in zip(gradients["dense"], gradients["banded"]):
        np.testing.assert_allclose(banded, dense, rtol=1e-4, atol=1e-5)
    mask = band_mask(12, 7, bandwidth=3, overlap=-1)
    assert np.all(gradients["banded"][0][:, mask == 0] == 0)


@pytest.mark.parametrize("pooling", ["average", "max", "average+max"])
@pytest.mark.parametrize("step", [1, 3])
def test_clip_level_outputs_equal_per_segment_outputs(rng, step, pooling):
    from mclnn.train.model.mclnn import clip_model, scoring_model, segment_model
    from mclnn.train.clips.segments import segment_starts

    settings = load_config("esc10", overrides=[f"model.pooling={pooling}"]).model
    model = build_model(settings, n_features=120, n_classes=10, seed=2)
    clips = rng.standard_normal((2, 130, 120)).astype(np.float32)
    starts = segment_starts(130, segment_frames=101, step=step)
    per_segment = model.predict(np.stack([clip[s:s + 101] for clip in clips for s in starts]), verbose=0)
    per_clip = np.asarray(clip_model(model, step=step)(clips))
    assert per_clip.shape == (2, len(starts), 10)
    np.testing.assert_allclose(per_clip.reshape(-1, 10), per_segment, atol=1e-5)
    scored = np.asarray(scoring_model(model, step=step).predict_on_batch(clips))  # the XLA path
    np.testing.assert_allclose(scored.reshape(-1, 10), per_segment, atol=1e-5)
    rebuilt = segment_model(clip_model(model, step=step), segment_frames=101)
    assert type(rebuilt.get_layer("pool")) is type(model.get_layer("pool"))
    np.testing.assert_array_equal(rebuilt.predict(clips[:, :101], verbose=0), model.predict(clips[:, :101], verbose=0))


@pytest.mark.parametrize("pooling", ["max", "average+max"])
def test_pooling_is_what_it_says_and_saves(tmp_path, rng, pooling):
    """The pooled units are the frames' maximum (plus their mean); a saved model loads with it."""
    settings = load_config("toy", overrides=[f"model.pooling={pooling}"]).model
    model = build_model(settings, n_features=80, n_classes=5, seed=1)
    segments = rng.standard_normal((3, settings.segment_frames, 80)).astype(np.float32)
    frames = np.asarray(keras.Model(model.inputs[0], model.get_layer("prelu0").output)(segments))
    expected = frames.max(axis=1) + (frames.mean(axis=1) if pooling == "average+max" else 0)
    pooled = np.asarray(keras.Model(model.inputs[0], model.get_layer("pool").output)(segments))
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.predict(segments, verbose=0), model.predict(segments, verbose=0))
