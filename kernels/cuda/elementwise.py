"""Elementwise kernels, grid-stride over flat arrays: ReLU and the SGD update."""

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
def _sgd_kernel(nb):
    @cuda.jit
    def sgd(w, dw, lr):
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            w[i] -= lr * dw[i]

    return sgd


def sgd_update(w, dw, lr):
    """``w -= lr * dw`` in place, for device arrays of one shape."""
    _sgd_kernel(w.dtype)[blocks(w.size), BLOCK](w.reshape(w.size), dw.reshape(dw.size), w.dtype.type(lr))
