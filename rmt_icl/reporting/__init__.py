"""Reporting: running figures and studies through the sweep engine, drawing and reporting them.

* :mod:`~rmt_icl.reporting.studies` -- figure stores and study drivers (:func:`figure_sweep`,
  :func:`sweep_summary`, :func:`paired_summary`, :func:`rt_theory_summary`, :func:`run_study`);
* :mod:`~rmt_icl.reporting.style` -- one style for every figure (fonts, palette, PNG + PDF);
* :mod:`~rmt_icl.reporting.figure` -- the protocol and command line shared by the scripts in
  ``figures/`` (:class:`Figure`, :class:`PairedFigure`);
* :mod:`~rmt_icl.reporting.equivalence_plot` -- the equivalence study's log-log gap figure;
* :mod:`~rmt_icl.reporting.gallery` -- ``rmt-icl reproduce``: every figure and ``REPORT.md``;
* :mod:`~rmt_icl.reporting.catalogue` -- ``rmt-icl reproduce --list``: each figure's caption and
  measured quick and full wall times;
* :mod:`~rmt_icl.reporting.claims` -- checking a paper's qualitative claims on paired runs
  (the figures without a theory).
"""
