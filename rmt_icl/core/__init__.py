"""Foundation layer: what every other layer may use, and which uses nothing of rmt_icl.

* :mod:`~rmt_icl.core.checks` -- input checks whose ``ValueError`` names the parameter and range;
* :mod:`~rmt_icl.core.errors` -- the project's exceptions;
* :mod:`~rmt_icl.core.seeding` -- reproducible per-run, per-role random streams;
* :mod:`~rmt_icl.core.targets` -- the target functions ``g`` of ``y = g(<x, w>) + eps`` and
  their Gaussian moments (one table of names for the theory and the simulator);
* :mod:`~rmt_icl.core.stats` -- mean ± SE, the paired SE and Student-t thresholds;
* :mod:`~rmt_icl.core.registry` -- the one model registry (point functions, defaults, schema);
* :mod:`~rmt_icl.core.lazy` -- lazy public names (PEP 562) so ``import rmt_icl`` stays fast.
"""
