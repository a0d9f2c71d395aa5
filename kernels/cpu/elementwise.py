"""ReLU and dropout, elementwise over flat arrays.

Every loop body lives in a serial ``*_span`` function that slices its range
first and loops from 0: indexing with ``range(start, stop)`` made Numba emit
a negative-index check per element that blocked vectorisation (ReLU ran 5x
slower).  Large inputs run the same span function over chunks inside a
``prange`` driver (:mod:`fastnn.kernels.cpu.dispatch` decides).

Dropout is compiled with ``error_model="numpy"``: Numba's default Python
error model checks every float division for zero, and that branch kept the
loops scalar; IEEE results are what these formulas want anyway.
"""

import numpy as np
from numba import njit, prange

from fastnn import config
from fastnn.kernels.cpu.dispatch import is_large
from fastnn.kernels.cpu.mt19937 import next_words, uniforms_from_words



@njit(cache=True)
def _relu_forward_span(x, out, start, stop):
    xs = x[start:stop]
    outs = out[start:stop]
    zero = x.dtype.type(0)
    for i in range(xs.size):
        v = xs[i]
        # Written as `not v <= 0` so that NaN propagates like np.maximum.
        outs[i] = v if not v <= zero else zero


@njit(cache=True)
def _relu_forward_serial(x, out):
    _relu_forward_span(x.reshape(x.size), out.reshape(out.size), 0, x.size)


@njit(cache=True, parallel=True)
def _relu_forward_chunked(x, out, chunk):
    xf = x.reshape(x.size)
    outf = out.reshape(out.size)
    n = xf.size
    for c in prange((n + chunk - 1) // chunk):
        _relu_forward_span(xf, outf, c * chunk, min(n, (c + 1) * chunk))


@njit(cache=True)
def _relu_backward_span(dout, x, dx, start, stop):
    ds = dout[start:stop]
    xs = x[start:stop]
    dxs = dx[start:stop]
    zero = x.dtype.type(0)
    for i in range(xs.size):
        dxs[i] = ds[i] * (xs[i] >= zero)


@njit(cache=True)
def _relu_backward_serial(dout, x, dx):
    _relu_backward_span(dout.reshape(dout.size), x.reshape(x.size), dx.reshape(dx.size), 0, x.size)


@njit(cache=True, parallel=True)
def _relu_backward_chunked(dout, x, dx, chunk):
    df = dout.reshape(dout.size)
    xf = x.reshape(x.size)
    dxf = dx.reshape(dx.size)
    n = xf.size
    for c in prange((n + chunk - 1) // chunk):
        _relu_backward_span(df, xf, dxf, c * chunk, min(n, (c + 1) * chunk))


def relu_forward(x, out):
    """
    Elementwise ``out = max(x, 0)``; NaN stays NaN.

    Parameters
    ----------
    x : ndarray, any shape, C-contiguous
        Input values.
    out : ndarray, same shape and dtype as ``x``, C-contiguous
        Written with the result; may be ``x`` itself.
    """
    if is_large(x):
        _relu_forward_chunked(x, out, config.CHUNK_ELEMENTS)
    else:
        _relu_forward_serial(x, out)


def relu_backward(dout, x, dx):
    """
    Elementwise ``dx = dout * (x >= 0)``.

    Parameters
    ----------
    dout, x : ndarray, same shape and dtype, C-contiguous
        Upstream gradient and the forward input.
    dx : ndarray, same shape and dtype, C-contiguous
        Written with the gradient; may be ``dout`` itself.
    """
    if is_large(x):
        _relu_backward_chunked(dout, x, dx, config.CHUNK_ELEMENTS)
    else:
        _relu_backward_serial(dout, x, dx)


# ------------------------------------------------------------ dropout


@njit(cache=True, error_model="numpy")
def dropout_forward_uniforms(uniforms, x, p, out, mask):
    """
    ``mask = uniforms < p``; ``out = x * (mask / p)``; all flat, one size.

    ``uniforms`` and ``p`` are float64 and the product is taken in float64,
    then rounded to x's dtype: exactly cs231n's ``x * ((u < p) / p)``
    followed by ``astype(x.dtype)``, in both dtypes.
    """
    t = x.dtype.type
    scale = 1.0 / p
    for i in range(x.size):
        keep = uniforms[i] < p
        mask[i] = keep
        out[i] = t(x[i] * (scale if keep else 0.0))


@njit(cache=True, error_model="numpy")
def dropout_forward(key, pos, x, p, out, mask, chunk):
    """
    :func:`dropout_forward_uniforms` with ``np.random.rand``'s next ``x.size``
    uniforms drawn here from the MT19937 state ``key`` (uint32, 624 words)
    at position ``pos``, ``chunk`` at a time in cache
    (:mod:`fastnn.kernels.cpu.mt19937`).  ``key`` is advanced in place; the
    new position is returned.
    """
    n = x.size
    words = np.empty(2 * chunk, np.uint32)
    old = np.empty_like(key)
    uniforms = np.empty(chunk)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        u = uniforms[: stop - start]
        pos = next_words(key, pos, words[: 2 * u.size], old)
        uniforms_from_words(words, u)
        dropout_forward_uniforms(u, x[start:stop], p, out[start:stop], mask[start:stop])
    return pos


@njit(cache=True, error_model="numpy")
def dropout_backward(dout, mask, p, dx):
    """``dx = dout * (mask / p)``, in float64 and rounded to dout's dtype; all flat, one size."""
    t = dout.dtype.type
    scale = 1.0 / p
    for i in range(dout.size):
        dx[i] = t(dout[i] * (scale if mask[i] else 0.0))
