"""The walkthrough notebooks in ``notebooks/`` run top to bottom without a cell error.

Each committed ``.ipynb`` is executed in a fresh ``python3`` kernel (the interpreter running
pytest: jupyter_client maps the native kernel's ``python`` to ``sys.executable``) with the
non-interactive Agg backend; the kernel's IPython directory and connection files go to pytest's
``tmp_path``, and the notebooks themselves write only under ``tempfile.mkdtemp()``. The
notebooks contain their own sanity checks (theory against simulation within a few measured
standard errors, Parseval identities, ...) as ``assert`` statements, so a failed check is a
cell error here. Small sizes keep each notebook well under a minute on a 2-core machine
(kernel CPU time 4-14 s each, BLAS and numba single-threaded).

The notebooks are committed without outputs; their jupytext ``.py`` twins are the sources and
must hold the same cells.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")


def _ids(paths):
    return [p.stem for p in paths]


def test_notebooks_exist():
    names = {p.stem for p in NOTEBOOKS}
    expected = {"01_hermite_expansions", "02_linear_attention_theory",
                "03_random_transformer_equivalence", "04_one_step_gd"}
    assert expected <= names, f"missing notebooks: {sorted(expected - names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs(path, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # single-threaded BLAS/OpenMP/numba in the kernel: the notebooks' problems are small, and on
    # a loaded 2-core machine threaded BLAS spent 3-4x the CPU time spinning (measured: 02 and 03
    # took 36 and 48 s wall with threads, 10 s each with one thread)
    for var in THREAD_VARS:
        monkeypatch.setenv(var, "1")
    # keep the kernel's IPython history and connection files out of the home directory
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    nb = nbformat.read(path, as_version=4)
    # one extra cell reports the kernel's interpreter: it must be the one running pytest
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable)"))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:  # show the failing cell's traceback
        pytest.fail(f"{path.name}: a cell failed\n{exc}")
    print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s")
    kernel_python = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert os.path.realpath(kernel_python) == os.path.realpath(sys.executable), kernel_python


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_committed_without_outputs(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has stored outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_matches_jupytext_source(path):
    nbformat = pytest.importorskip("nbformat")
    import jupytext
    src = path.with_suffix(".py")
    assert src.exists(), f"{path.name} has no jupytext source {src.name}"
    nb = nbformat.read(path, as_version=4)
    py = jupytext.read(src)
    got = [(c.cell_type, c.source.strip()) for c in nb.cells]
    want = [(c.cell_type, c.source.strip()) for c in py.cells]
    assert got == want, (f"{path.name} is out of sync with {src.name}; regenerate it with "
                         f"`jupytext --to ipynb {src}`")
