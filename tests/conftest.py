"""Make the test fixtures importable as ``tests.support`` however pytest is started.

Sweep specs of the tests load the toy model with ``plugins = ["tests.support.toy_model"]``;
worker processes started with ``spawn`` inherit ``sys.path``, so they find it too.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
