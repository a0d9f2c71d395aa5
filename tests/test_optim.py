"""fastnn.optim: updates computed by hand, and many steps against the NumPy rules."""

import numpy as np
import pytest

import fastnn.optim as O
import fastnn.reference_optim as RO

W = np.array([1.0, -2.0])
DW = np.array([0.5, 0.25])


def test_sgd_by_hand():
    next_w, config = O.sgd(W, DW, {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, [0.95, -2.025], rtol=1e-15)
    np.testing.assert_array_equal(W, [1.0, -2.0])  # w untouched by default


def test_momentum_by_hand():
    config = {"learning_rate": 0.1, "momentum": 0.9}
    w, config = O.sgd_momentum(W, DW, config)
    np.testing.assert_allclose(config["velocity"], [-0.05, -0.025], rtol=1e-15)
    w, config = O.sgd_momentum(w, DW, config)
    np.testing.assert_allclose(config["velocity"], [-0.095, -0.0475], rtol=1e-14)
    np.testing.assert_allclose(w, [0.855, -2.0725], rtol=1e-14)


def test_rmsprop_by_hand():
    w, config = O.rmsprop(W, DW, {"learning_rate": 0.1, "decay_rate": 0.9, "epsilon": 0.0})
    np.testing.assert_allclose(config["cache"], [0.025, 0.00625], rtol=1e-14)
    # With a zero cache, the first step is lr * dw / |dw| / sqrt(1 - decay).
    step = 0.1 / np.sqrt(0.1)
    np.testing.assert_allclose(w, [1.0 - step, -2.0 - step], rtol=1e-14)


def test_adam_by_hand():
    w, config = O.adam(W, DW, {"learning_rate": 0.1, "epsilon": 0.0})
    # t becomes 1 before the correction, so m_hat = dw and v_hat = dw**2: a step of lr * sign(dw).
    assert config["t"] == 1
    np.testing.assert_allclose(w, [0.9, -2.1], rtol=1e-14)
    np.testing.assert_allclose(config["m"], 0.1 * DW, rtol=1e-14)
    np.testing.assert_allclose(config["v"], 0.001 * DW**2, rtol=1e-14)


def test_defaults():
    assert O.sgd(W, DW)[1]["learning_rate"] == 1e-2
    assert O.sgd_momentum(W, DW)[1]["momentum"] == 0.9
    c = O.rmsprop(W, DW)[1]
    assert (c["learning_rate"], c["decay_rate"], c["epsilon"]) == (1e-2, 0.99, 1e-8)
    c = O.adam(W, DW)[1]
    assert (c["learning_rate"], c["beta1"], c["beta2"], c["epsilon"], c["t"]) == (1e-3, 0.9, 0.999, 1e-8, 1)


TOL = {np.float64: 1e-13, np.float32: 2e-6}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rule", list(O.RULES))
def test_many_steps_against_the_reference(rule, dtype):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 7)).astype(dtype)
    ref_w, config, ref_config = w.copy(), None, None
    for _ in range(20):
        dw = rng.standard_normal(w.shape).astype(dtype)
        w, config = getattr(O, rule)(w, dw, config)
        ref_w, ref_config = getattr(RO, rule)(ref_w, dw, ref_config)
    assert w.dtype == dtype
    np.testing.assert_allclose(w, ref_w, rtol=TOL[dtype], atol=TOL[dtype])


def test_in_place_when_allowed():
    w = W.copy()
    next_w, _ = O.adam(w, DW, {"in_place": True})
    assert next_w is w and not np.array_equal(w, W)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: O.get_rule("nesterov"), ValueError, ["update_rule", "nesterov", "adam"]),
        (lambda: O.sgd(W, DW[:1]), ValueError, ["dw:", "(2,)", "(1,)"]),
        (lambda: O.sgd([1.0], [1.0]), TypeError, ["w:", "ndarray"]),
        (lambda: O.sgd(W, DW, config=[]), TypeError, ["config", "dict"]),
        (lambda: O.sgd(W, DW, {"learning_rate": float("nan")}), ValueError, ["learning_rate", "finite", "nan"]),
        (lambda: O.adam(W, DW, {"beta1": np.float32(np.inf)}), ValueError, ["beta1", "finite", "inf"]),
        (lambda: O.sgd_momentum(W, DW, {"momentum": 10**400}), ValueError, ["momentum", "finite"]),
        (lambda: O.rmsprop(W, DW, {"decay_rate": "0.9"}), TypeError, ["decay_rate", "real number", "str"]),
    ],
)
def test_bad_arguments(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rule", list(O.RULES))
def test_parallel_and_serial_updates_agree_with_the_rules(rule, dtype, monkeypatch):
    # A parameter above config.PARALLEL_MIN_ELEMENTS updates on every thread;
    # elements are independent, so the serial path gives the same bits, and
    # both follow the NumPy rule.
    from fastnn import config

    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((300, 301)).astype(dtype)
    grads = [rng.standard_normal(w0.shape).astype(dtype) for _ in range(3)]

    def run(update):
        w, cfg = w0.copy(), {"learning_rate": 1e-2}
        for dw in grads:
            w, cfg = update(w, dw, cfg)
        return w

    parallel = run(O.RULES[rule])
    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 1 << 40)
    np.testing.assert_array_equal(run(O.RULES[rule]), parallel)
    np.testing.assert_allclose(parallel, run(getattr(RO, rule)), rtol={np.float32: 1e-5, np.float64: 1e-12}[dtype], atol=1e-6)
