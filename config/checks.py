"""Value checks shared by the settings dataclasses; each error names the setting and its value."""

from __future__ import annotations

from typing import Sequence

from mclnn.errors import ParameterError

__all__ = ["check_choice", "check_positive"]


def check_positive(name: str, value: float) -> None:
    """Raise ParameterError unless ``value > 0``."""
    if value <= 0:
        raise ParameterError(f"{name} must be positive, got {value}")


def check_choice(name: str, value: object, choices: Sequence) -> None:
    """Raise ParameterError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
