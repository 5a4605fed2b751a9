"""Several training steps in one compiled call, under JAX: the batches formed and the steps taken on the device.

Keras' ``train_on_batch`` is one compiled step and one wait for its results per batch: on
an accelerator the host then sits between steps, and a small model's step is shorter than
that round trip. :class:`StepRuns` runs a run of consecutive batches of one shape as an
unrolled sequence of the model's own ``train_step`` (the loss, the optimizer with its
weight averaging, the metrics, the dropout seeds: Keras' code, not a copy), each batch
formed from its plan by :func:`~mclnn.train.fit.batch_augmentation.form_batch`'s
computation and each step at its own learning rate; the host makes one call per run and
reads the losses once (``training.steps_per_call``). Other backends train a step per call.
The steps are unrolled, not a loop (XLA's CPU code ran the same step 8 times slower as a
loop body); compiling takes longer (about 20 s for 10 steps of ESC-10's model on the 2-core
CPU, against 7 s for one), and on the CPU an epoch runs about as fast as with a call a step,
so it is a setting for accelerators, not the default.
"""

from __future__ import annotations

import keras
import numpy as np

from mclnn.train.fit.batch_augmentation import BatchPlan, form_frames

__all__ = ["StepRuns", "runs_of_steps_available"]


def runs_of_steps_available() -> bool:
    """Whether the backend runs several steps per compiled call (JAX)."""
    return keras.backend.backend() == "jax"


class StepRuns:
    """Runs of training steps of one trainable model, one compiled call a run.

    Parameters
    ----------
    model : keras.Model
        Compiled, with a learning rate that is a variable (``optimizer.learning_rate``).
    steps : int
        The most steps one call takes (``training.steps_per_call``).
    feature_blocks : int
        As :class:`~mclnn.train.fit.batch_augmentation.BatchAugmentation`'s.
    frames, labels : np.ndarray
        A batch's worth of inputs and labels of the training shapes (zeros will do): one
        ``test_on_batch`` on them builds the compiled loss and metrics, which Keras builds
        on first use, without touching the weights or the dropout seeds.
    """

    def __init__(self, model: keras.Model, *, steps: int, feature_blocks: int, frames: np.ndarray,
                 labels: np.ndarray):
        import jax

        self.model = model
        self.steps = steps
        self._feature_blocks = feature_blocks
        model.test_on_batch(frames, labels)
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        self._rate = next(number for number, variable in enumerate(optimizer.variables)
                          if variable is optimizer.learning_rate)
        self._run = jax.jit(self._steps, static_argnames=("n_frames",))

    def __call__(self, table, plans: list[BatchPlan], labels: list[np.ndarray], rates: list[float]) -> list[dict]:
        """Train on the batches of ``plans`` (all of one shape), in order, at ``rates``; each step's logs.

        A run shorter than ``steps`` goes one step a call, so that each batch shape is compiled
        for two lengths at most (where a shuffled epoch puts a smaller batch decides the rest).

        Returns
        -------
        list of dict
            Per step, the loss and metrics of its batch alone, as ``train_on_batch`` returns them.
        """
        if len(plans) in (1, self.steps):
            return self._call(table, plans, labels, rates)
        return [logs for step in range(len(plans))
                for logs in self._call(table, plans[step:step + 1], labels[step:step + 1], rates[step:step + 1])]

    def _call(self, table, plans, labels, rates):
        model = self.model
        model.jax_state_sync()
        model.reset_metrics()
        variables = (model.trainable_variables, model.non_trainable_variables, model.optimizer.variables)
        state = tuple([variable.value for variable in group] for group in variables)
        fresh_metrics = [variable.value for variable in model.metrics_variables]
        arrays = [plan.arrays() for plan in plans]
        stacked = {name: None if value is None else np.stack([each[name] for each in arrays])
                   for name, value in arrays[0].items()}
        state, logs = self._run(state, table, stacked, np.stack(labels),
                                np.asarray(rates, dtype=model.optimizer.learning_rate.dtype), fresh_metrics,
                                n_frames=plans[0].n_frames)
        for group, values in zip(variables, state):
            for variable, value in zip(group, values):
                variable.assign(value)
        logs = {key: np.asarray(values) for key, values in logs.items()}
        return [{key: float(values[step]) for key, values in logs.items()} for step in range(len(plans))]

    def _steps(self, state, table, plans, labels, rates, fresh_metrics, *, n_frames):
        import jax

        def step(carry, inputs):
            trainable, non_trainable, optimizer_variables = carry
            plan, batch_labels, rate = inputs
            optimizer_variables = list(optimizer_variables)
            optimizer_variables[self._rate] = rate
            frames = form_frames(table, plan, n_frames=n_frames, feature_blocks=self._feature_blocks)
            logs, (trainable, non_trainable, optimizer_variables, _) = self.model.train_step(
                (trainable, non_trainable, optimizer_variables, fresh_metrics), (frames, batch_labels))
            return (trainable, non_trainable, optimizer_variables), logs

        # Unrolled, not a loop: XLA's CPU code ran the same step 8 times slower as a loop body.
        logs = []
        for index in range(len(rates)):
            state, step_logs = step(state, jax.tree_util.tree_map(lambda array: array[index], (plans, labels, rates)))
            logs.append(step_logs)
        return state, {key: keras.ops.stack([step_logs[key] for step_logs in logs]) for key in logs[0]}
