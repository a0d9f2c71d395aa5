"""The fused compiled trainer against the seed's loop over the NumPy reference."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastnn.reference as R
from fastnn import threads
from fastnn.digits.data import digits_split
from fastnn.digits.seed import engines, init_two_layer
from fastnn.fused import sgd_two_layer

STEPS = 20


def _reference_run(params, split, batches, lr, eval_every):
    """The seed's loop over the NumPy reference, one step at a time.

    With one BLAS thread, as the fused trainer runs its GEMMs: OpenBLAS's
    two-thread float32 GEMM splits its sums otherwise, and run alone (with
    no earlier test leaving BLAS at one thread) the float32 train loss of
    step 20 then differed by 1.02e-5 relative, over the bound below.
    """
    with threadpool_limits(1, user_api="blas"):
        return _reference_steps({k: v.copy() for k, v in params.items()}, split, batches, lr, eval_every)


def _reference_steps(params, split, batches, lr, eval_every):
    steps = engines()["reference"]
    train, test = [], []
    for i in range(len(batches)):
        train_loss, test_loss = steps(params, split, batches[i : i + 1], lr, i, eval_every)
        train.append(train_loss)
        test.append(test_loss if i % eval_every == 0 else np.nan)
    return params, np.array(train), np.array(test)


def _setup(dtype, seed=0):
    split = digits_split(seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    params = init_two_layer(rng, 64, 100, 10, dtype)
    batches = rng.integers(0, len(split.y_train), (STEPS, 100))
    return split, params, batches


# float32: the loss is accumulated in float64 in both, but the products are
# rounded in float32 in a different order.
TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eval_every", [1, 3])
def test_matches_the_reference_loop(dtype, eval_every):
    split, params, batches = _setup(dtype)
    lr = dtype(1e-4)
    ref_params, ref_train, ref_test = _reference_run(params, split, batches, lr, eval_every)
    history = sgd_two_layer(params, split.X_train, split.y_train, batches, lr, split.X_test, split.y_test, eval_every)
    np.testing.assert_allclose(history.train_loss, ref_train, rtol=TOL[dtype])
    np.testing.assert_array_equal(np.isnan(history.test_loss), np.isnan(ref_test))
    np.testing.assert_allclose(history.test_loss, ref_test, rtol=TOL[dtype])
    for name in params:
        assert params[name].dtype == dtype
        scale = np.abs(ref_params[name]).max()
        assert np.abs(params[name] - ref_params[name]).max() <= TOL[dtype] * scale, name
    final = R.affine_forward(R.affine_relu_forward(split.X_test, params["W1"], params["b1"])[0], params["W2"], params["b2"])[0]
    assert history.test_accuracy[0] >= 0 and np.isfinite(history.test_accuracy[-1] if eval_every == 1 else 0)
    if eval_every == 1:
        assert history.test_accuracy[-1] == np.mean(final.argmax(1) == split.y_test)


def test_one_thread_gives_the_same_result():
    split, params, batches = _setup(np.float64, seed=1)
    a = {k: v.copy() for k, v in params.items()}
    b = {k: v.copy() for k, v in params.items()}
    first = sgd_two_layer(a, split.X_train, split.y_train, batches, 1e-4, split.X_test, split.y_test)
    with threads.limit_threads(1):
        second = sgd_two_layer(b, split.X_train, split.y_train, batches, 1e-4, split.X_test, split.y_test)
    np.testing.assert_array_equal(first.train_loss, second.train_loss)
    np.testing.assert_array_equal(first.test_loss, second.test_loss)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_flush_subnormals_changes_nothing_without_subnormals():
    split, params, batches = _setup(np.float32, seed=2)
    a = {k: v.copy() for k, v in params.items()}
    b = {k: v.copy() for k, v in params.items()}
    sgd_two_layer(a, split.X_train, split.y_train, batches, 1e-4)
    sgd_two_layer(b, split.X_train, split.y_train, batches, 1e-4, flush_subnormals=True)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-6)


def test_without_a_test_set():
    split, params, batches = _setup(np.float64)
    history = sgd_two_layer(params, split.X_train, split.y_train, batches, 1e-4)
    assert np.all(np.isnan(history.test_loss)) and np.all(np.isfinite(history.train_loss))


def _bad(**change):
    split, params, batches = _setup(np.float64)
    args = dict(params=params, X=split.X_train, y=split.y_train, batches=batches, lr=1e-4)
    args.update(change)
    return args


@pytest.mark.parametrize(
    "change, error, words",
    [
        (dict(params={"W1": np.ones((64, 5))}), TypeError, ["params", "W1", "b1"]),
        (dict(batches=np.full((2, 3), 5000)), ValueError, ["batches", "[0, 1257)", "5000"]),
        (dict(batches=np.zeros((2, 3)) + 0.5), TypeError, ["batches", "integer", "float64"]),
        (dict(batches=np.zeros(3, int)), ValueError, ["batches", "(S, B)", "(3,)"]),
        (dict(lr=0), ValueError, ["lr", "positive", "0"]),
        (dict(X=np.ones((1257, 63))), ValueError, ["X", "(1257, 64)", "(1257, 63)"]),
        (dict(y=np.zeros(1257, float)), TypeError, ["y", "integer"]),
        (dict(y=np.full(1257, 10)), ValueError, ["y", "[0, 10)"]),
    ],
)
def test_bad_arguments(change, error, words):
    with pytest.raises(error) as info:
        sgd_two_layer(**_bad(**change))
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_params_must_match_in_dtype():
    split, params, batches = _setup(np.float64)
    params["b2"] = params["b2"].astype(np.float32)
    with pytest.raises(TypeError, match="b2"):
        sgd_two_layer(params, split.X_train, split.y_train, batches, 1e-4)
