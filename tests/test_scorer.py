import functools

import numpy as np
import pytest

from mclnn.config import load_config
from mclnn.train.model.mclnn import clip_model
from mclnn.train.model.kinds import model_kind
from mclnn.train.evaluate.scorer import Scorer
from mclnn.train.clips.segments import StandardizedClips

N_FEATURES = 80


@pytest.fixture
def traces(monkeypatch):
    """How often a Dense layer's ``call`` ran: once per trace or symbolic build, never per compiled run."""
    import keras

    calls = []
    original = keras.layers.Dense.call

    @functools.wraps(original)  # Keras reads call's signature
    def counted(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.layers.Dense, "call", counted)
    return calls


@pytest.mark.parametrize("model", ["mclnn", "mlp"])
def test_one_scorer_scores_many_models_without_retracing(model, traces, rng):
    kind = model_kind(load_config("toy"), model)
    clips = StandardizedClips.from_arrays(
        [rng.standard_normal((60, N_FEATURES)).astype(np.float32) for _ in range(3)], names=["a", "b", "c"],
        mean_vector=np.zeros(N_FEATURES, np.float32), std_vector=np.ones(N_FEATURES, np.float32),
        segment_frames=kind.segment_frames)
    scorer = Scorer(kind.scoring)
    for seed in range(7):  # each one a new model, as each trial of a cross-validation is
        trained = kind.build(n_features=N_FEATURES, n_classes=5, seed=seed)
        before = len(traces)
        scored = scorer.segment_probabilities(trained, clips)
        if seed == 0:
            first_traces = len(traces) - before
        else:
            assert len(traces) == before  # the compiled copy was reused, not traced again
        if model == "mclnn":
            expected = np.asarray(clip_model(trained, step=kind.step)(np.stack([clips.clip(i) for i in range(3)])))
        else:
            frames = np.stack([clips.clip(i)[start:start + kind.segment_frames]
                               for i in range(3) for start in range(0, 60 - kind.segment_frames + 1, kind.step)])
            expected = np.asarray(trained(frames)).reshape(3, -1, 5)
        np.testing.assert_allclose(np.stack(scored), expected, rtol=1e-4, atol=1e-5)
    assert first_traces > 0


def test_compiling_each_model_anew_is_seen_retracing(traces, rng):
    """The positive control of the test above: what a Scorer avoids is caught by its check."""
    kind = model_kind(load_config("toy"), "mclnn")
    clips = rng.standard_normal((3, 60, N_FEATURES)).astype(np.float32)
    counts = []
    for seed in range(3):  # a scoring model compiled per trained model, as before the Scorer
        scoring = kind.scoring_model(kind.build(n_features=N_FEATURES, n_classes=5, seed=seed), kind.scoring)
        before = len(traces)
        scoring.predict_on_batch(clips)
        counts.append(len(traces) - before)
    assert all(count > 0 for count in counts)
