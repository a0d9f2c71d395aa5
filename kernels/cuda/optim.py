"""The optimiser updates on the GPU, grid-stride over flat arrays.

Each kernel reads w, dw and the state and writes the new w and state into
output arrays, which may be the inputs themselves (an in-place update): an
element is read before it is written, by the same thread.  The arithmetic
is the CPU kernels' (kernels/cpu/optim.py), in the parameter's dtype, with
the scalars converted to it by the caller.
"""

import math

from fastnn.kernels.cuda.launch import BLOCK, blocks, kernel, per_dtype, stream
from numba import cuda


@per_dtype
def _kernels(nb):
    @kernel
    def sgd(w, dw, lr, w_out):
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            w_out[i] = w[i] - lr * dw[i]

    @kernel
    def sgd_momentum(w, dw, velocity, lr, momentum, w_out, v_out):
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            v = momentum * velocity[i] - lr * dw[i]
            v_out[i] = v
            w_out[i] = w[i] + v

    @kernel
    def rmsprop(w, dw, cache, lr, decay_rate, epsilon, w_out, c_out):
        one = nb(1)
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            g = dw[i]
            c = decay_rate * cache[i] + (one - decay_rate) * g * g
            c_out[i] = c
            # The float64 root of a float32 value, rounded once, is its
            # correctly rounded float32 root: np.sqrt's, as on the CPU.
            w_out[i] = w[i] - lr * g / (nb(math.sqrt(c)) + epsilon)

    @kernel
    def adam(w, dw, m, v, lr, beta1, beta2, epsilon, correction1, correction2, w_out, m_out, v_out):
        one = nb(1)
        inv1 = one / correction1
        inv2 = one / correction2
        for i in range(cuda.grid(1), w.size, cuda.gridsize(1)):
            g = dw[i]
            mi = beta1 * m[i] + (one - beta1) * g
            vi = beta2 * v[i] + (one - beta2) * g * g
            m_out[i] = mi
            v_out[i] = vi
            w_out[i] = w[i] - lr * (mi * inv1) / (nb(math.sqrt(vi * inv2)) + epsilon)

    return {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


def update(rule, arrays, scalars, outputs):
    """
    Launch ``rule``'s kernel on flat device arrays of one size and dtype:
    ``arrays`` (w, dw, then the state in the rule's order), ``scalars`` (in
    the dtype, in the rule's order), ``outputs`` (new w, then new state).
    """
    w = arrays[0]
    if w.size:
        _kernels(w.dtype)[rule][blocks(w.size), BLOCK, stream()](*arrays, *scalars, *outputs)
