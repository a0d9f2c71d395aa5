"""Dropout's random numbers, drawn as cs231n draws them.

The course's ``dropout_forward`` calls ``np.random.seed(seed)`` whenever
dropout_param has a 'seed' key (in either mode), then draws
``np.random.rand(*x.shape)``: NumPy's global generator, float64 uniforms,
whatever x's dtype.  fastnn draws the very same numbers the same way, so
that ``np.random.seed(231)`` at the top of a notebook fixes fastnn's masks
too, a seeded call reseeds the global generator that the course Solver's
batch sampling then uses, and float32 and float64 get the same mask.
The compiled kernels only compare and scale.
"""

import numpy as np


def reseed(dropout_param):
    """``np.random.seed(dropout_param['seed'])`` when the key is present, as the course does."""
    if "seed" in dropout_param:
        seed = dropout_param["seed"]
        try:
            np.random.seed(seed)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"dropout_param['seed']: expected None or an integer seed for np.random.seed "
                f"(0 to 2**32 - 1), got {seed!r}"
            ) from exc


def dropout_uniforms(shape):
    """``np.random.rand(*shape)``: float64 uniforms in [0, 1) from NumPy's global generator."""
    return np.random.random_sample(shape)
