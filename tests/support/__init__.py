"""Test fixtures shared by several test modules (importable as ``tests.support``)."""
