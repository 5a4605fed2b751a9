import keras
import numpy as np

from mclnn.config import load_config
from mclnn.train.clips.segments import StandardizedClips
from mclnn.train.model.kinds import model_kind
from mclnn.train.model.mclnn import clip_model


def test_clip_mean_trains_each_clip_on_the_mean_of_its_segment_probabilities(rng):
    kind = model_kind(load_config("toy", overrides=["training.mode=clip-mean", "training.step=5"]))
    mode, sizes = kind.training_mode, kind.sizes
    model = kind.build(n_features=80, n_classes=5, seed=0)
    trainable = mode.trainable(model, sizes)
    kind.compile(trainable)
    arrays = [rng.standard_normal((40, 80)).astype(np.float32) for _ in range(3)]
    clips = StandardizedClips.from_arrays(arrays, names=["a", "b", "c"], mean_vector=np.zeros(80, np.float32),
                                          std_vector=np.ones(80, np.float32), segment_frames=sizes.segment_frames,
                                          labels=[2, 0, 4])
    batches = mode.training_batches(clips, sizes, shuffle_seed=0)
    frames, labels = batches[0]
    assert labels.shape == (len(frames),)  # one label a clip
    np.testing.assert_array_equal(labels, clips.labels[batches.batches[0]])
    segments = np.asarray(clip_model(model, step=sizes.step)(frames))
    mean = segments.mean(axis=1)
    np.testing.assert_allclose(np.asarray(trainable(frames)), mean, rtol=1e-5, atol=1e-7)
    loss = trainable.test_on_batch(frames, labels, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, -np.log(mean[np.arange(len(labels)), labels]).mean(), rtol=1e-5)
    # The kept per-segment model is the trained one: the same layers, the same variables.
    kept = mode.kept(trainable, sizes)
    assert len(kept.weights) == len(model.weights) and all(a is b for a, b in zip(kept.weights, model.weights))


def test_clip_mean_checkpoint_loads_and_gives_back_its_segment_model(tmp_path, rng):
    kind = model_kind(load_config("toy", overrides=["training.mode=clip-mean"]))
    mode, sizes = kind.training_mode, kind.sizes
    trainable = mode.trainable(kind.build(n_features=80, n_classes=5, seed=0), sizes)
    kind.compile(trainable)
    trainable.train_on_batch(rng.standard_normal((2, 40, 80)).astype(np.float32), np.array([1, 3]))
    trainable.save(tmp_path / "checkpoint.keras")
    loaded = keras.models.load_model(tmp_path / "checkpoint.keras")
    segments = rng.standard_normal((2, sizes.segment_frames, 80)).astype(np.float32)
    np.testing.assert_array_equal(mode.kept(loaded, sizes).predict(segments, verbose=0),
                                  mode.kept(trainable, sizes).predict(segments, verbose=0))
