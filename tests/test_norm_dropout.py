"""Dropout, batch normalisation and layer normalisation: what the catalog's agreement tests do not cover (statistics, modes, errors)."""

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.reference as R
from fastnn.gradient_check import rel_error

from helpers import random_array

DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_statistics(p):
    x = np.ones((500, 500))
    out, _ = L.dropout_forward(x, {"p": p, "mode": "train", "seed": 0})
    kept = np.mean(out != 0)
    assert abs(kept - p) < 0.005
    assert abs(out.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation
    np.testing.assert_allclose(out[out != 0], 1 / p)


# Draws that cross the 624-word twist, a chunk of the kernel (config.DROPOUT_CHUNK),
# and start at odd word positions (a randint draws one word).
_DRAWS = [(0, 0, 0, (1,)), (1, 3, 0, (312,)), (2, 1, 0, (313,)), (3, 0, 1, (7,)), (4, 623, 1, (2, 3)),
          (5, 5, 0, (100, 1003)), (6, 0, 1, (4096, 3))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed, before, words, shape", _DRAWS)
def test_compiled_generator_is_numpys(seed, before, words, shape, dtype):
    # fastnn draws dropout's uniforms from the global generator's state in
    # compiled code: the mask and the generator's state afterwards must be
    # what np.random.rand would have given and left.
    x = random_array(np.random.default_rng(seed), shape, dtype)
    states = []
    results = []
    for draw in (lambda: L.dropout_forward(x, {"p": 0.6, "mode": "train"}), lambda: R.dropout_forward(x, {"p": 0.6, "mode": "train"})):
        np.random.seed(seed)
        np.random.random_sample(before)
        np.random.randint(2**31, size=words)
        results.append(draw())
        states.append(np.random.get_state())
    (out, (_, mask)), (ref_out, (_, ref_mask)) = results
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(states[0][1], states[1][1])
    assert states[0][2:] == states[1][2:]


def test_dropout_draws_with_numpy_when_another_generator_is_set():
    # np.random.set_bit_generator swaps the global generator: np.random.rand
    # then draws from it, and so must dropout.
    old = np.random.get_bit_generator()
    try:
        np.random.set_bit_generator(np.random.PCG64(7))
        _, (_, mask) = L.dropout_forward(np.ones(1000), {"p": 0.5, "mode": "train"})
        np.random.set_bit_generator(np.random.PCG64(7))
        np.testing.assert_array_equal(mask, np.random.rand(1000) < 0.5)
    finally:
        np.random.set_bit_generator(old)


def test_dropout_test_mode_is_the_identity():
    x = random_array(np.random.default_rng(0), (4, 5), np.float32)
    out, cache = L.dropout_forward(x, {"p": 0.3, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(L.dropout_backward(x, cache), x)


@pytest.mark.parametrize("param", [{"p": 0, "mode": "train"}, {"p": 1.5, "mode": "train"}, {"p": -0.1, "mode": "test"}, {"mode": "train"}])
def test_dropout_bad_p(param):
    with pytest.raises(ValueError, match=r"dropout_param\['p'\]"):
        L.dropout_forward(np.ones(3), param)


@pytest.mark.parametrize("mode", ["eval", None, "TRAIN"])
def test_bad_mode(mode):
    with pytest.raises(ValueError, match=r"\['mode'\]: expected 'train' or 'test'"):
        L.dropout_forward(np.ones(3), {"p": 0.5, "mode": mode})
    with pytest.raises(ValueError, match=r"bn_param\['mode'\]"):
        L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": mode})


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_train_statistics_and_running_averages(dtype):
    rng = np.random.default_rng(3)
    gamma, beta = np.array([1.0, 2.0, 3.0], dtype), np.array([11.0, 12.0, 13.0], dtype)
    bn_param = {"mode": "train"}
    for _ in range(200):
        x = (rng.standard_normal((200, 3)) * 5 + 7).astype(dtype)
        out, _ = L.batchnorm_forward(x, gamma, beta, bn_param)
        np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-4 * 13)
        np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-3)
    np.testing.assert_allclose(bn_param["running_mean"], 7, rtol=0.05)
    np.testing.assert_allclose(bn_param["running_var"], 25, rtol=0.1)
    bn_param["mode"] = "test"
    x = (rng.standard_normal((2000, 3)) * 5 + 7).astype(dtype)
    out, _ = L.batchnorm_forward(x, np.ones(3, dtype), np.zeros(3, dtype), bn_param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=0.15)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=0.1)


@pytest.mark.parametrize("offset, spread", [(0.0, 1.0), (1e4, 1e-2), (-3e3, 5.0)])
@pytest.mark.parametrize("rows", [1, 5, 257, 5000])
def test_float32_batchnorm_statistics_in_one_pass_are_exact_to_float32(offset, spread, rows):
    # Sums of x - x[0] in float64 over row chunks: within float32's rounding of
    # the statistics computed exactly (in float64) from the same float32 data,
    # also when the first row lies far out in its column.
    rng = np.random.default_rng(5)
    x = (offset + spread * rng.standard_normal((rows, 40))).astype(np.float32)
    x[0, :8] = offset + 1000 * spread
    bn_param = {"mode": "train", "momentum": 0.0}
    L.batchnorm_forward(x, np.ones(40, np.float32), np.zeros(40, np.float32), bn_param)
    exact = x.astype(np.float64)
    np.testing.assert_allclose(bn_param["running_mean"], exact.mean(axis=0), rtol=1.2e-7, atol=0)
    np.testing.assert_allclose(bn_param["running_var"], exact.var(axis=0), rtol=1.2e-7, atol=1e-45)


@pytest.mark.parametrize("dtype, rows", [(np.float32, 1), (np.float32, 4096), (np.float64, 1)])
def test_batchnorm_backward_cancels_a_gradient_constant_down_each_column(dtype, rows):
    # dx = inv_std / N * (N * dxhat - sum(dxhat) - xhat * sum(dxhat * xhat)):
    # with dout constant down a column, float32's first two terms cancel
    # exactly, leaving only the xhat term (exactly 0 at N = 1, where xhat = 0;
    # float64 follows NumPy's order, whose sum of N equal terms may round).
    rng = np.random.default_rng(6)
    x = rng.standard_normal((rows, 300)).astype(dtype)
    gamma = rng.standard_normal(300).astype(dtype)
    _, cache = L.batchnorm_forward(x, gamma, np.zeros(300, dtype), {"mode": "train"})
    dout = np.broadcast_to(rng.standard_normal(300).astype(dtype), x.shape).copy()
    dx = L.batchnorm_backward(dout, cache)[0]
    xhat = cache[0].astype(np.float64)
    residual = xhat * (xhat.sum(axis=0) / rows) * np.abs(dout[0] * gamma) * np.float64(cache[2])
    if rows == 1:
        assert not dx.any()
    else:
        assert np.all(np.abs(dx) <= 4 * np.abs(residual) + 1e-30)


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_of_one_feature_has_no_gradient(dtype):
    # D = 1: xhat = 0 whatever x is, so dx = 0 exactly, as the reference gives.
    rng = np.random.default_rng(7)
    x, dout = rng.standard_normal((5, 1)).astype(dtype), rng.standard_normal((5, 1)).astype(dtype)
    _, cache = L.layernorm_forward(x, np.full(1, 1.7, dtype), np.zeros(1, dtype), {})
    assert not L.layernorm_backward(dout, cache)[0].any()


@pytest.mark.parametrize("dtype, atol", [(np.float64, 1e-12), (np.float32, 1e-6)])
def test_layernorm_statistics(dtype, atol):
    x = (np.random.default_rng(4).standard_normal((5, 40)) * 3 + 2).astype(dtype)
    out, _ = L.layernorm_forward(x, np.ones(40, dtype), np.zeros(40, dtype), {})
    assert out.dtype == dtype
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=atol)
    np.testing.assert_allclose(out.std(axis=1), 1, rtol=1e-5)


def _batchnorm_backward_staged(dout, x, gamma, eps=1e-5):
    """The course's first derivation: back through mean, centring, variance and scaling."""
    n = x.shape[0]
    centred = x - x.mean(axis=0)
    var = (centred**2).mean(axis=0)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = centred * inv_std
    dxhat = dout * gamma
    dinv_std = (dxhat * centred).sum(axis=0)
    dvar = -0.5 * inv_std**3 * dinv_std
    dcentred = dxhat * inv_std + dvar * 2 * centred / n
    return dcentred - dcentred.sum(axis=0) / n, (dout * xhat).sum(axis=0), dout.sum(axis=0)


@pytest.mark.parametrize("backward", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_closed_form_matches_the_staged_derivation(backward):
    rng = np.random.default_rng(5)
    x = 5 * rng.standard_normal((50, 7)) + 12
    gamma, beta, dout = rng.standard_normal(7), rng.standard_normal(7), rng.standard_normal((50, 7))
    staged = _batchnorm_backward_staged(dout, x, gamma)
    for module in (L, R):
        _, cache = module.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        for grad, expected in zip(getattr(module, backward)(dout, cache), staged):
            assert rel_error(grad, expected) < 1e-9


def test_affine_norm_relu_refuses_an_unknown_norm():
    x, w, b = np.ones((6, 4)), np.ones((4, 5)), np.ones(5)
    with pytest.raises(ValueError, match="norm"):
        L.affine_norm_relu_forward(x, w, b, np.ones(5), np.zeros(5), {"mode": "train"}, "groupnorm")


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: L.batchnorm_forward(np.ones((2, 3)), np.ones(2), np.zeros(3), {"mode": "train"}), ValueError, ["gamma:", "(3,)", "(2,)"]),
        (lambda: L.layernorm_forward(np.ones(3), np.ones(3), np.zeros(3), {}), ValueError, ["x:", "2-D", "(N, D)"]),
        (lambda: L.layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(4), {}), ValueError, ["beta:", "(3,)", "(4,)"]),
        (lambda: L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), "train"), TypeError, ["bn_param", "dict"]),
        (lambda: L.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "train", "eps": -1e-5}), ValueError,
         ["bn_param['eps']", ">= 0", "-1e-05"]),
        (lambda: L.layernorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"eps": "1e-5"}), ValueError, ["ln_param['eps']", "'1e-5'"]),
        (lambda: L.spatial_batchnorm_forward(np.ones((2, 3, 2, 2)), np.ones(3), np.zeros(3), {"mode": "train", "eps": np.nan}),
         ValueError, ["bn_param['eps']", "nan"]),
        (lambda: L.spatial_groupnorm_forward(np.ones((2, 4, 2, 2)), np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1)), 2, {"eps": np.inf}),
         ValueError, ["gn_param['eps']", "inf"]),
    ],
)
def test_norm_bad_inputs(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_norms_and_losses_give_the_same_bits_serially_and_in_parallel(dtype, monkeypatch):
    # The serial path (small inputs, forked children) and the parallel one
    # must agree to the bit: batchnorm splits columns, each summed in one
    # order either way; layernorm's backward and the losses add the same
    # per-chunk partial sums in the same order either way.
    from fastnn import config, threads

    rng = np.random.default_rng(5)
    x = random_array(rng, (2500, 70), dtype)  # serially, two blocks of the float64 softmax
    gamma, beta, dout = random_array(rng, (70,), dtype), random_array(rng, (70,), dtype), random_array(rng, (2500, 70), dtype)
    y = rng.integers(70, size=2500)

    def run():
        bn_out, bn_cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        ln_out, ln_cache = L.layernorm_forward(x, gamma, beta, {})
        return [bn_out, *L.batchnorm_backward(dout, bn_cache), ln_out, *L.layernorm_backward(dout, ln_cache), *L.softmax_loss(x, y),
                *L.svm_loss(x, y)]

    parallel = run()
    with threads.limit_threads(1):
        one_thread = run()
    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 1 << 40)
    monkeypatch.setattr(config, "PARALLEL_MIN_ROW_ELEMENTS", 1 << 40)
    serial = run()
    for a, b, c in zip(parallel, one_thread, serial):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
