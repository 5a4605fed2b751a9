"""Stage 2: cross-validation index triples and per-fold standardization statistics."""

__all__: list[str] = []
