"""One helper per kind of layer: shape, dtype, forward and backward against
the NumPy oracle, so each agreement test is one line.

Tolerance: the largest absolute difference divided by the largest magnitude
of the reference result (a max-norm relative error).  Measured worst cases
were ~6e-7 in float32 (softmax at C=1000, db at N=512) and ~2e-15 in
float64; the bounds below leave a factor of ten or more.

A loss gradient is compared at a scale of at least 1/N, the size of its
operands: dx[i, y_i] = (p - 1) / N cancels when p is near 1 (hypothesis found
logits [11, 0, 0, 0]), and both sides then carry rounding of order eps / N on
a result far smaller than 1/N.
"""

import numpy as np

import fastnn.layers as L
import fastnn.reference as R

TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, expected, dtype, what="", scale_floor=0.0):
    dtype = np.dtype(dtype)
    assert isinstance(actual, np.ndarray), f"{what}: expected an ndarray, got {type(actual).__name__}"
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN positions")
    finite = np.isfinite(expected)
    a = actual[finite].astype(np.float64)
    e = expected[finite].astype(np.float64)
    if e.size == 0:
        return
    scale = max(float(np.max(np.abs(e))), scale_floor, np.finfo(dtype).tiny)
    error = float(np.max(np.abs(a - e))) / scale
    assert error <= TOLERANCE[dtype], f"{what}: max-norm relative error {error:.2e} > {TOLERANCE[dtype]:.0e}"


def random_array(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


class Backend:
    """Where a check runs: a layer module, and how arrays go to it and come back."""

    def __init__(self, layers, put=lambda a: a, get=lambda a: a):
        self.layers, self.put, self.get = layers, put, get
        self.label = layers.__name__


CPU = Backend(L)


def check_layer(name, inputs, dtype, seed=0, backend=CPU):
    """Compare ``{name}_forward`` and ``{name}_backward`` with the reference
    (and, on another backend, with the CPU layers too).

    ``inputs`` are passed to the forwards unchanged (the same objects), and
    are checked to be left unmodified.  Every gradient the backward returns
    is compared: their number must be the reference's.
    """
    rng = np.random.default_rng(seed)
    before = [np.array(a, copy=True) for a in inputs]
    layers, put, get, label = backend.layers, backend.put, backend.get, backend.label
    out, cache = getattr(layers, f"{name}_forward")(*[put(a) for a in inputs])
    ref_out, ref_cache = getattr(R, f"{name}_forward")(*[np.asarray(a, dtype) for a in inputs])
    assert_close(get(out), ref_out, dtype, f"{label} {name}_forward out")
    if backend is not CPU:
        assert_close(get(out), getattr(L, f"{name}_forward")(*inputs)[0], dtype, f"{label} vs cpu {name}_forward out")
    dout = random_array(rng, ref_out.shape, dtype)
    grads = getattr(layers, f"{name}_backward")(put(dout), cache)
    ref_grads = getattr(R, f"{name}_backward")(dout, ref_cache)
    if not isinstance(grads, tuple):
        grads, ref_grads = (grads,), (ref_grads,)
    assert len(grads) == len(ref_grads), f"{label} {name}_backward: {len(grads)} gradients, the reference has {len(ref_grads)}"
    for index, (grad, ref_grad) in enumerate(zip(grads, ref_grads)):
        assert_close(get(grad), ref_grad, dtype, f"{label} {name}_backward gradient {index}")
    for original, after in zip(before, inputs):
        np.testing.assert_array_equal(original, after, err_msg=f"{name} modified its input")


def check_loss(name, x, y, dtype, backend=CPU):
    """Compare a loss and its gradient with the reference (and, on another backend, with the CPU's loss)."""
    loss, dx = getattr(backend.layers, name)(backend.put(x), backend.put(y))
    ref_loss, ref_dx = getattr(R, name)(np.asarray(x, dtype), np.asarray(y))
    assert type(loss) is np.float64, f"{name}: loss is {type(loss).__name__}, expected np.float64"
    expected = [ref_loss] if backend is CPU else [ref_loss, getattr(L, name)(x, y)[0]]
    for value in expected:
        assert abs(loss - value) <= TOLERANCE[np.dtype(dtype)] * max(1.0, abs(value)), (
            f"{backend.label} {name}: loss {loss} vs {value}"
        )
    assert_close(backend.get(dx), ref_dx, dtype, f"{backend.label} {name} dx", scale_floor=1.0 / len(ref_dx))
