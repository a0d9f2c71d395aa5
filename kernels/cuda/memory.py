"""Device memory for outputs and temporaries: blocks recycled by size and stream.

On an H200 Numba's allocator took 48 us for 4 KB and 250 us for 280 MB, and
``relu_forward(x)`` took 0.70 ms against 0.335 ms into a given ``out``: an
allocation per output cost more than the kernel.  So every array that
fastnn.cuda makes comes from :func:`empty`, and a repeated call with the
same shapes allocates nothing from the driver once the pool holds its blocks.

An array is a lease on one block.  Its views (slices, reshapes) hold the
lease, and the block goes back to the pool only when the last of them is
gone, so no live array ever shares memory with another result.  A block is
reused only for an array of exactly its size made on the stream it was made
on: the work queued on that stream with the old array then runs before the
new array's, as the stream orders them.  Work another stream still has
queued with a dropped result is not tracked (torch's caching allocator has
the same rule and ``record_stream`` for it): synchronise before dropping a
result that another stream still reads.

At most ``config.CUDA_POOL_MAX_IDLE_BYTES`` wait in the pool, the oldest
freed first; :func:`release` frees every idle block now (``fastnn.cuda.
release_memory``), and an allocation that runs out of device memory
releases them and tries once more.

Why not a Numba EMM plugin: it is process-wide, has to be installed before
the CUDA context exists (so importing fastnn could not do it for a program
that already uses Numba), and the simulator that CI runs has no allocator
to plug it into; this pool runs on both, so CI tests what the GPU does.
"""

import collections
import math
import threading
import weakref

import numpy as np
from fastnn.kernels.cuda import SIMULATOR
from fastnn.kernels.cuda.observe import notify
from numba import cuda

from fastnn import config

if SIMULATOR:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray
    from numba.cuda.cudadrv.driver import CudaAPIError, MemoryPointer


class _Pool:
    """Idle blocks by (stream, size), oldest first; a re-entrant lock, since a
    lease can be collected, and its block given back, inside ``take``."""

    def __init__(self):
        self.lock = threading.RLock()
        self.idle = collections.OrderedDict()  # id(raw) -> (key, raw), oldest first
        self.by_key = {}  # (stream key, nbytes) -> [id(raw), ...], newest last
        self.idle_bytes = 0

    def take(self, key):
        with self.lock:
            ids = self.by_key.get(key)
            if ids:
                _, raw = self.idle.pop(ids.pop())
                self.idle_bytes -= key[1]
                return raw
        return None

    def give_back(self, key, raw):
        limit = config.CUDA_POOL_MAX_IDLE_BYTES
        with self.lock:
            if key[1] > limit:
                return
            while self.idle_bytes + key[1] > limit:
                self._free_oldest()
            self.idle[id(raw)] = (key, raw)
            self.by_key.setdefault(key, []).append(id(raw))
            self.idle_bytes += key[1]

    def release(self):
        with self.lock:
            while self.idle:
                self._free_oldest()

    def _free_oldest(self):
        ident, (key, _) = self.idle.popitem(last=False)
        self.by_key[key].remove(ident)
        self.idle_bytes -= key[1]


_POOL = _Pool()


def _stream_key(stream):
    if not stream:
        return 0
    if SIMULATOR:
        return id(stream)
    handle = stream.handle
    return int(getattr(handle, "value", handle))


def _raw(nbytes):
    """A new block from the driver (after freeing the idle ones if the device is full)."""
    notify("allocated", nbytes)
    if SIMULATOR:
        return np.empty(nbytes, np.uint8)
    context = cuda.current_context()
    try:
        return context.memalloc(nbytes)
    except CudaAPIError:
        release()
        return context.memalloc(nbytes)


class _HostLease:
    """The simulator's lease: the base every NumPy view of the array points at."""

    __slots__ = ("__array_interface__", "__weakref__", "_raw")

    def __init__(self, raw, shape, dtype):
        self._raw = raw
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "data": (raw.ctypes.data, False), "version": 3}


def empty(shape, dtype, stream=0):
    """
    An uninitialised C-contiguous device array, from the pool.

    Inputs:
    - shape: Tuple of non-negative ints (or an int)
    - dtype: A NumPy dtype
    - stream: The stream the array is made for (0, the default stream, or a Numba stream)
    """
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes == 0:
        return cuda.device_array(shape, dtype)
    key = (_stream_key(stream), nbytes)
    raw = _POOL.take(key)
    if raw is None:
        raw = _raw(nbytes)
    if SIMULATOR:
        lease = _HostLease(raw, shape, dtype)
        array = FakeCUDAArray(np.asarray(lease), stream=stream)
    else:
        lease = MemoryPointer(raw.context, raw.device_pointer, nbytes)
        strides = tuple(dtype.itemsize * math.prod(shape[i + 1 :]) for i in range(len(shape)))
        array = DeviceNDArray(shape, strides, dtype, stream=stream, gpu_data=lease)
    # Views hold the lease (Numba's as their memory's owner, NumPy's as their
    # base), so this runs when the last of them is gone.
    weakref.finalize(lease, _POOL.give_back, key, raw)
    return array


def idle_bytes():
    """Bytes of freed blocks now waiting in the pool."""
    return _POOL.idle_bytes


def release():
    """Free every idle block of the pool now (arrays in use keep theirs)."""
    _POOL.release()
