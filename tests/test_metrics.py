import numpy as np
import pytest

from mclnn.train.evaluate.metrics import average_precision_at_3, clip_scores, summarize_clip


@pytest.mark.parametrize("probabilities, label, expected", [
    ([0.1, 0.7, 0.2, 0.0], 1, 1.0),
    ([0.1, 0.7, 0.2, 0.0], 2, 0.5),
    ([0.3, 0.4, 0.2, 0.1], 2, 1 / 3),
    ([0.3, 0.4, 0.2, 0.1], 3, 0.0),
])
def test_average_precision_at_3(probabilities, label, expected):
    assert average_precision_at_3(label, np.array(probabilities)) == pytest.approx(expected)


def test_votes_and_scores_on_hand_made_clips():
    clips = [
        # majority says 0 (2 of 3 segments), mean probability says 1: [0.4, 0.5, 0.1]
        np.array([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1]]),
        # both say 2
        np.array([[0.1, 0.1, 0.8], [0.2, 0.2, 0.6]]),
        # tie 1 vs 2 in votes -> lowest class (1); mean [0.1, 0.45, 0.45] -> first maximum (1)
        np.array([[0.1, 0.6, 0.3], [0.1, 0.3, 0.6]]),
        # both say 0, true class 2 is ranked third: MAP@3 contribution 1/3
        np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]]),
    ]
    labels = [1, 2, 2, 2]
    summaries = [summarize_clip(clip) for clip in clips]
    assert summaries[0]["segment_votes"] == [2, 1, 0]
    assert summaries[0]["mean_probabilities"] == pytest.approx([0.4, 0.5, 0.1])
    scores = clip_scores(labels, summaries, n_classes=3)
    assert scores["clips"] == 4 and scores["segments"] == 9
    assert scores["segment_accuracy"] == pytest.approx((1 + 2 + 1 + 0) / 9)
    assert scores["majority_accuracy"] == pytest.approx(1 / 4)      # only clip 2
    assert scores["mean_probability_accuracy"] == pytest.approx(2 / 4)  # clips 1 and 2
    assert scores["f1_micro"] == pytest.approx(0.5)
    assert scores["map_at_3"] == pytest.approx((1 + 1 + 0.5 + 1 / 3) / 4)
    assert scores["confusion_majority"] == [[0, 0, 0], [1, 0, 0], [1, 1, 1]]
    assert scores["confusion_mean_probability"] == [[0, 0, 0], [0, 1, 0], [1, 1, 1]]
    # weighted F1 over classes 1 (support 1) and 2 (support 3): F1_1 = 2/3, F1_2 = 1/2
    assert scores["f1_weighted"] == pytest.approx((1 * 2 / 3 + 3 * 0.5) / 4)


def test_pooling_equals_scoring_all_clips_at_once(rng):
    clips = [rng.dirichlet(np.ones(4), size=rng.integers(2, 6)) for _ in range(12)]
    labels = rng.integers(0, 4, size=12)
    summaries = [summarize_clip(clip) for clip in clips]
    pooled = clip_scores(labels, summaries, n_classes=4)
    first, second = clip_scores(labels[:5], summaries[:5], n_classes=4), clip_scores(labels[5:], summaries[5:],
                                                                                     n_classes=4)
    for key in ("segment_accuracy", "majority_accuracy", "mean_probability_accuracy", "map_at_3"):
        weights = (first["segments"], second["segments"]) if key == "segment_accuracy" else (5, 7)
        assert pooled[key] == pytest.approx(np.average([first[key], second[key]], weights=weights))
    np.testing.assert_array_equal(np.add(first["confusion_majority"], second["confusion_majority"]),
                                  pooled["confusion_majority"])


def test_map_at_3_per_class_on_hand_made_clips():
    means = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]]
    labels = [0, 0, 2, 2]  # AP@3: 1, 1/3, 1, 1/3; class 1 has no clips
    summaries = [{"segment_votes": [1, 0, 0], "mean_probabilities": m} for m in means]
    scores = clip_scores(labels, summaries, n_classes=3)
    assert scores["map_at_3_per_class"][0] == pytest.approx(2 / 3)
    assert scores["map_at_3_per_class"][1] is None
    assert scores["map_at_3_per_class"][2] == pytest.approx(2 / 3)
    assert scores["map_at_3"] == pytest.approx((1 + 1 / 3 + 1 + 1 / 3) / 4)
