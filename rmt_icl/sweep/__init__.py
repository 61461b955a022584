"""Parameter sweeps at scale: one API, three backends, a durable and resumable results store.

Typical use (see ``docs/sweeps.md``)::

    from rmt_icl.sweep import sweep, load, summarise

    df = sweep("examples/sweep_example.toml", store="results/example")  # resumes if interrupted
    table = summarise(load("results/example"), by=["model", "alpha"])   # mean, SE, count

Public names are imported lazily.
"""

from __future__ import annotations

from rmt_icl.core.lazy import lazy_exports

_EXPORTS = {
    "sweep": "rmt_icl.sweep.run",
    "load": "rmt_icl.sweep.store",
    "Store": "rmt_icl.sweep.store",
    "summarise": "rmt_icl.sweep.summary",
    "load_spec": "rmt_icl.sweep.spec",
    "SweepSpec": "rmt_icl.sweep.spec",
    "Point": "rmt_icl.sweep.spec",
    "register_model": "rmt_icl.core.registry",
    "get_model": "rmt_icl.core.registry",
    "known_models": "rmt_icl.core.registry",
    "make_backend": "rmt_icl.sweep.backends",
    "SerialBackend": "rmt_icl.sweep.backends",
    "ProcessBackend": "rmt_icl.sweep.backends",
    "DaskBackend": "rmt_icl.sweep.backends",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

