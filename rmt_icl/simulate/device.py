r"""Where a simulation runs: the CPU path, or the array path on a GPU (CuPy) -- an execution option.

The random-transformer and linear-attention simulators have two implementations:

* ``"cpu"`` -- the optimised CPU path (packed LAPACK Grams, numba kernels, the rank-one test
  route);
* ``"gpu"`` -- :mod:`~rmt_icl.simulate.xp_engine`, written once against an array namespace
  ``xp`` and run with CuPy. The same code runs with NumPy (``ArrayDevice(numpy)``), which is
  how the test suite checks it on machines without a GPU.

The device is an *execution option*, like the sweep backend: it never enters a point's
parameters or its key. It is chosen per call (``simulate_models(..., device="gpu")``), or for a
block of code with :func:`use_device` (how a sweep worker or the CLI sets it), otherwise it is
the module default ``"cpu"``.

Sampling modes of the array path (:data:`SAMPLING_MODES`)
---------------------------------------------------------
* ``"device"`` (default on the GPU): ``F`` and the Hermite noise are drawn on the device by
  :func:`device_generator`, keyed by the run's :class:`~numpy.random.SeedSequence` streams
  (``features``, ``hermite_noise_train``, ``hermite_noise_test``), so every model of a run
  still sees the same prompts, ``F`` and noise (paired design); the numbers differ from the
  CPU path's but have the same law.
* ``"host"`` (exact mode): ``F`` and the noise are drawn on the CPU exactly as the CPU path
  draws them and copied to the device; CPU and GPU then agree to rounding.

Prompts and test sets are always drawn on the host (cheap, ``O(d)`` per prompt).

Installing CuPy
---------------
CuPy is an optional extra: ``pip install "rmt_icl[gpu-cuda12]"`` (``cupy-cuda12x``, CUDA 12.x
drivers) or ``pip install "rmt_icl[gpu-cuda13]"`` (``cupy-cuda13x``, CUDA 13.x). Asking for the
GPU without CuPy, or without a visible CUDA device, raises
:class:`~rmt_icl.core.errors.DeviceUnavailableError`; there is no silent fallback to the CPU.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.special

from rmt_icl.core.checks import check_positive
from rmt_icl.core.errors import DeviceUnavailableError
from rmt_icl.simulate.rt_resources import memory_budget

__all__ = [
    "DEVICES",
    "DEVICE_MEMORY_FRACTION",
    "GPU_EXTRAS",
    "RNG_STATES",
    "SAMPLING_MODES",
    "ArrayDevice",
    "array_namespace",
    "check_device",
    "check_sampling",
    "current_device",
    "device_generator",
    "device_memory_budget",
    "gpu_available",
    "linalg_errors",
    "resolve_device",
    "scipy_modules",
    "synchronize",
    "to_device",
    "to_host",
    "use_device",
]

#: accepted values of the ``device`` option
DEVICES = ("cpu", "gpu")
#: accepted values of the ``sampling`` option of the array path
SAMPLING_MODES = ("device", "host")
#: pip extras that install CuPy, by CUDA major version
GPU_EXTRAS = {"12": "rmt_icl[gpu-cuda12]", "13": "rmt_icl[gpu-cuda13]"}
#: share of the free device memory a run may plan to use (the rest: cuBLAS/cuSOLVER
#: workspaces, allocator fragmentation)
DEVICE_MEMORY_FRACTION = 0.8
#: number of cuRAND states of a device generator; fixed so that a seed gives the same numbers
#: on GPUs with different numbers of multiprocessors
RNG_STATES = 1 << 16

_DEFAULT: contextvars.ContextVar = contextvars.ContextVar("rmt_icl_device", default=("cpu", None))


def _choice(name: str, value, allowed: tuple) -> str:
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return key


def check_device(device) -> str:
    """``device`` as one of :data:`DEVICES` (case-insensitive); ValueError naming ``device``
    and the allowed values otherwise."""
    return _choice("device", device, DEVICES)


def check_sampling(sampling) -> str:
    """``sampling`` as one of :data:`SAMPLING_MODES`; ValueError naming ``sampling`` and the
    allowed values otherwise."""
    return _choice("sampling", sampling, SAMPLING_MODES)


def _install_hint() -> str:
    return (f"install CuPy for your CUDA toolkit: pip install \"{GPU_EXTRAS['12']}\" "
            f"(cupy-cuda12x, CUDA 12.x) or pip install \"{GPU_EXTRAS['13']}\" "
            f"(cupy-cuda13x, CUDA 13.x)")


def array_namespace(device):
    """The array namespace of ``device``: :mod:`numpy` for ``"cpu"``, :mod:`cupy` for ``"gpu"``.

    Raises
    ------
    ValueError
        ``device`` not in :data:`DEVICES`.
    rmt_icl.core.errors.DeviceUnavailableError
        ``"gpu"`` without CuPy (the message names the extras to install) or without a visible
        CUDA device.
    """
    if check_device(device) == "cpu":
        return np
    try:
        import cupy
    except ImportError as exc:
        raise DeviceUnavailableError(
            f"device='gpu' needs CuPy, which is not importable ({exc}); "
            f"{_install_hint()}") from exc
    try:
        count = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - CUDA runtime/driver errors of any kind
        raise DeviceUnavailableError(
            f"device='gpu': CuPy is installed but no CUDA device is visible ({exc}); check "
            f"the NVIDIA driver, CUDA_VISIBLE_DEVICES, and that the CuPy wheel matches the "
            f"driver's CUDA version ({_install_hint()})") from exc
    if count < 1:
        raise DeviceUnavailableError(
            "device='gpu': CuPy is installed but no CUDA device is visible "
            "(cupy.cuda.runtime.getDeviceCount() == 0); check the NVIDIA driver and "
            "CUDA_VISIBLE_DEVICES")
    return cupy


def gpu_available() -> bool:
    """Whether ``device="gpu"`` can run here (CuPy importable and a CUDA device visible)."""
    try:
        array_namespace("gpu")
    except DeviceUnavailableError:
        return False
    return True


def is_numpy(xp) -> bool:
    """Whether ``xp`` is NumPy (the host namespace)."""
    return xp is np


def scipy_modules(xp):
    """``(linalg, special)``: SciPy's modules for NumPy, ``cupyx.scipy``'s for CuPy."""
    if is_numpy(xp):
        return scipy.linalg, scipy.special
    import cupyx.scipy.linalg
    import cupyx.scipy.special
    return cupyx.scipy.linalg, cupyx.scipy.special


def linalg_errors(xp):
    """Context in which a failed factorisation raises :class:`numpy.linalg.LinAlgError`.

    NumPy always raises; CuPy only inside ``cupyx.errstate(linalg="raise")``.
    """
    if is_numpy(xp):
        return contextlib.nullcontext()
    import cupyx
    errstate = getattr(cupyx, "errstate", None)      # without it, a NaN check remains
    return errstate(linalg="raise") if errstate is not None else contextlib.nullcontext()


def synchronize(xp) -> None:
    """Wait for the device's queued work (for timings); nothing to do for NumPy."""
    if not is_numpy(xp):
        xp.cuda.Device().synchronize()


def to_device(xp, a):
    """``a`` as a float64 array of namespace ``xp`` (a copy to the device for CuPy)."""
    return xp.asarray(a, dtype=np.float64)


def to_host(a) -> np.ndarray:
    """``a`` as a NumPy array (a copy from the device for CuPy arrays)."""
    if isinstance(a, np.ndarray):
        return a
    get = getattr(a, "get", None)
    return np.asarray(get() if callable(get) else a)


def device_memory_budget(xp, budget=None) -> int:
    """Bytes a run may plan to allocate in namespace ``xp``.

    ``budget`` (bytes, > 0) if given; else for NumPy the host budget
    (:func:`rmt_icl.simulate.rt_resources.memory_budget`) and for CuPy
    :data:`DEVICE_MEMORY_FRACTION` of the device memory that is free now
    (``cupy.cuda.runtime.memGetInfo``) or cached, unused, by CuPy's memory pool.
    """
    if budget is not None:
        return int(check_positive("memory_budget", budget))
    if is_numpy(xp):
        return memory_budget(None)
    free, _total = xp.cuda.runtime.memGetInfo()
    cached = xp.get_default_memory_pool().free_bytes()
    return int(DEVICE_MEMORY_FRACTION * (int(free) + int(cached)))


def device_generator(xp, seed_seq: np.random.SeedSequence):
    """Generator of namespace ``xp`` keyed by ``seed_seq`` (float64 standard normals).

    The integer seed is ``seed_seq.generate_state(1, uint64)[0]``; NumPy gets
    ``Generator(PCG64(seed))`` (a stream other than the CPU path's), CuPy
    ``cupy.random.Generator(XORWOW(seed, size=RNG_STATES))``. Both offer
    ``standard_normal(shape)``.
    """
    seed = int(seed_seq.generate_state(1, np.uint64)[0])
    if is_numpy(xp):
        return np.random.Generator(np.random.PCG64(seed))
    return xp.random.Generator(xp.random.XORWOW(seed, size=RNG_STATES))


@dataclass(frozen=True)
class ArrayDevice:
    """Where the array path runs: its namespace and how it samples ``F`` and the noise.

    Attributes
    ----------
    xp : module
        :mod:`cupy` on a GPU, or :mod:`numpy` (the same code on the CPU: tests, smoke runs).
    sampling : {"device", "host"}
        ``"device"``: ``F`` and the Hermite noise drawn by :func:`device_generator`;
        ``"host"`` (exact mode): drawn on the CPU as the CPU path draws them.
    """

    xp: object
    sampling: str = "device"

    def __post_init__(self):
        object.__setattr__(self, "sampling", check_sampling(self.sampling))

    @property
    def name(self) -> str:
        """``"numpy"`` or ``"cupy"``."""
        return "numpy" if is_numpy(self.xp) else "cupy"


def _check_setting(device):
    if isinstance(device, ArrayDevice):
        return device
    return check_device(device)


@contextlib.contextmanager
def use_device(device, sampling=None):
    """Run the enclosed simulations on ``device`` (``"cpu"``, ``"gpu"`` or an ArrayDevice).

    The setting is an execution option: point functions called inside pick it up, and it
    never enters their parameters. ``sampling`` (``"device"``/``"host"``) applies to the
    array path. Nested uses restore the outer setting on exit; the setting is per thread
    (a :class:`contextvars.ContextVar`).

    Examples
    --------
    ``with use_device("gpu"): row = point(params, seed)``
    """
    device = _check_setting(device)
    if sampling is not None:
        sampling = check_sampling(sampling)
    token = _DEFAULT.set((device, sampling))
    try:
        yield
    finally:
        _DEFAULT.reset(token)


def current_device() -> tuple:
    """The ``(device, sampling)`` set by the innermost :func:`use_device` (default
    ``("cpu", None)``)."""
    return _DEFAULT.get()


def resolve_device(device=None, sampling=None) -> ArrayDevice | None:
    """The array device of a call, or None for the CPU path.

    Parameters
    ----------
    device : {"cpu", "gpu"}, ArrayDevice or None
        None: the setting of :func:`use_device` (default ``"cpu"``).
    sampling : {"device", "host"} or None
        The array path's sampling mode; None: the :func:`use_device` setting, else
        ``"device"``. Ignored on the CPU path.

    Raises
    ------
    ValueError
        A bad ``device`` or ``sampling``.
    rmt_icl.core.errors.DeviceUnavailableError
        ``"gpu"`` without CuPy or without a CUDA device.
    """
    if device is None:
        device, default_sampling = current_device()
        sampling = sampling if sampling is not None else default_sampling
    device = _check_setting(device)
    if isinstance(device, ArrayDevice):
        return device if sampling is None else ArrayDevice(device.xp, sampling)
    if device == "cpu":
        if sampling is not None:
            check_sampling(sampling)
        return None
    return ArrayDevice(array_namespace(device), sampling or "device")
