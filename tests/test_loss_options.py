"""The per-row losses behind torch's loss options: cross_entropy_rows and multi_margin_rows.

Both backends agree with the NumPy oracle (fastnn.reference) to the
catalog's tolerance per dtype (1e-5 float32, 1e-12 float64, relative to
the largest magnitude), the float64 gradient of ``loss.sum()`` passes a
centred-difference check (1e-8 relative: the kernels work in float64
whatever the dtype, and both losses are smooth away from the hinge's kinks,
which the inputs keep 0.05 from), and bad arguments are named.
"""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from helpers import layer_backends
from fastnn.catalog import TOLERANCE

DTYPES = [np.float32, np.float64]


BACKENDS = layer_backends()


def _close(got, want, dtype):
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    assert np.abs(np.asarray(got, np.float64) - want).max(initial=0) <= TOLERANCE[np.dtype(dtype)] * scale


def _scores(rng, shape, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    return x


def _coefficients(rng, shape, dtype):
    a = rng.random(shape).astype(dtype)
    a[1] = 0  # an ignored row
    a[2, 1:] = 0  # a class index
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS, ids=[b[0] for b in BACKENDS])
def test_cross_entropy_rows_agrees_with_reference(backend, dtype):
    _, layers, to, back = backend
    rng = np.random.default_rng(0)
    x, a = _scores(rng, (7, 5), dtype), _coefficients(rng, (7, 5), dtype)
    loss, dx, logp = layers.cross_entropy_rows(to(x), to(a), log_probs=True)
    want = R.cross_entropy_rows(x, a, True)
    for got, expected in zip((back(loss), back(dx), back(logp)), want):
        _close(got, expected, dtype)
    assert back(dx).dtype == dtype and back(logp).dtype == dtype and back(loss).dtype == np.float64
    assert back(dx)[1].tolist() == [0.0] * 5  # a row with no weight passes no gradient
    assert layers.cross_entropy_rows(to(x), to(a))[2] is None


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS, ids=[b[0] for b in BACKENDS])
def test_multi_margin_rows_agrees_with_reference(backend, dtype, p):
    _, layers, to, back = backend
    rng = np.random.default_rng(1)
    x, y = _scores(rng, (8, 4), dtype), rng.integers(0, 4, 8)
    for y_weight in (None, rng.random(8)):
        loss, dx = layers.multi_margin_rows(to(x), to(y), p, 0.7, None if y_weight is None else to(y_weight))
        want = R.multi_margin_rows(x, y, p, 0.7, y_weight)
        _close(back(loss), want[0], dtype)
        _close(back(dx), want[1], dtype)
        assert back(dx).dtype == dtype


def _numerical(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def _relative(a, b):
    return np.abs(a - b).max() / max(1e-12, np.abs(a).max() + np.abs(b).max())


def test_cross_entropy_rows_gradient_float64():
    rng = np.random.default_rng(2)
    x, a = rng.standard_normal((5, 4)), _coefficients(rng, (5, 4), np.float64)
    dx = L.cross_entropy_rows(x, a)[1]
    assert _relative(dx, _numerical(lambda v: L.cross_entropy_rows(v, a)[0].sum(), x)) < 1e-8


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_rows_gradient_float64(p):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 6)
    x = rng.standard_normal((6, 4))
    margins = 0.7 - x[np.arange(6), y][:, None] + x
    x[np.abs(margins) < 0.05] += 0.1  # keep off the hinge's kinks (the target column moves them all; checked below)
    margins = 0.7 - x[np.arange(6), y][:, None] + x
    margins[np.arange(6), y] = 1
    assert np.abs(margins).min() >= 0.05
    w = rng.random(6)
    dx = L.multi_margin_rows(x, y, p, 0.7, w)[1]
    assert _relative(dx, _numerical(lambda v: L.multi_margin_rows(v, y, p, 0.7, w)[0].sum(), x)) < 1e-8


@pytest.mark.parametrize("backend", BACKENDS, ids=[b[0] for b in BACKENDS])
def test_bad_arguments_are_named(backend):
    _, layers, to, _ = backend
    x = to(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="^a: "):
        layers.cross_entropy_rows(x, to(np.zeros((3, 5))))
    with pytest.raises(TypeError, match="^a: "):
        layers.cross_entropy_rows(x, to(np.zeros((3, 4), np.float32)))
    with pytest.raises(ValueError, match="^x: "):
        layers.cross_entropy_rows(to(np.zeros((3, 0))), to(np.zeros((3, 0))))
    with pytest.raises(ValueError, match="^p: "):
        layers.multi_margin_rows(x, to(np.zeros(3, np.int64)), p=3)
    with pytest.raises(ValueError, match="^margin: "):
        layers.multi_margin_rows(x, to(np.zeros(3, np.int64)), margin=float("nan"))
    with pytest.raises(ValueError, match="^y: "):
        layers.multi_margin_rows(x, to(np.array([0, 4, 1])))
    with pytest.raises(ValueError, match="^y_weight: "):
        layers.multi_margin_rows(x, to(np.zeros(3, np.int64)), y_weight=to(np.ones(2)))
