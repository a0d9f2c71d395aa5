"""One helper for every layer of the catalog: shape, dtype, forward and
backward against the NumPy oracle, on any backend, so each agreement test
is one line.

Tolerance: the largest absolute difference divided by the largest magnitude
of the reference result (a max-norm relative error), bounded per dtype by
the catalog entry (fastnn.catalog.TOLERANCE says what was measured).

A loss gradient is compared at a scale of at least 1/N, the size of its
operands: dx[i, y_i] = (p - 1) / N cancels when p is near 1 (hypothesis found
logits [11, 0, 0, 0]), and both sides then carry rounding of order eps / N on
a result far smaller than 1/N.
"""

import numpy as np

import fastnn.layers as L
import fastnn.reference as R
from fastnn import catalog

TOLERANCE = catalog.TOLERANCE


def assert_close(actual, expected, dtype, what="", scale_floor=0.0, tolerance=TOLERANCE):
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
    assert error <= tolerance[dtype], f"{what}: max-norm relative error {error:.2e} > {tolerance[dtype]:.0e}"


def layer_backends():
    """(name, layer module, to its arrays, back to NumPy) for the CPU and, where fastnn.cuda imports (a GPU or the simulator), the GPU."""
    backends = [("cpu", L, lambda a: a, lambda a: a)]
    try:
        import fastnn.cuda as G
    except ImportError:
        return backends
    return backends + [("cuda", G, G.to_device, G.to_host)]


def random_array(rng, shape, dtype, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


class Backend:
    """Where a check runs: a layer module, and how arrays go to it and come back."""

    def __init__(self, layers, put=lambda a: a, get=lambda a: a):
        self.layers, self.put, self.get = layers, put, get
        self.label = layers.__name__

    def put_params(self, params):
        """Label arrays go to the device too; param dicts and names stay as they are."""
        return [self.put(p) if isinstance(p, np.ndarray) else p for p in params]


CPU = Backend(L)


def check_layer(name, dtype, backend=CPU, size=None, inputs=None, params=None, seed=0):
    """
    Compare the catalog layer ``name`` on ``backend`` with the reference (and,
    on another backend, with the CPU layers too), forward and backward.

    Inputs come from the catalog entry at ``size``, or are given: ``inputs``
    (the differentiated arrays, passed to the forward as the same objects
    and checked to be left unmodified) and ``params`` (labels, param dicts,
    copied for every call).  Every gradient the backward returns is
    compared, and their number must be the reference's and the catalog's.
    Param dicts the forward updates (running averages) must end up as the
    reference's.
    """
    entry = catalog.get(name)
    rng = np.random.default_rng(seed)
    if inputs is None:
        inputs, params = entry.make_inputs(rng, size, dtype)
    params = tuple(params or ())
    before = [np.array(a, copy=True) for a in inputs]
    layers, get, label = backend.layers, backend.get, backend.label
    own_params, ref_params = catalog.copy_params(params), catalog.copy_params(params)
    out, cache = getattr(layers, entry.forward)(*[backend.put(a) for a in inputs], *backend.put_params(own_params))
    ref_out, ref_cache = getattr(R, entry.forward)(*[np.asarray(a, dtype) for a in inputs], *ref_params)
    if entry.is_loss:
        _compare_loss(entry, out, ref_out, inputs, params, dtype, backend)
        grads, ref_grads, floor = (cache,), (ref_cache,), 1.0 / len(ref_cache)
    else:
        assert_close(get(out), ref_out, dtype, f"{label} {entry.forward} out", tolerance=entry.tolerance)
        if backend is not CPU:
            cpu_out = getattr(L, entry.forward)(*inputs, *catalog.copy_params(params))[0]
            assert_close(get(out), cpu_out, dtype, f"{label} vs cpu {entry.forward} out", tolerance=entry.tolerance)
        dout = random_array(rng, ref_out.shape, dtype)
        grads = getattr(layers, entry.backward)(backend.put(dout), cache)
        ref_grads = getattr(R, entry.backward)(dout, ref_cache)
        grads, ref_grads = (grads, ref_grads) if isinstance(grads, tuple) else ((grads,), (ref_grads,))
        floor = 0.0
    assert len(grads) == len(ref_grads) == len(entry.grads), (
        f"{label} {name}: {len(grads)} gradients, the reference has {len(ref_grads)}, the catalog names {entry.grads}"
    )
    for grad_name, grad, ref_grad in zip(entry.grads, grads, ref_grads):
        # A gradient that is exactly zero in exact arithmetic is rounding on
        # both sides: compared at the O(1) scale of the others.
        grad_floor = 1.0 if grad_name in entry.zero_grads else floor
        assert_close(get(grad), ref_grad, dtype, f"{label} {name} {grad_name}", grad_floor, entry.tolerance)
    for own, ref in zip(own_params, ref_params):
        if isinstance(own, dict):
            for key in ("running_mean", "running_var"):
                if key in ref:
                    value = own[key] if isinstance(own[key], np.ndarray) else get(own[key])
                    assert_close(value, ref[key], dtype, f"{label} {name} {key}", tolerance=entry.tolerance)
    for original, after in zip(before, inputs):
        np.testing.assert_array_equal(original, after, err_msg=f"{name} modified its input")


def _compare_loss(entry, loss, ref_loss, inputs, params, dtype, backend):
    """The loss is an np.float64 within tolerance of the reference's (and the CPU's, on another backend)."""
    assert type(loss) is np.float64, f"{entry.name}: loss is {type(loss).__name__}, expected np.float64"
    expected = [ref_loss] if backend is CPU else [ref_loss, getattr(L, entry.forward)(*inputs, *params)[0]]
    tolerance = entry.tolerance[np.dtype(dtype)]
    for value in expected:
        assert abs(loss - value) <= tolerance * max(1.0, abs(value)), f"{backend.label} {entry.name}: loss {loss} vs {value}"
