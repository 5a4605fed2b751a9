import logging

import numpy as np
import pytest

from mclnn.config import load_config
from mclnn.train.model import clip_model
from mclnn.train.model_kinds import model_kind
from mclnn.train.scorer import Scorer
from mclnn.train.segments import StandardizedClips

N_FEATURES = 80


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def tensorflow_warnings():
    records, logger = _Records(), logging.getLogger("tensorflow")
    logger.addHandler(records)
    yield records.messages
    logger.removeHandler(records)


@pytest.mark.parametrize("model", ["mclnn", "mlp"])
def test_one_scorer_scores_many_models_without_retracing(model, tensorflow_warnings, rng):
    kind = model_kind(load_config("toy"), model)
    clips = StandardizedClips.from_arrays(
        [rng.standard_normal((60, N_FEATURES)).astype(np.float32) for _ in range(3)], names=["a", "b", "c"],
        mean_vector=np.zeros(N_FEATURES, np.float32), std_vector=np.ones(N_FEATURES, np.float32),
        segment_frames=kind.segment_frames)
    scorer = Scorer(kind)
    for seed in range(7):  # each one a new model, as each trial of a cross-validation is
        trained = kind.build(n_features=N_FEATURES, n_classes=5, seed=seed)
        scored = scorer.segment_probabilities(trained, clips)
        if model == "mclnn":
            expected = np.asarray(clip_model(trained, step=kind.step)(np.stack([clips.clip(i) for i in range(3)])))
        else:
            frames = np.stack([clips.clip(i)[start:start + kind.segment_frames]
                               for i in range(3) for start in range(0, 60 - kind.segment_frames + 1, kind.step)])
            expected = np.asarray(trained(frames)).reshape(3, -1, 5)
        np.testing.assert_allclose(np.stack(scored), expected, rtol=1e-4, atol=1e-5)
    assert not [message for message in tensorflow_warnings if "retracing" in message]
