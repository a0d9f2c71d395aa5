"""Numba kernels for the optimiser updates, in place on flat arrays.

Each update is one pass over the parameter and its state.  Scalars arrive
in the parameter's dtype (the caller converts them), so float32 stays
float32.

Compiled with ``error_model="numpy"``: Numba's default Python error model
checks every float division for zero, and that branch kept the loops
scalar; IEEE results (inf, NaN) are what these formulas want anyway.
"""

import numpy as np
from numba import njit

# np.sqrt, not math.sqrt: on a float32 scalar math.sqrt returns float64 and the
# upcast kept the loops scalar (Adam ran 0.71x of NumPy in float32).


@njit(cache=True, error_model="numpy")
def sgd(w, dw, lr):
    """``w -= lr * dw``."""
    for i in range(w.size):
        w[i] -= lr * dw[i]


@njit(cache=True, error_model="numpy")
def sgd_momentum(w, dw, velocity, lr, momentum):
    """``v = momentum * v - lr * dw; w += v``."""
    for i in range(w.size):
        v = momentum * velocity[i] - lr * dw[i]
        velocity[i] = v
        w[i] += v


@njit(cache=True, error_model="numpy")
def rmsprop(w, dw, cache, lr, decay_rate, epsilon):
    """``cache = d * cache + (1 - d) * dw**2; w -= lr * dw / (sqrt(cache) + eps)``."""
    one = w.dtype.type(1)
    for i in range(w.size):
        g = dw[i]
        c = decay_rate * cache[i] + (one - decay_rate) * g * g
        cache[i] = c
        w[i] -= lr * g / (np.sqrt(c) + epsilon)


@njit(cache=True, error_model="numpy")
def adam(w, dw, m, v, lr, beta1, beta2, epsilon, correction1, correction2):
    """Adam with bias correction; ``correction_k = 1 - beta_k ** t`` for the current t."""
    one = w.dtype.type(1)
    inv1 = one / correction1
    inv2 = one / correction2
    for i in range(w.size):
        g = dw[i]
        mi = beta1 * m[i] + (one - beta1) * g
        vi = beta2 * v[i] + (one - beta2) * g * g
        m[i] = mi
        v[i] = vi
        w[i] -= lr * (mi * inv1) / (np.sqrt(vi * inv2) + epsilon)
