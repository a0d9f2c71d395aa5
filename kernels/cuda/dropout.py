"""Dropout on the GPU: masks from Philox4x32-10, a counter-based generator.

Element k of a call takes word k % 4 of Philox4x32-10 applied to the
counter (k // 4, 0, 0, 0) under the call's 64-bit key, as the uniform
u = word / 2**32, and is kept where u < p; one thread makes the four
elements of a counter.  The NumPy twin of the stream, and the tests'
oracle, is :func:`fastnn.rng.philox_uniforms`; the key comes from NumPy's
global generator (:func:`fastnn.rng.philox_key`), so ``np.random.seed``
fixes GPU masks too, though they differ from NumPy's.

The 32-bit arithmetic is done in uint64 (a product of two 32-bit words,
masked): numba-cuda gives the multiply-high the same way, and the simulator
that CI runs evaluates it with NumPy scalars without overflow.  Kept values
are ``x * (1 / p)`` in float64 rounded to x's dtype, as on the CPU, so the
same mask gives the same bits.
"""

import numpy as np
from numba import cuda, float64, uint64

from fastnn.kernels.cuda.launch import BLOCK, blocks, empty, empty_like, kernel, per_dtype, stream

from fastnn.rng import PHILOX_KEY_STEPS, PHILOX_MULTIPLIERS, WORD_MASK

_M0, _M1 = np.uint64(PHILOX_MULTIPLIERS[0]), np.uint64(PHILOX_MULTIPLIERS[1])
_W0, _W1 = np.uint64(PHILOX_KEY_STEPS[0]), np.uint64(PHILOX_KEY_STEPS[1])
_MASK, _SHIFT = np.uint64(WORD_MASK), np.uint64(32)
_ULP = 2.0**-32


@cuda.jit(device=True)
def _philox(c0, c1, c2, c3, k0, k1):
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (p1 >> _SHIFT) ^ c1 ^ k0, p1 & _MASK, (p0 >> _SHIFT) ^ c3 ^ k1, p0 & _MASK
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


@per_dtype
def _kernels(nb):
    @cuda.jit(device=True)
    def keep(x, out, mask, k, word, p, scale):
        if k < x.size:
            kept = float64(word) * _ULP < p
            mask[k] = kept
            out[k] = nb(float64(x[k]) * (scale if kept else 0.0))

    @kernel
    def forward(x, out, mask, p, scale, k0, k1):
        zero = uint64(0)
        for q in range(cuda.grid(1), (x.size + 3) // 4, cuda.gridsize(1)):
            counter = uint64(q)
            w0, w1, w2, w3 = _philox(counter & _MASK, counter >> _SHIFT, zero, zero, k0, k1)
            keep(x, out, mask, 4 * q, w0, p, scale)
            keep(x, out, mask, 4 * q + 1, w1, p, scale)
            keep(x, out, mask, 4 * q + 2, w2, p, scale)
            keep(x, out, mask, 4 * q + 3, w3, p, scale)

    @kernel
    def backward(dout, mask, scale, dx):
        for k in range(cuda.grid(1), dout.size, cuda.gridsize(1)):
            dx[k] = nb(float64(dout[k]) * (scale if mask[k] else 0.0))

    return forward, backward


def dropout_forward(x, p, key):
    """
    ``out`` and the boolean ``mask`` (new device arrays of x's shape) of
    inverted dropout with keep probability p, the mask drawn under ``key``
    (two 32-bit words); x is C-contiguous.
    """
    out, mask = empty_like(x), empty(x.shape, np.bool_)
    if x.size:
        flat = (x.reshape(x.size), out.reshape(x.size), mask.reshape(x.size))
        launch = blocks(-(-x.size // 4))
        _kernels(x.dtype)[0][launch, BLOCK, stream()](*flat, p, 1.0 / p, np.uint64(key[0]), np.uint64(key[1]))
    return out, mask


def dropout_backward(dout, mask, p):
    """``dout * mask / p`` in float64, rounded to dout's dtype: a new device array."""
    dx = empty_like(dout)
    if dout.size:
        _kernels(dout.dtype)[1][blocks(dout.size), BLOCK, stream()](dout.reshape(dout.size), mask.reshape(mask.size), 1.0 / p, dx.reshape(dx.size))
    return dx
