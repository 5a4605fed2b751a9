"""What early stopping and the kept model follow, and whether it should rise or fall.

:data:`mclnn.variants.MONITORS` maps ``training.monitor`` to these; the direction is
looked up here once, never spelled where a value is compared.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Monitor", "VALIDATION_ACCURACY", "VALIDATION_LOSS"]


@dataclass(frozen=True)
class Monitor:
    """A logged value that training follows.

    Attributes
    ----------
    name : str
        Its key in an epoch's logs.
    higher_is_better : bool
    """

    name: str
    higher_is_better: bool

    def improved(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` (any value beats None)."""
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best


VALIDATION_ACCURACY = Monitor("val_accuracy", higher_is_better=True)
VALIDATION_LOSS = Monitor("val_loss", higher_is_better=False)
