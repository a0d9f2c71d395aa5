"""Thread control and the threading-layer choice."""

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
