"""Hermite expansions of activations (placeholder until the engine lands)."""
