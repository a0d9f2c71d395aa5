"""Seeded inputs shared by the benchmark classes."""

import numpy as np

SEED = 1234


def rng():
    return np.random.default_rng(SEED)


def scores(n, c, dtype):
    r = rng()
    return r.standard_normal((n, c)).astype(dtype), r.integers(c, size=n)


def affine_inputs(n, d, m, dtype):
    r = rng()
    return tuple(r.standard_normal(shape).astype(dtype) for shape in ((n, d), (d, m), (m,), (n, m)))
