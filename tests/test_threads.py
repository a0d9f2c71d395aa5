"""Thread control and the threading-layer choice."""

import os
import subprocess
import sys

import numba
import pytest

import fastnn.layers  # noqa: F401  (configures the threading layer)
from fastnn import threads


def test_limit_threads_sets_and_restores():
    before = threads.get_num_threads()
    with threads.limit_threads(1):
        assert threads.get_num_threads() == 1
        assert "numba 1 threads" in threads.describe()
    assert threads.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, numba.config.NUMBA_NUM_THREADS + 1])
def test_bad_thread_counts(bad):
    with pytest.raises(ValueError, match="threads"):
        threads.set_num_threads(bad)


def test_openmp_layer_with_short_spin_in_a_fresh_process():
    code = (
        "import numpy as np, fastnn.layers as L, numba, os;"
        "L.relu_forward(np.ones(1 << 20));"
        "print(numba.threading_layer(), os.environ['GOMP_SPINCOUNT'])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["omp", "1000"], result.stderr


def test_a_users_spin_count_is_kept():
    code = "import os; os.environ['GOMP_SPINCOUNT'] = '5'; import fastnn.layers; print(os.environ['GOMP_SPINCOUNT'])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "5", result.stderr


def test_serial_drivers_stay_serial_when_loaded_from_the_cache(tmp_path):
    # Numba keys cache entries by bytecode, not by parallel=: compiled from
    # one function, each driver loaded whichever machine code was cached first:
    # the serial one started OpenMP threads (which kills a forked child), or
    # the parallel one ran on one thread.
    calls = (
        "losses._softmax_{0}(x, y, np.empty_like(x), 0.125, 8, 2048)\n"
        "losses._svm_{0}(x, y, np.empty_like(x), 0.125, 8, 96)\n"
        "norm._layernorm_backward_{0}(x, x, np.ones(5), np.ones(8), np.empty_like(x), np.zeros((1, 5)), np.zeros((1, 5)), 8)\n"
        "optim._SGD[{1}](x.ravel().copy(), x.ravel(), 0.1, 16)\n"
    )
    setup = (
        "import numpy as np, numba\n"
        "from fastnn.kernels.cpu import losses, norm, optim\n"
        "x = np.random.default_rng(0).standard_normal((8, 5)); y = np.arange(8) % 5\n"
    )
    check = "try:\n    print(numba.threading_layer())\nexcept ValueError:\n    print('serial')\n"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    # The first process compiles and caches the parallel drivers; the second
    # compiles or loads the serial ones and runs only those.
    for code in (setup + calls.format("parallel", 1), setup + calls.format("serial", 0) + check):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "serial"
