"""Start-up: JIT compile time of a cold process, and first result with a warm cache."""

import os
import subprocess
import sys
import tempfile
import time

FIRST_CALLS = (
    "import numpy as np, fastnn.layers as L;"
    "x = np.ones((8, 4)); w = np.ones((4, 3)); b = np.ones(3); y = np.zeros(8, int);"
    "out, c = L.affine_relu_forward(x, w, b); L.affine_relu_backward(out, c);"
    "o, c = L.affine_forward(x, w, b); L.affine_backward(o, c);"
    "L.softmax_loss(o, y); L.svm_loss(o, y); L.relu_backward(*L.relu_forward(x))"
)


def _seconds_to_first_results(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FIRST_CALLS], check=True, env=env)
    return time.perf_counter() - start


class Startup:
    timeout = 600

    def setup(self):
        self.cache = tempfile.mkdtemp(prefix="fastnn-numba-cache-")

    def track_cold_compile_seconds(self):
        """A process with an empty Numba cache: import and compile every layer, float64."""
        return _seconds_to_first_results(tempfile.mkdtemp(prefix="fastnn-cold-"))

    track_cold_compile_seconds.unit = "seconds"

    def track_warm_cache_seconds(self):
        """A second process: import fastnn and load every layer from the cache."""
        _seconds_to_first_results(self.cache)
        return _seconds_to_first_results(self.cache)

    track_warm_cache_seconds.unit = "seconds"


TRAINER_FIRST_CALL = (
    "import numpy as np, fastnn.fused as T;"
    "p = {'W1': np.ones((4, 3)), 'b1': np.ones(3), 'W2': np.ones((3, 2)), 'b2': np.ones(2)};"
    "T.sgd_two_layer(p, np.ones((5, 4)), np.zeros(5, int), np.zeros((2, 3), int), 0.1, np.ones((3, 4)), np.zeros(3, int))"
)


class TrainerStartup:
    timeout = 600

    def track_cold_compile_seconds(self):
        """A process with an empty Numba cache: compile the fused trainer, float64."""
        env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="fastnn-cold-"))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", TRAINER_FIRST_CALL], check=True, env=env)
        return time.perf_counter() - start

    track_cold_compile_seconds.unit = "seconds"
