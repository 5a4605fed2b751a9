"""Running cv-train: the cross-validation (:mod:`~mclnn.train.run.cross_validation`), one trial
(:mod:`~mclnn.train.run.trial`), its units of work (:mod:`~mclnn.train.run.seed_run`), submitting
them here, to processes or a cluster (:mod:`~mclnn.train.run.tasks`), and what a worker runs
(:mod:`~mclnn.train.run.worker`).
"""

__all__: list[str] = []
