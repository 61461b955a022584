"""Sweep entry point ``"linear-transformer"``: the linear transformer on the RT's prompts.

An alias of :func:`rmt_icl.simulate.random_transformer.simulate_point_linear` (ridge on
``vec H_Z`` at ``lambda_LA = d t lambda_bar / n`` unless ``ridge_la`` is given), kept here so
that the sweep registry's ``rmt_icl.simulate.linear_transformer:simulate_point`` resolves.
"""

from rmt_icl.simulate.random_transformer import simulate_point_linear as simulate_point

__all__ = ["simulate_point"]
