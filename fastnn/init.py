"""Weight initialisation, each seeded.

Every function returns an array of shape (fan_in, fan_out) for a weight
matrix ``w`` used as ``x @ w``:

| name | distribution |
|---|---|
| he | normal, std sqrt(2 / fan_in) (Kaiming; for ReLU layers) |
| xavier | normal, std sqrt(2 / (fan_in + fan_out)) (Glorot) |
| normal | normal, std weight_scale |
| uniform | uniform in [0, 1), the seed notebook's np.random.random |
"""

import numpy as np

__all__ = ["he", "xavier", "normal", "uniform", "INITS", "get_init"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def he(fan_in, fan_out, seed=None, dtype=np.float64, weight_scale=None):
    """Kaiming normal: std sqrt(2 / fan_in)."""
    return (_rng(seed).standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)


def xavier(fan_in, fan_out, seed=None, dtype=np.float64, weight_scale=None):
    """Glorot normal: std sqrt(2 / (fan_in + fan_out))."""
    return (_rng(seed).standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def normal(fan_in, fan_out, seed=None, dtype=np.float64, weight_scale=1e-2):
    """Normal with a fixed standard deviation, weight_scale."""
    return (_rng(seed).standard_normal((fan_in, fan_out)) * weight_scale).astype(dtype)


def uniform(fan_in, fan_out, seed=None, dtype=np.float64, weight_scale=None):
    """The seed notebook's initialisation: uniform in [0, 1)."""
    return _rng(seed).random((fan_in, fan_out)).astype(dtype)


INITS = {"he": he, "xavier": xavier, "normal": normal, "uniform": uniform}


def get_init(name):
    """An initialiser by name: he, xavier, normal or uniform."""
    if name not in INITS:
        raise ValueError(f"init: expected one of {sorted(INITS)}, got {name!r}")
    return INITS[name]
