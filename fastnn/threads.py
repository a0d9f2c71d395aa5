"""Thread control for the CPU kernels: one knob for Numba and BLAS together.

Measured on a 2-core machine (see README, "Threads"):

* Numba's OpenMP workers spin after a ``prange`` (libgomp's default spin
  count is 300,000) and starved the next OpenBLAS GEMM, which ran 2.9x
  slower (8.0 ms instead of 2.7 ms at 512x512).
* ``OMP_WAIT_POLICY=passive`` removed that but made every parallel launch
  cost 8.7 us instead of 1.5 us; the workqueue layer cost 54 us a launch.
* ``GOMP_SPINCOUNT=1000`` kept launches at 2.1 us and left the GEMM alone.

So fastnn uses the OpenMP layer with a short spin.  libgomp reads
``GOMP_SPINCOUNT`` once, when it is loaded, which happens at Numba's first
parallel launch; :func:`configure` sets it (unless you set it yourself)
when the kernels are imported, before that launch.
"""

import contextlib
import os

from fastnn import config


def configure():
    """Choose the threading layer and spin count before Numba starts threads."""
    import numba

    os.environ.setdefault("GOMP_SPINCOUNT", str(config.GOMP_SPINCOUNT))
    numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


def get_num_threads():
    """The number of threads Numba's parallel kernels use in this thread."""
    import numba

    return numba.get_num_threads()


def set_num_threads(n):
    """
    Use ``n`` threads in Numba's parallel kernels and in every BLAS library
    loaded in the process (NumPy's OpenBLAS and the one under Numba's
    ``np.dot``), so that neither oversubscribes the other.

    Inputs:
    - n: Positive integer, at most the number of CPUs Numba was started with
    """
    import numba
    from threadpoolctl import threadpool_limits

    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads: expected an integer from 1 to {numba.config.NUMBA_NUM_THREADS}, got {n!r}")
    numba.set_num_threads(n)
    threadpool_limits(n, user_api="blas")


@contextlib.contextmanager
def limit_threads(n):
    """Context manager form of :func:`set_num_threads`; restores the counts on exit."""
    import numba
    from threadpoolctl import threadpool_limits

    previous = numba.get_num_threads()
    with threadpool_limits(user_api="blas"):
        set_num_threads(n)
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def describe():
    """One line naming the threading layer and the thread counts in use."""
    import numba
    from threadpoolctl import threadpool_info

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not started yet"
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info() if i["user_api"] == "blas")
    return (
        f"numba {numba.get_num_threads()} threads ({layer} layer, GOMP_SPINCOUNT="
        f"{os.environ.get('GOMP_SPINCOUNT', 'unset')}); BLAS: {blas or 'none loaded'}"
    )
