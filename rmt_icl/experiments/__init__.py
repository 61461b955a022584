"""Experiments: the studies that put theory and simulation side by side.

Importing this package registers every built-in sweep model in
:mod:`rmt_icl.core.registry`:

* :mod:`~rmt_icl.experiments.models` -- the simulators as sweep models (linear attention with
  its theory, the random transformer, its Hermite model, the linear transformer);
* :mod:`~rmt_icl.experiments.equivalence` -- the RT-vs-Hermite equivalence study
  (``rt-equivalence``, ``rt-paired``) and its statistics (paired gaps, shrink verdicts, p0);
* :mod:`~rmt_icl.experiments.rt_theory` -- the RT deterministic equivalent against the
  simulated RT on a validation grid (``rt-theory``);
* :mod:`~rmt_icl.experiments.la_validation` -- gap statistics of theory vs simulation tables;
* :mod:`~rmt_icl.experiments.verdict` -- a figure's verdict (agree / disagree / not covered)
  from its comparison table, and the measurement of its finite-size allowance;
* :mod:`~rmt_icl.experiments.runner` -- :func:`simulate`, one point repeated over runs.
"""

from rmt_icl.experiments import equivalence, models, rt_theory  # noqa: F401  (registration)
from rmt_icl.experiments.runner import simulate

__all__ = ["simulate"]
