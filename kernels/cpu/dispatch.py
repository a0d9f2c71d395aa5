"""When a CPU kernel runs in parallel: the size thresholds and chunking.

``parallel=True`` costs 2-3 us per call here, so inputs below the
thresholds of :mod:`fastnn.config` run the serial span function directly;
the thresholds are read at call time, so editing them takes effect.  A
forked child never runs parallel (:func:`fastnn.threads.parallel_allowed`).
"""

import types

from numba import njit

from fastnn import config, threads

#: fastmath flags that let LLVM reassociate (and so vectorise) float sums; no
#: flag that would change inf/NaN handling.  For sums that need not follow
#: NumPy's order.
REDUCE = {"reassoc", "contract"}


def num_chunks(total, chunk):
    return max(1, -(-total // chunk))


def rows_per_chunk(num_cols):
    return max(1, config.CHUNK_ELEMENTS // max(1, num_cols))


def is_large_rows(matrix):
    return matrix.size >= config.PARALLEL_MIN_ROW_ELEMENTS and matrix.shape[0] > 1 and threads.parallel_allowed()


def is_large(array):
    return array.size >= config.PARALLEL_MIN_ELEMENTS and threads.parallel_allowed()



def serial_and_parallel(driver, **options):
    """
    ``(serial, parallel)``: one chunked driver (a ``prange`` over chunks)
    compiled both ways with ``cache=True`` and ``options``, so that the
    serial path (small inputs, forked children) splits the work exactly as
    the parallel one does and gives the same bits.

    Each is compiled from its own copy of the function under its own name.
    Numba names a cache file after the function and keys its entries by the
    bytecode, not by ``parallel=``: two compilations of one function read
    each other's machine code from a warm cache, and the serial one then
    launched OpenMP threads (measured), which kills a forked child.
    """

    def renamed(suffix):
        copy = types.FunctionType(driver.__code__, driver.__globals__, driver.__name__ + suffix, driver.__defaults__, driver.__closure__)
        copy.__qualname__ = driver.__qualname__ + suffix
        return copy

    return njit(cache=True, **options)(renamed("_serial")), njit(cache=True, parallel=True, **options)(renamed("_parallel"))
