"""Random draws shared by the compiled layers and the reference.

Dropout's mask is ``uniform < p``; both implementations take their uniform
numbers from here, so a ``seed`` in ``dropout_param`` gives the very same
mask in :mod:`fastnn.layers` and :mod:`fastnn.reference`.
"""

import numpy as np

_unseeded = np.random.default_rng()


def dropout_uniforms(dropout_param, shape, dtype):
    """Uniform numbers in [0, 1) of ``shape`` and ``dtype``; seeded when dropout_param has a seed."""
    seed = dropout_param.get("seed")
    rng = _unseeded if seed is None else np.random.default_rng(seed)
    return rng.random(shape, dtype=dtype)
