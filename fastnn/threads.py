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
parallel launch; :func:`configure` sets it (unless you set it yourself).
It runs once, when the package ``fastnn.kernels`` is imported, before any
kernel module and so before that launch.

A libgomp loaded before fastnn, such as PyTorch's (``import torch`` first),
has read its spin count already, and Numba's OpenMP layer binds to it (the
same ``libgomp.so.1``).  Measured here: the default recipe took 0.95 s an
epoch that way, against 0.026 s with fastnn imported first, or with
``GOMP_SPINCOUNT=1000`` in the environment.  So where :func:`configure`
finds such a libgomp and no spin setting in the environment, it warns and
picks Numba's workqueue layer, which does not spin (0.050 s an epoch).

libgomp does not survive ``fork()`` once its threads have started: a
forked child that launches a parallel kernel is killed ("fork() called from
a process already using GNU OpenMP").  So a child forked after the parent's
first parallel launch runs every kernel serially (:func:`parallel_allowed`
turns False in it); children started with spawn or forkserver are fresh
processes and run in parallel.
"""

import contextlib
import os
import re
import warnings

from fastnn import config


_parallel = True
_wanted = None  # the count given to set_num_threads, for every thread of the process


def parallel_allowed():
    """
    Whether a parallel kernel may launch here, called just before one does.

    False in a process forked after its parent started OpenMP threads
    (kernels there run serially).  Otherwise it also applies the count of
    :func:`set_num_threads` to the calling thread: Numba's own setting is
    per thread, and a new thread would start with all of them.
    """
    if _parallel and _wanted is not None:
        import numba

        if numba.get_num_threads() != _wanted:
            numba.set_num_threads(_wanted)
    return _parallel


def _after_fork_in_child():
    global _parallel
    import numba

    try:
        started = numba.threading_layer() == "omp"
    except ValueError:  # no parallel launch yet: the child may start its own threads
        started = False
    if started:
        _parallel = False


def _libgomp_loaded():
    """Whether a libgomp.so.1 (the soname Numba's OpenMP layer binds to) is mapped into this process already (Linux)."""
    try:
        with open("/proc/self/maps") as f:
            return any(re.search(r"/libgomp\.so\.1(\.\d+)*$", line.rstrip()) for line in f)
    except OSError:
        return False


def configure():
    """Choose the threading layer and spin count before Numba starts threads; make forked children safe."""
    import numba

    spin_given = "GOMP_SPINCOUNT" in os.environ or "OMP_WAIT_POLICY" in os.environ
    os.environ.setdefault("GOMP_SPINCOUNT", str(config.GOMP_SPINCOUNT))
    if not spin_given and _libgomp_loaded():
        warnings.warn(
            "fastnn: an OpenMP runtime (libgomp, loaded by torch or another library imported before fastnn) read its "
            "spin setting before fastnn could shorten it; its idle threads would starve BLAS (measured: 36x slower "
            "training). fastnn uses Numba's workqueue threading layer instead, about 2x slower than OpenMP with the "
            "short spin. To keep OpenMP, import fastnn before torch, or set GOMP_SPINCOUNT=1000 in the environment.",
            RuntimeWarning,
            stacklevel=2,
        )
        numba.config.THREADING_LAYER_PRIORITY = ["workqueue", "omp", "tbb"]
    else:
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
    if not getattr(configure, "registered", False):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        configure.registered = True


def get_num_threads():
    """The number of threads fastnn's parallel kernels use: set_num_threads' count, in every thread."""
    import numba

    return numba.get_num_threads() if _wanted is None else _wanted


def set_num_threads(n):
    """
    Use ``n`` threads in fastnn's parallel kernels and in every BLAS library
    loaded in the process (NumPy's OpenBLAS and the one under Numba's
    ``np.dot``), so that neither oversubscribes the other.  It holds for
    every thread of the process, those started later included: Numba's own
    ``numba.set_num_threads`` is per thread, so fastnn applies the count in
    each thread before a parallel launch.

    Inputs:
    - n: Positive integer, at most the number of CPUs Numba was started with
    """
    import numba
    from threadpoolctl import threadpool_limits

    global _wanted
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads: expected an integer from 1 to {numba.config.NUMBA_NUM_THREADS}, got {n!r}")
    _wanted = n
    numba.set_num_threads(n)
    threadpool_limits(n, user_api="blas")


@contextlib.contextmanager
def limit_threads(n):
    """Context manager form of :func:`set_num_threads`; restores the counts on exit."""
    import numba
    from threadpoolctl import threadpool_limits

    global _wanted
    previous, previous_wanted = numba.get_num_threads(), _wanted
    with threadpool_limits(user_api="blas"):
        set_num_threads(n)
        try:
            yield
        finally:
            _wanted = previous_wanted
            numba.set_num_threads(previous)


_blas_libraries = None


@contextlib.contextmanager
def serial_blas():
    """
    Every loaded BLAS library at one thread for the duration, then back to
    its count: for kernels that call BLAS (Numba's ``np.dot``) from inside
    their own parallel region, one GEMM per thread, where BLAS threads of
    their own would oversubscribe the cores.  It sets the libraries' counts
    directly (a C call each, about a microsecond); threadpoolctl's
    ``threadpool_limits`` took 2 ms a call here, scanning the process's
    libraries every time.  The counts are process-wide, so another Python
    thread's BLAS calls meanwhile run single-threaded too.
    """
    global _blas_libraries
    if _blas_libraries is None:
        import scipy.linalg.cython_blas  # noqa: F401  (the BLAS under Numba's np.dot, loaded before the scan)
        from threadpoolctl import ThreadpoolController

        _blas_libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    previous = [lib.get_num_threads() for lib in _blas_libraries]
    for lib in _blas_libraries:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, count in zip(_blas_libraries, previous):
            lib.set_num_threads(count)


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
