import math

import pytest

from mclnn.config import TrainingSettings
from mclnn.variants import SCHEDULES
from mclnn.train.trial_files import TrainingState


def schedule(name, **settings):
    training = TrainingSettings(schedule=name, learning_rate=1e-3, epochs=10, **settings)
    return SCHEDULES.load(name)(training)


def test_constant_is_the_peak_throughout():
    constant = schedule("constant")
    assert {constant.rate(position) for position in (0.1, 5, 10)} == {1e-3}


def test_cosine_warms_up_linearly_then_decays_to_the_floor():
    cosine = schedule("cosine", warmup_epochs=2, min_learning_rate=1e-5)
    assert cosine.rate(0.5) == pytest.approx(0.25e-3)
    assert cosine.rate(2) == pytest.approx(1e-3)
    assert cosine.rate(6) == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)  # half way through the decay
    assert cosine.rate(10) == pytest.approx(1e-5)
    rates = [cosine.rate(position / 10) for position in range(20, 101)]
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))


def test_one_cycle_rises_from_a_25th_to_the_peak_then_falls():
    cycle = schedule("one-cycle")  # warm-up: 30% of 10 epochs
    assert cycle.rate(0) == pytest.approx(1e-3 / 25)
    assert cycle.rate(3) == pytest.approx(1e-3)
    assert cycle.rate(1.5) == pytest.approx(1e-3 / 25 + (1e-3 - 1e-3 / 25) * 0.5)
    assert cycle.rate(10) == pytest.approx(0.0, abs=1e-12)
    assert cycle.rate(6.5) == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def test_plateau_reduces_after_patience_epochs_without_improvement():
    plateau = schedule("plateau", plateau_patience=2, plateau_factor=0.5)
    state = TrainingState("hash")
    for improved, expected in [(True, 1.0), (False, 1.0), (False, 0.5), (False, 0.5), (True, 0.5), (False, 0.5),
                               (False, 0.25)]:
        plateau.end_epoch(state, improved=improved)
        assert state.rate_scale == expected
    assert plateau.rate(3, scale=state.rate_scale) == pytest.approx(0.25e-3)


@pytest.mark.parametrize("settings, message", [
    ({"schedule": "linear"}, "schedule must be one of constant, cosine, one-cycle, plateau"),
    ({"schedule": "cosine", "warmup_epochs": 10}, "warmup_epochs=10 leaves nothing"),
    ({"label_smoothing": 1.0}, r"label_smoothing must be in \[0, 1\)"),
    ({"mixup_alpha": -1.0}, "mixup_alpha must be >= 0"),
    ({"keep": "first"}, "keep must be one of best, last"),
    ({"plateau_factor": 1.5}, r"plateau_factor must be in \(0, 1\)"),
    ({"ema_momentum": 1.0}, r"ema_momentum must be in \[0, 1\) \(0: no averaging\), got 1.0"),
])
def test_bad_recipes_are_named(settings, message):
    from mclnn.errors import ParameterError

    with pytest.raises(ParameterError, match=message):
        TrainingSettings(epochs=10, **settings)
