"""A trial's clips: read with its fold files, standardized, cut into segments and batches on the fly.

The bottom of :mod:`mclnn.train`: numpy only, imported by the model, fitting, evaluation and prediction code.
"""

__all__: list[str] = []
