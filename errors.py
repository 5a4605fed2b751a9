"""Exceptions raised by mclnn.

Every error mclnn raises on purpose derives from :class:`MCLNNError`, so the command line
can turn it into a one-line message and a non-zero exit.
"""

__all__ = ["MCLNNError", "ParameterError", "DatasetError"]


class MCLNNError(Exception):
    """Root of all mclnn errors."""


class ParameterError(MCLNNError, ValueError):
    """A setting or argument has a bad value; the message names it, its value and the fix."""


class DatasetError(MCLNNError):
    """A file is missing, unreadable or inconsistent; the message names the file."""
