"""Stage 3: MCLNN cross-validation training and the clip-level report."""

__all__: list[str] = []
