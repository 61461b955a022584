"""Plotting: one style for every figure, and helpers that draw from stored results.

:mod:`rmt_icl.plotting.style` fixes fonts, the colour-blind-safe palette and the PNG+PDF
output; figure scripts in ``figures/`` import it so that all figures look alike.
"""
