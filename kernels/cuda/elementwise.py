"""Elementwise kernels, grid-stride over flat arrays: ReLU, layernorm's per-feature scale and shift, the SGD update."""

from numba import cuda

from fastnn.kernels.cuda.launch import BLOCK, blocks, per_dtype

@per_dtype
def _relu_kernels(nb):
    @cuda.jit
    def forward(x, out):
        zero = nb(0)
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            v = x[i]
            out[i] = v if not v <= zero else zero

    @cuda.jit
    def backward(dout, x, dx):
        zero = nb(0)
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            dx[i] = dout[i] if x[i] >= zero else zero * dout[i]

    return forward, backward


def relu_forward(x, out):
    """``out = max(x, 0)`` elementwise; x and out flat, same size."""
    _relu_kernels(x.dtype)[0][blocks(x.size), BLOCK](x, out)


def relu_backward(dout, x, dx):
    """``dx = dout * (x >= 0)`` elementwise; all flat, same size."""
    _relu_kernels(x.dtype)[1][blocks(x.size), BLOCK](dout, x, dx)


@per_dtype
def _column_kernels(nb):
    # Flat arrays of rows of d elements; gamma and beta hold one value per column.
    @cuda.jit
    def scale_shift(a, gamma, beta, out, d):
        for k in range(cuda.grid(1), a.size, cuda.gridsize(1)):
            j = k % d
            out[k] = gamma[j] * a[k] + beta[j]

    @cuda.jit
    def grad_products(dout, gamma, xhat, g, p, d):
        for k in range(cuda.grid(1), dout.size, cuda.gridsize(1)):
            v = dout[k]
            g[k] = v * gamma[k % d]
            p[k] = v * xhat[k]

    return scale_shift, grad_products


def scale_shift_columns(a, gamma, beta):
    """``gamma * a + beta`` for a (N, D) and gamma, beta (D,): a new device array."""
    out = cuda.device_array_like(a)
    if a.size:
        _column_kernels(a.dtype)[0][blocks(a.size), BLOCK](a.reshape(a.size), gamma, beta, out.reshape(a.size), a.shape[1])
    return out


def grad_products(dout, gamma, xhat):
    """``dout * gamma`` (gamma per column) and ``dout * xhat``, for dout and xhat (N, D): two new device arrays."""
    g, p = cuda.device_array_like(dout), cuda.device_array_like(dout)
    if dout.size:
        flat = (dout.reshape(dout.size), gamma, xhat.reshape(xhat.size), g.reshape(g.size), p.reshape(p.size), dout.shape[1])
        _column_kernels(dout.dtype)[1][blocks(dout.size), BLOCK](*flat)
    return g, p


@per_dtype
def _sgd_kernel(nb):
    @cuda.jit
    def sgd(w, dw, lr):
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            w[i] -= lr * dw[i]

    return sgd


def sgd_update(w, dw, lr):
    """``w -= lr * dw`` in place, for device arrays of one shape."""
    _sgd_kernel(w.dtype)[blocks(w.size), BLOCK](w.reshape(w.size), dw.reshape(dw.size), w.dtype.type(lr))
