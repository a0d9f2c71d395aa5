"""Numba kernels for the optimiser updates, in place on flat arrays.

Each update is one pass over the parameter and its state, split into chunks
of ``chunk`` elements.  Every rule is one driver compiled serial and
parallel (a ``prange`` over the chunks): elements are independent, so both
give the same bits, and a parameter of at least ``config.PARALLEL_MIN_ELEMENTS``
runs on every thread (the cs231n net's 3072 x 100 first layer: 307,200).
Scalars arrive in the parameter's dtype (the caller converts them), so
float32 stays float32.

Compiled with ``error_model="numpy"``: Numba's default Python error model
checks every float division for zero, and that branch kept the loops
scalar; IEEE results (inf, NaN) are what these formulas want anyway.
"""

import numpy as np
from numba import prange

from fastnn import config
from fastnn.kernels.cpu.dispatch import is_large, serial_and_parallel

# np.sqrt, not math.sqrt: on a float32 scalar math.sqrt returns float64 and the
# upcast kept the loops scalar (Adam ran 0.71x of NumPy in float32).


def _sgd(w, dw, lr, chunk):
    n = w.size
    for c in prange((n + chunk - 1) // chunk):
        span = slice(c * chunk, min(n, (c + 1) * chunk))
        ws, ds = w[span], dw[span]
        for i in range(ws.size):
            ws[i] -= lr * ds[i]


def _sgd_momentum(w, dw, velocity, lr, momentum, chunk):
    n = w.size
    for c in prange((n + chunk - 1) // chunk):
        span = slice(c * chunk, min(n, (c + 1) * chunk))
        ws, ds, vs = w[span], dw[span], velocity[span]
        for i in range(ws.size):
            v = momentum * vs[i] - lr * ds[i]
            vs[i] = v
            ws[i] += v


def _rmsprop(w, dw, cache, lr, decay_rate, epsilon, chunk):
    one = w.dtype.type(1)
    n = w.size
    for c in prange((n + chunk - 1) // chunk):
        span = slice(c * chunk, min(n, (c + 1) * chunk))
        ws, ds, cs = w[span], dw[span], cache[span]
        for i in range(ws.size):
            g = ds[i]
            v = decay_rate * cs[i] + (one - decay_rate) * g * g
            cs[i] = v
            ws[i] -= lr * g / (np.sqrt(v) + epsilon)


def _adam(w, dw, m, v, lr, beta1, beta2, epsilon, correction1, correction2, chunk):
    one = w.dtype.type(1)
    inv1 = one / correction1
    inv2 = one / correction2
    n = w.size
    for c in prange((n + chunk - 1) // chunk):
        span = slice(c * chunk, min(n, (c + 1) * chunk))
        ws, ds, ms, vs = w[span], dw[span], m[span], v[span]
        for i in range(ws.size):
            g = ds[i]
            mi = beta1 * ms[i] + (one - beta1) * g
            vi = beta2 * vs[i] + (one - beta2) * g * g
            ms[i] = mi
            vs[i] = vi
            ws[i] -= lr * (mi * inv1) / (np.sqrt(vi * inv2) + epsilon)


_SGD, _SGD_MOMENTUM, _RMSPROP, _ADAM = (serial_and_parallel(d, error_model="numpy") for d in (_sgd, _sgd_momentum, _rmsprop, _adam))


def _run(drivers, w, *args):
    drivers[is_large(w)](w, *args, config.CHUNK_ELEMENTS)


def sgd(w, dw, lr):
    """``w -= lr * dw``."""
    _run(_SGD, w, dw, lr)


def sgd_momentum(w, dw, velocity, lr, momentum):
    """``v = momentum * v - lr * dw; w += v``."""
    _run(_SGD_MOMENTUM, w, dw, velocity, lr, momentum)


def rmsprop(w, dw, cache, lr, decay_rate, epsilon):
    """``cache = d * cache + (1 - d) * dw**2; w -= lr * dw / (sqrt(cache) + eps)``."""
    _run(_RMSPROP, w, dw, cache, lr, decay_rate, epsilon)


def adam(w, dw, m, v, lr, beta1, beta2, epsilon, correction1, correction2):
    """Adam with bias correction; ``correction_k = 1 - beta_k ** t`` for the current t."""
    _run(_ADAM, w, dw, m, v, lr, beta1, beta2, epsilon, correction1, correction2)
