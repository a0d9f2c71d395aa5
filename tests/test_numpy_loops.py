"""NumPy's float64 exp and log loops called from compiled code give the
ufuncs' bits, and the float64 softmax gives the same without them."""

import numpy as np
import pytest

import fastnn.reference as R
from fastnn.kernels.cpu import losses, numpy_loops

LOOPS = numpy_loops.float64_exp_log()


def _values(rng):
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, 709.78, 709.79, -745.2, -745.1, 1e300]
    return np.concatenate([special, rng.standard_normal(5000) * 300, rng.uniform(-1, 1, 3001)])


def test_the_loops_are_found_here():
    assert LOOPS is not None  # CPython with NumPy's documented ufunc layout


@pytest.mark.parametrize("which", ["exp", "log"])
def test_loops_equal_the_ufuncs_on_every_run(which):
    values = _values(np.random.default_rng(0))
    if which == "log":
        values = np.abs(values)
    function, data = (LOOPS[0], LOOPS[1]) if which == "exp" else (LOOPS[2], LOOPS[3])
    ufunc = getattr(np, which)
    with np.errstate(all="ignore"):
        expected = ufunc(values)
    got = np.full_like(values, 7.0)
    edges = [0, 1, 3, 11, 16, 17, 1000, 4099, values.size]  # odd starts and lengths
    for start, stop in zip(edges, edges[1:]):
        numpy_loops.apply(function, data, values, got, start, stop)
    np.testing.assert_array_equal(got, expected)
    in_place = values.copy()
    numpy_loops.apply(function, data, in_place, in_place, 0, in_place.size)
    np.testing.assert_array_equal(in_place, expected)


def test_loop_refuses_what_it_cannot_read():
    assert numpy_loops.loop(np.exp, "x->x") is None
    assert numpy_loops.loop(len, "d->d") is None
    assert numpy_loops.loop(np.add, "dd->d") is not None


@pytest.mark.parametrize("shape", [(100, 10), (7, 300), (600, 37)])
def test_softmax_without_the_loops_gives_the_same_bits(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 4
    y = rng.integers(shape[1], size=shape[0])
    block = 512  # several row blocks
    with_loops = losses._softmax_loss_numpy_order(x, y, block, LOOPS)
    with_ufuncs = losses._softmax_loss_numpy_order(x, y, block, None)
    reference = R.softmax_loss(x, y)
    assert with_loops[0] == with_ufuncs[0] == reference[0]
    np.testing.assert_array_equal(with_loops[1], reference[1])
    np.testing.assert_array_equal(with_ufuncs[1], reference[1])
