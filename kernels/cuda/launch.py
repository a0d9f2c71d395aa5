"""Launch shapes, the stream kernels launch on, the kernel registry, per-dtype kernel factories and device memory helpers.

Every kernel is made by :func:`kernel` (``@cuda.jit`` and a name in
:data:`KERNELS`), and a per-dtype factory by :func:`per_dtype`; so
:func:`all_kernels` can build every kernel for every dtype it is made for,
and the compile test (tests/test_cuda_compiles.py) can compile each with
NVVM for every signature it was launched with, on a machine without a GPU.
"""

import contextlib
import functools
import importlib
import pkgutil
import threading

import numpy as np
from fastnn.kernels.cuda import SIMULATOR, memory
from fastnn.kernels.cuda.observe import OBSERVERS, notify
from numba import cuda, float32, float64, int64
from numba.core.typing.typeof import Purpose, typeof

from fastnn import config

# int64 too: labels of any integer dtype are cast to it.
_NB = {np.dtype(np.float32): float32, np.dtype(np.float64): float64, np.dtype(np.int64): int64}

_DEVICE_ARRAY = cuda.devicearray.FakeCUDAArray if SIMULATOR else cuda.devicearray.DeviceNDArray

if SIMULATOR:
    from numba.cuda.simulator.api import stream as STREAM  # noqa: F401  (fastnn.cuda.as_stream's check)
else:
    from numba.cuda.cudadrv.driver import Stream as STREAM  # noqa: F401


def as_device_array(value):
    """``value`` as a Numba device array without a copy, or None if it is not on the GPU.

    Accepts Numba device arrays and, on a real GPU, anything exposing
    ``__cuda_array_interface__`` (CuPy arrays, PyTorch CUDA tensors).
    """
    if isinstance(value, _DEVICE_ARRAY):
        return value
    if not SIMULATOR and hasattr(value, "__cuda_array_interface__"):
        return cuda.as_cuda_array(value)
    return None


_current = threading.local()


def stream():
    """The stream kernels launch on: the caller's (see :func:`on_stream`), else the default stream, 0."""
    return getattr(_current, "stream", 0)


@contextlib.contextmanager
def on_stream(s):
    """Launch every kernel, and the copies results come back by, on the Numba stream s within the block."""
    previous = stream()
    _current.stream = s
    try:
        yield
    finally:
        _current.stream = previous


def to_host(a):
    """A device array copied to a NumPy array once the work queued on the current stream before it is done."""
    notify("copied_to_host", a)
    s = stream()
    if s == 0:
        return a.copy_to_host()
    host = a.copy_to_host(stream=s)
    s.synchronize()
    return host


def to_device(host):
    """A C-contiguous NumPy array copied into a new device array from the pool, on the current stream."""
    out = empty(host.shape, host.dtype)
    if host.size:
        notify("copied_to_device", host.nbytes)
        out.copy_to_device(host, stream=stream())
    return out


def _extent(a):
    """[start, end) of a C-contiguous device array's bytes."""
    start = a._ary.ctypes.data if SIMULATOR else a.device_ctypes_pointer.value
    return (start or 0), (start or 0) + a.nbytes


def overlaps(a, b):
    """True when the C-contiguous device arrays a and b share any bytes."""
    (a0, a1), (b0, b1) = _extent(a), _extent(b)
    return a.nbytes > 0 and b.nbytes > 0 and a0 < b1 and b0 < a1


def same_memory(a, b):
    """True when a and b are the same elements (same bytes, one element per byte range)."""
    return _extent(a) == _extent(b) and a.dtype == b.dtype


def setting(name):
    """A launch setting of fastnn.config, the simulator's where it runs."""
    return config.cuda_setting(name, SIMULATOR)


BM, BN, BK = setting("GEMM_TILE_M"), setting("GEMM_TILE_N"), setting("GEMM_TILE_K")
TM, TN = setting("GEMM_THREAD_M"), setting("GEMM_THREAD_N")
GEMM_THREADS = (BN // TN, BM // TM)
BLOCK = setting("CUDA_BLOCK")
VALS = setting("CUDA_VALUES_PER_THREAD")
WARP_ROW_MAX_C = setting("CUDA_WARP_ROW_MAX_C")


def blocks(n, threads=BLOCK):
    return max(1, min(config.CUDA_MAX_BLOCKS, -(-n // threads)))


#: Every kernel made so far, by name: ``module.qualname``, and ``[dtype]``
#: for one made by a per-dtype factory.
KERNELS = {}

#: Every per-dtype factory, with the dtypes it is made for.
FACTORIES = []

_building = threading.local()


class Kernel:
    """A ``@cuda.jit`` kernel, launched as ``kernel[grid, block, stream](*args)``, that observers see launch."""

    __slots__ = ("py_func", "dispatcher", "name")

    def __init__(self, py_func):
        self.py_func = py_func
        self.dispatcher = cuda.jit(py_func)
        dtype = getattr(_building, "dtype", None)
        self.name = f"{py_func.__module__}.{py_func.__qualname__}" + (f"[{dtype}]" if dtype is not None else "")
        KERNELS[self.name] = self

    def __getitem__(self, launch_config):
        launcher = self.dispatcher[launch_config]
        if not OBSERVERS:
            return launcher
        return functools.partial(self._observed, launch_config, launcher)

    def _observed(self, launch_config, launcher, *args):
        notify("launched", self, launch_config, args)
        return launcher(*args)

    def __repr__(self):
        return f"Kernel({self.name})"


def kernel(py_func):
    """``@cuda.jit`` for a kernel, registered in KERNELS (device functions stay plain ``@cuda.jit(device=True)``)."""
    return Kernel(py_func)


FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def per_dtype(factory=None, dtypes=FLOATS):
    """A factory of kernels for one dtype (given the Numba type), memoised per dtype; the kernels are named with it."""
    if factory is None:
        return functools.partial(per_dtype, dtypes=tuple(np.dtype(d) for d in dtypes))
    kernels = {}

    def get(dtype):
        dtype = np.dtype(dtype)
        if dtype not in kernels:
            _building.dtype = dtype
            try:
                kernels[dtype] = factory(_NB[dtype])
            finally:
                _building.dtype = None
        return kernels[dtype]

    FACTORIES.append((get, dtypes))
    return get


def all_kernels():
    """Every kernel of fastnn, built for every dtype its factory is made for: KERNELS, complete."""
    # Every module of the package, so a new kernel file cannot be left out.
    package = importlib.import_module("fastnn.kernels.cuda")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"fastnn.kernels.cuda.{module.name}")
    for get, dtypes in FACTORIES:
        for dtype in dtypes:
            get(dtype)
    return dict(KERNELS)


def signature(args):
    """The Numba types a real GPU's dispatcher gives launch arguments: device arrays by dtype, ndim and layout, scalars as values."""
    return tuple(a._numba_type_ if hasattr(a, "_numba_type_") else typeof(a, Purpose.argument) for a in args)


def empty(shape, dtype):
    """An uninitialised device array from the pool, for the current stream (kernels/cuda/memory.py)."""
    return memory.empty(shape, dtype, stream())


def empty_like(a):
    return memory.empty(a.shape, a.dtype, stream())


@per_dtype(dtypes=(np.float32, np.float64, np.int64))
def _fill_kernel(nb):
    @kernel
    def fill(out, value):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = value

    return fill


def full(shape, dtype, value):
    """A device array filled with ``value``."""
    out = empty(shape, dtype)
    flat = out.reshape(out.size) if out.ndim != 1 else out
    if out.size:
        _fill_kernel(dtype)[blocks(out.size), BLOCK, stream()](flat, value)
    return out


def zeros(shape, dtype):
    """A device array of zeros."""
    return full(shape, dtype, 0)


@per_dtype(dtypes=(np.float32, np.float64, np.int64))
def _cast_kernel(nb):
    @kernel
    def cast(src, dst):
        for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
            dst[i] = nb(src[i])

    return cast


def cast(src, dtype):
    """A contiguous copy of the flat device array ``src`` in ``dtype``."""
    dst = empty(src.size, dtype)
    if src.size:
        _cast_kernel(dtype)[blocks(src.size), BLOCK, stream()](src, dst)
    return dst


def contiguous(a):
    """A C-contiguous copy of a strided 1-D or 2-D device array."""
    dst = empty(a.shape, a.dtype)
    if a.ndim == 1:
        _copy_1d[blocks(a.shape[0]), BLOCK, stream()](a, dst)
    else:
        grid = (-(-a.shape[0] // 16) or 1, -(-a.shape[1] // 16) or 1)
        _copy_2d[grid, (16, 16), stream()](a, dst)
    return dst


@kernel
def _copy_1d(src, dst):
    for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        dst[i] = src[i]


@kernel
def _copy_2d(src, dst):
    i, j = cuda.grid(2)
    if i < src.shape[0] and j < src.shape[1]:
        dst[i, j] = src[i, j]


@kernel
def _label_range(y, out):
    for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        cuda.atomic.min(out, 0, y[i])
        cuda.atomic.max(out, 1, y[i])


def label_range(y):
    """Smallest and largest label of the device vector y, as Python ints."""
    out = to_device(np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min], np.int64))
    _label_range[blocks(y.size), BLOCK, stream()](y, out)
    low, high = to_host(out)
    return int(low), int(high)


@kernel
def _gather_rows(src, rows, dst):
    i, j = cuda.grid(2)
    if i < rows.size and j < src.shape[1]:
        dst[i, j] = src[rows[i], j]


def gather_rows(src, rows):
    """``src[rows]`` for a 2-D device array and a device vector of row indices."""
    dst = empty((rows.size, src.shape[1]), src.dtype)
    grid = (-(-rows.size // 16) or 1, -(-src.shape[1] // 16) or 1)
    _gather_rows[grid, (16, 16), stream()](src, rows, dst)
    return dst


def synchronize():
    """Wait for every queued kernel (for timing)."""
    cuda.synchronize()
