"""Property tests: random shapes, dtypes and values, and invariants of the losses."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn.layers as L

from helpers import check_layer

dtypes = st.sampled_from([np.float32, np.float64])
values = st.floats(-100, 100, width=32)


@st.composite
def affine_inputs(draw):
    dtype = draw(dtypes)
    n, m = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    trailing = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    d = int(np.prod(trailing))
    x = draw(hnp.arrays(dtype, (n, *trailing), elements=values))
    w = draw(hnp.arrays(dtype, (d, m), elements=values))
    b = draw(hnp.arrays(dtype, m, elements=values))
    return dtype, [x, w, b]


@st.composite
def scores_and_labels(draw):
    dtype = draw(dtypes)
    n, c = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    x = draw(hnp.arrays(dtype, (n, c), elements=values))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    return dtype, x, y


@given(affine_inputs())
def test_affine_agrees_with_reference(case):
    dtype, inputs = case
    check_layer("affine", dtype, inputs=inputs)


@given(affine_inputs())
def test_affine_relu_agrees_with_reference(case):
    dtype, inputs = case
    check_layer("affine_relu", dtype, inputs=inputs)


@given(dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=4, max_side=6), elements=values)))
def test_relu_agrees_with_reference(x):
    check_layer("relu", x.dtype, inputs=[x])


@given(scores_and_labels())
@example((np.float64, np.array([[11.0, 0.0, 0.0, 0.0]]), np.array([0])))
def test_losses_agree_with_reference(case):
    dtype, x, y = case
    check_layer("softmax_loss", dtype, inputs=[x], params=[y])
    check_layer("svm_loss", dtype, inputs=[x], params=[y])


@given(scores_and_labels())
def test_softmax_invariants(case):
    dtype, x, y = case
    loss, dx = L.softmax_loss(x, y)
    assert loss >= 0
    # Each row of the gradient is (p - onehot) / N, which sums to zero.
    row_sums = dx.astype(np.float64).sum(axis=1) * len(y)
    np.testing.assert_allclose(row_sums, 0, atol=1e-5 if dtype == np.float32 else 1e-12)
    # Adding a constant to every score of a row changes nothing.
    shifted, _ = L.softmax_loss(x + dtype(7), y)
    assert abs(shifted - loss) <= (1e-4 if dtype == np.float32 else 1e-10) * max(1.0, loss)


@given(scores_and_labels())
def test_svm_invariants(case):
    dtype, x, y = case
    loss, dx = L.svm_loss(x, y)
    assert loss >= 0
    np.testing.assert_allclose(dx.astype(np.float64).sum(axis=1), 0, atol=1e-6)


@given(dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(max_dims=3, max_side=6), elements=values)))
def test_relu_is_idempotent_and_nonnegative(x):
    out, _ = L.relu_forward(x)
    assert np.all(out >= 0)
    np.testing.assert_array_equal(L.relu_forward(out)[0], out)
