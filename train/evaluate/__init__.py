"""Evaluating trained models: scoring clips (:mod:`~mclnn.train.evaluate.scorer`), clip votes and
metrics, the cross-validation report and the report over seeds.
"""

__all__: list[str] = []
