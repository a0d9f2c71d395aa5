"""Launch shapes, the stream kernels launch on, per-dtype kernel factories and device memory helpers."""

import contextlib
import threading

import numpy as np
from numba import cuda, float32, float64, int64

from fastnn import config
from fastnn.kernels.cuda import SIMULATOR

# int64 too: labels of any integer dtype are cast to it.
_NB = {np.dtype(np.float32): float32, np.dtype(np.float64): float64, np.dtype(np.int64): int64}

_DEVICE_ARRAY = cuda.devicearray.FakeCUDAArray if SIMULATOR else cuda.devicearray.DeviceNDArray

if SIMULATOR:
    from numba.cuda.simulator.api import stream as STREAM
else:
    from numba.cuda.cudadrv.driver import Stream as STREAM


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
    s = stream()
    if s == 0:
        return a.copy_to_host()
    host = a.copy_to_host(stream=s)
    s.synchronize()
    return host


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


def per_dtype(factory):
    kernels = {}

    def get(dtype):
        dtype = np.dtype(dtype)
        if dtype not in kernels:
            kernels[dtype] = factory(_NB[dtype])
        return kernels[dtype]

    return get


@per_dtype
def _fill_kernel(nb):
    @cuda.jit
    def fill(out, value):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = value

    return fill


def full(shape, dtype, value):
    """A device array filled with ``value``."""
    out = cuda.device_array(shape, dtype)
    flat = out.reshape(out.size) if out.ndim != 1 else out
    if out.size:
        _fill_kernel(dtype)[blocks(out.size), BLOCK, stream()](flat, value)
    return out


def zeros(shape, dtype):
    """A device array of zeros."""
    return full(shape, dtype, 0)


@per_dtype
def _cast_kernel(nb):
    @cuda.jit
    def cast(src, dst):
        for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
            dst[i] = nb(src[i])

    return cast


def cast(src, dtype):
    """A contiguous copy of the flat device array ``src`` in ``dtype``."""
    dst = cuda.device_array(src.size, dtype)
    if src.size:
        _cast_kernel(dtype)[blocks(src.size), BLOCK, stream()](src, dst)
    return dst


def contiguous(a):
    """A C-contiguous copy of a strided 1-D or 2-D device array."""
    dst = cuda.device_array(a.shape, a.dtype)
    if a.ndim == 1:
        _copy_1d[blocks(a.shape[0]), BLOCK, stream()](a, dst)
    else:
        grid = (-(-a.shape[0] // 16) or 1, -(-a.shape[1] // 16) or 1)
        _copy_2d[grid, (16, 16), stream()](a, dst)
    return dst


@cuda.jit
def _copy_1d(src, dst):
    for i in range(cuda.grid(1), src.size, cuda.gridsize(1)):
        dst[i] = src[i]


@cuda.jit
def _copy_2d(src, dst):
    i, j = cuda.grid(2)
    if i < src.shape[0] and j < src.shape[1]:
        dst[i, j] = src[i, j]


@cuda.jit
def _label_range(y, out):
    for i in range(cuda.grid(1), y.size, cuda.gridsize(1)):
        cuda.atomic.min(out, 0, y[i])
        cuda.atomic.max(out, 1, y[i])


def label_range(y):
    """Smallest and largest label of the device vector y, as Python ints."""
    out = cuda.to_device(np.array([np.iinfo(np.int64).max, np.iinfo(np.int64).min], np.int64))
    _label_range[blocks(y.size), BLOCK, stream()](y, out)
    low, high = to_host(out)
    return int(low), int(high)


@cuda.jit
def _gather_rows(src, rows, dst):
    i, j = cuda.grid(2)
    if i < rows.size and j < src.shape[1]:
        dst[i, j] = src[rows[i], j]


def gather_rows(src, rows):
    """``src[rows]`` for a 2-D device array and a device vector of row indices."""
    dst = cuda.device_array((rows.size, src.shape[1]), src.dtype)
    grid = (-(-rows.size // 16) or 1, -(-src.shape[1] // 16) or 1)
    _gather_rows[grid, (16, 16), stream()](src, rows, dst)
    return dst


def synchronize():
    """Wait for every queued kernel (for timing)."""
    cuda.synchronize()
