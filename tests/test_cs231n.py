"""cs231n conformance: replacing ``cs231n.`` with ``fastnn.`` in the imports is all a user changes.

Three parts:
- every public name and signature of the course modules exists in fastnn's;
- the assignment-2 notebooks' cells, run through fastnn's modules, give the
  published expected values and pass the notebooks' own error bounds;
- each defect of issue 8 section 3 (silent wrong results) is reproduced and
  shown fixed, and section 4's gradient checks print no worse than NumPy's.

Expected values are the ones the notebooks print (or assert against) for
the seeds they set.
"""

import importlib
import inspect

import numpy as np
import pytest

import fastnn.layers as L
import fastnn.optim as O
import fastnn.reference as R
from fastnn.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from fastnn.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    eval_numerical_gradient_blobs,
    eval_numerical_gradient_net,
    rel_error,
)
from fastnn.solver import Solver

# Course module -> {public name: (parameter, default) pairs, in order}; "-"
# marks a parameter without a default.  fastnn may add keyword arguments after these.
COURSE_API = {
    "layers": {
        "affine_forward": [("x", "-"), ("w", "-"), ("b", "-")],
        "affine_backward": [("dout", "-"), ("cache", "-")],
        "relu_forward": [("x", "-")],
        "relu_backward": [("dout", "-"), ("cache", "-")],
        "softmax_loss": [("x", "-"), ("y", "-")],
        "svm_loss": [("x", "-"), ("y", "-")],
        "batchnorm_forward": [("x", "-"), ("gamma", "-"), ("beta", "-"), ("bn_param", "-")],
        "batchnorm_backward": [("dout", "-"), ("cache", "-")],
        "batchnorm_backward_alt": [("dout", "-"), ("cache", "-")],
        "layernorm_forward": [("x", "-"), ("gamma", "-"), ("beta", "-"), ("ln_param", "-")],
        "layernorm_backward": [("dout", "-"), ("cache", "-")],
        "dropout_forward": [("x", "-"), ("dropout_param", "-")],
        "dropout_backward": [("dout", "-"), ("cache", "-")],
    },
    "layer_utils": {
        "affine_relu_forward": [("x", "-"), ("w", "-"), ("b", "-")],
        "affine_relu_backward": [("dout", "-"), ("cache", "-")],
    },
    "optim": {name: [("w", "-"), ("dw", "-"), ("config", None)] for name in ("sgd", "sgd_momentum", "rmsprop", "adam")},
    "solver": {"Solver": [("model", "-"), ("data", "-")]},
    "gradient_check": {
        "eval_numerical_gradient": [("f", "-"), ("x", "-"), ("verbose", True), ("h", 1e-5)],
        "eval_numerical_gradient_array": [("f", "-"), ("x", "-"), ("df", "-"), ("h", 1e-5)],
        "eval_numerical_gradient_blobs": [("f", "-"), ("inputs", "-"), ("output", "-"), ("h", 1e-5)],
        "eval_numerical_gradient_net": [("net", "-"), ("inputs", "-"), ("output", "-"), ("h", 1e-5)],
        "grad_check_sparse": [("f", "-"), ("x", "-"), ("analytic_grad", "-"), ("num_checks", 10), ("h", 1e-5)],
    },
    "classifiers.fc_net": {
        "TwoLayerNet": [("input_dim", 3 * 32 * 32), ("hidden_dim", 100), ("num_classes", 10), ("weight_scale", 1e-3), ("reg", 0.0)],
        "FullyConnectedNet": [
            ("hidden_dims", "-"), ("input_dim", 3 * 32 * 32), ("num_classes", 10), ("dropout_keep_ratio", 1),
            ("normalization", None), ("reg", 0.0), ("weight_scale", 1e-2), ("dtype", np.float32), ("seed", None),
        ],
    },
}


@pytest.mark.parametrize("module", sorted(COURSE_API))
def test_every_course_name_with_its_signature(module):
    fastnn_module = importlib.import_module(f"fastnn.{module}")
    star = {}
    exec(f"from fastnn.{module} import *", star)
    for name, course_params in COURSE_API[module].items():
        assert name in star, f"from fastnn.{module} import * lacks {name}"
        params = list(inspect.signature(getattr(fastnn_module, name)).parameters.values())
        assert len(params) >= len(course_params), f"{module}.{name}: {params}"
        for p, (course_name, default) in zip(params, course_params):
            assert p.name == course_name, f"{module}.{name}: parameter {p.name!r}, the course's is {course_name!r}"
            if default == "-":
                assert p.default is inspect.Parameter.empty, f"{module}.{name}({p.name}) has a default"
            else:
                assert p.default == default, f"{module}.{name}({p.name}={p.default!r}), the course's default is {default!r}"
        for extra in params[len(course_params):]:
            optional = extra.default is not inspect.Parameter.empty or extra.kind is inspect.Parameter.VAR_KEYWORD
            assert optional, f"{module}.{name}: extra {extra.name} must be optional"


def test_layer_utils_reexports_the_layers_as_the_course_module_does():
    star = {}
    exec("from fastnn.layer_utils import *", star)
    assert star["affine_forward"] is L.affine_forward and star["affine_relu_forward"] is L.affine_relu_forward


# ----------------------------------------------------- notebook cells
# (the affine and ReLU forward cells are the seed notebook's too: tests/test_golden.py)


def test_affine_and_relu_backward_cells():
    np.random.seed(231)
    x = np.random.randn(10, 2, 3)
    w = np.random.randn(6, 5)
    b = np.random.randn(5)
    dout = np.random.randn(10, 5)
    dx_num = eval_numerical_gradient_array(lambda x: L.affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: L.affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: L.affine_forward(x, w, b)[0], b, dout)
    _, cache = L.affine_forward(x, w, b)
    dx, dw, db = L.affine_backward(dout, cache)
    for num, ana in ((dx_num, dx), (dw_num, dw), (db_num, db)):
        assert rel_error(num, ana) < 1e-9  # "around e-10 or less"

    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: L.relu_forward(x)[0], x, dout)
    dx = L.relu_backward(dout, L.relu_forward(x)[1])
    assert rel_error(dx_num, dx) < 1e-11  # "around 3e-12"


def test_loss_cells():
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    loss, dx = L.svm_loss(x, y)
    dx_num = eval_numerical_gradient(lambda x: L.svm_loss(x, y)[0], x, verbose=False)
    assert loss == pytest.approx(8.999602749096233, abs=1e-12) and rel_error(dx_num, dx) < 1e-8
    loss, dx = L.softmax_loss(x, y)
    dx_num = eval_numerical_gradient(lambda x: L.softmax_loss(x, y)[0], x, verbose=False)
    assert loss == pytest.approx(2.302545844500738, abs=1e-12) and rel_error(dx_num, dx) < 1e-7


def test_two_layer_net_cell():
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    X = np.random.randn(N, D)
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    assert abs(model.params["W1"].std() - std) < std / 10 and np.all(model.params["b1"] == 0)
    assert abs(model.params["W2"].std() - std) < std / 10 and np.all(model.params["b2"] == 0)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
    ])
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    loss, _ = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10 and type(loss) is np.float64
    model.reg = 1.0
    loss, _ = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10
    for reg in (0.0, 0.7):
        model.reg = reg
        _, grads = model.loss(X, y)
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
            assert rel_error(grad_num, grads[name]) < 1e-6, (reg, name)  # "around 1e-7 or less"


def _notebook_xy():
    np.random.seed(231)
    N, D, C = 2, 15, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    return X, y


# The initial losses the notebooks print after np.random.seed(231).
INITIAL_LOSSES = {
    (None, 0): 2.3004790897684924,
    (None, 3.14): 7.052114776533016,
}
DROPOUT_INITIAL_LOSSES = {1: 2.3004790897684924, 0.75: 2.302371489704412, 0.5: 2.3042759220785896}


def test_fully_connected_net_initial_losses():
    # As in the notebook, the second model's weights are the generator's next draws.
    X, y = _notebook_xy()
    for reg in (0, 3.14):
        model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, reg=reg, weight_scale=5e-2, dtype=np.float64)
        loss, _ = model.loss(X, y)
        assert loss == pytest.approx(INITIAL_LOSSES[(None, reg)], abs=1e-12)


def test_dropout_model_cell():
    # FullyConnectedNet(seed=123): the same masks in every pass, so the
    # numerical gradient of a dropout model is checkable (issue 8 section 2:
    # the relative error was 1.0).  Each pass also reseeds NumPy's global
    # generator, from which the next model's weights are drawn, as in the
    # notebook's loop.
    X, y = _notebook_xy()
    for keep in (1, 0.75, 0.5):
        model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=5e-2, dtype=np.float64,
                                  dropout_keep_ratio=keep, seed=123)
        loss, grads = model.loss(X, y)
        assert loss == pytest.approx(DROPOUT_INITIAL_LOSSES[keep], abs=1e-12)
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=1e-5)
            # "Relative errors should be around e-6 or less; it's fine if for
            # dropout_keep_ratio=1 you have W2 error be on the order of e-5."
            assert rel_error(grad_num, grads[name]) < (1e-4 if keep == 1 and name == "W2" else 1e-5), (keep, name)


def test_optimiser_cells():
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, config = O.sgd_momentum(w, dw, config={"learning_rate": 1e-3, "velocity": v})
    assert rel_error(next_w, SGD_MOMENTUM_W) < 1e-8 and rel_error(config["velocity"], SGD_MOMENTUM_V) < 1e-8
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, config = O.rmsprop(w, dw, config={"learning_rate": 1e-2, "cache": cache})
    assert rel_error(next_w, RMSPROP_W) < 1e-7 and rel_error(config["cache"], RMSPROP_CACHE) < 1e-8
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    next_w, config = O.adam(w, dw, config={"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    # "relative errors around e-7 or less" (the expected values have 8 digits)
    assert rel_error(next_w, ADAM_W) < 1e-6 and rel_error(config["v"], ADAM_V) < 1e-8 and rel_error(config["m"], ADAM_M) < 1e-8
    assert config["t"] == 6


def test_batchnorm_cells():
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    np.testing.assert_allclose(a.mean(axis=0), [-2.3814598, -13.18038246, 1.91780462], rtol=1e-7)
    a_norm, _ = L.batchnorm_forward(a, np.ones(D3), np.zeros(D3), {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(a_norm.std(axis=0), [0.99999999, 1.0, 1.0], rtol=1e-8)
    a_norm, _ = L.batchnorm_forward(a, np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0]), {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), [11, 12, 13], rtol=1e-14)
    np.testing.assert_allclose(a_norm.std(axis=0), [0.99999999, 1.99999999, 2.99999999], rtol=1e-8)

    np.random.seed(231)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    bn_param = {"mode": "train"}
    for _ in range(50):
        a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
        L.batchnorm_forward(a, np.ones(D3), np.zeros(D3), bn_param)
    bn_param["mode"] = "test"
    a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
    a_norm, _ = L.batchnorm_forward(a, np.ones(D3), np.zeros(D3), bn_param)
    np.testing.assert_allclose(a_norm.mean(axis=0), [-0.03927354, -0.04349152, -0.10452688], rtol=1e-6)
    np.testing.assert_allclose(a_norm.std(axis=0), [1.01531428, 1.01238373, 0.97819988], rtol=1e-7)


def test_batchnorm_backward_alt_cell():
    np.random.seed(231)
    N, D = 100, 500
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)
    _, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx1, dgamma1, dbeta1 = L.batchnorm_backward(dout, cache)
    dx2, dgamma2, dbeta2 = L.batchnorm_backward_alt(dout, cache)
    assert rel_error(dx1, dx2) < 1e-12 and rel_error(dgamma1, dgamma2) == 0 and rel_error(dbeta1, dbeta2) == 0


def test_dropout_cell_is_the_course_code_bit_for_bit():
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    for p, train_mean, zeros in [(0.25, 10.014059116977283, 0.749784), (0.4, 9.977917658761159, 0.600796), (0.7, 9.98781191215943, 0.30074)]:
        state = np.random.get_state()
        out, _ = L.dropout_forward(x, {"mode": "train", "p": p})
        np.random.set_state(state)
        course = x * ((np.random.rand(*x.shape) < p) / p)
        np.testing.assert_array_equal(out, course)
        out_test, _ = L.dropout_forward(x, {"mode": "test", "p": p})
        assert out.mean() == pytest.approx(train_mean, abs=1e-12) and (out == 0).mean() == zeros
        np.testing.assert_array_equal(out_test, x)


# ------------------------------------------- section 2: same semantics


def test_dropout_draws_from_numpys_global_generator():
    x = np.random.default_rng(0).standard_normal((60, 70)) + 3
    outs = []
    for _ in range(2):
        np.random.seed(231)
        outs.append(L.dropout_forward(x, {"mode": "train", "p": 0.5})[0])
    np.testing.assert_array_equal(*outs)


def test_seeded_dropout_reseeds_the_global_generator_in_both_modes():
    for mode in ("train", "test"):
        L.dropout_forward(np.ones((10, 10)), {"mode": mode, "p": 0.5, "seed": 7})
        after = np.random.rand()
        np.random.seed(7)
        if mode == "train":
            np.random.rand(10, 10)
        assert after == np.random.rand()


def test_dropout_mask_is_the_same_in_float32_and_float64():
    x = np.random.default_rng(0).standard_normal((40, 40)) + 3
    x32 = x.astype(np.float32)
    out64, cache64 = L.dropout_forward(x, {"mode": "train", "p": 0.4, "seed": 1})
    out32, cache32 = L.dropout_forward(x32, {"mode": "train", "p": 0.4, "seed": 1})
    np.testing.assert_array_equal(cache64[1], cache32[1])
    assert out32.dtype == np.float32
    np.random.seed(1)
    np.testing.assert_array_equal(out32, (x32 * ((np.random.rand(*x.shape) < 0.4) / 0.4)).astype(np.float32))


@pytest.mark.parametrize("p", [0, -0.5, 1.5, None, "0.5"])
def test_p_is_a_keep_probability(p):
    with pytest.raises(ValueError, match=r"dropout_param\['p'\]: expected a keep probability in \(0, 1\]"):
        L.dropout_forward(np.ones(3), {"mode": "train", "p": p})


def test_model_defaults_and_attributes_are_the_courses():
    two = TwoLayerNet()
    assert two.params["W1"].shape == (3 * 32 * 32, 100) and two.params["W2"].shape == (100, 10)
    assert two.params["W1"].dtype == np.float64 and two.reg == 0.0
    net = FullyConnectedNet([10], normalization="batchnorm")
    assert net.params["W1"].shape == (3 * 32 * 32, 10) and net.params["W1"].dtype == np.float32
    assert net.bn_params == [{"mode": "train"}] and net.dropout_param == {} and not net.use_dropout
    assert FullyConnectedNet([10], normalization="layernorm").bn_params == [{}]
    dropped = FullyConnectedNet([10], dropout_keep_ratio=0.5, seed=3)
    assert dropped.dropout_param == {"mode": "train", "p": 0.5, "seed": 3}


def test_weights_are_drawn_as_the_course_draws_them():
    np.random.seed(0)
    net = FullyConnectedNet([4, 3], input_dim=5, num_classes=2, weight_scale=0.1, normalization="batchnorm")
    np.random.seed(0)
    for name, shape in (("W1", (5, 4)), ("W2", (4, 3)), ("W3", (3, 2))):
        np.testing.assert_array_equal(net.params[name], (0.1 * np.random.randn(*shape)).astype(np.float32))
    assert set(net.params) == {"W1", "b1", "W2", "b2", "W3", "b3", "gamma1", "beta1", "gamma2", "beta2"}
    # fastnn's own initialisers draw from their own generator when asked for.
    a = FullyConnectedNet([4], input_dim=5, num_classes=2, init="he", init_seed=1)
    b = FullyConnectedNet([4], input_dim=5, num_classes=2, init="he", init_seed=1)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])


def test_losses_are_numpy_float64_so_float32_terms_do_not_demote_them():
    scores = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    for module in (L, R):
        for loss_fn in (module.softmax_loss, module.svm_loss):
            loss, _ = loss_fn(scores, np.arange(4))
            assert type(loss) is np.float64 and isinstance(loss, float)
            reg_loss = np.float32(0.5) * np.sum(scores * scores)
            assert (loss + reg_loss).dtype == np.float64
    net = FullyConnectedNet([6], input_dim=5, num_classes=3, reg=0.1)
    loss, _ = net.loss(np.ones((2, 5)), np.array([0, 1]))
    assert type(loss) is np.float64


def _small_data(n=60, d=12, c=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(c, size=n)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


def _nesterov(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    old = v
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w - config["momentum"] * old + (1 + config["momentum"]) * v, config


def test_solver_takes_a_callable_or_a_rule_set_on_fastnn_optim(monkeypatch):
    runs = []
    for rule in (_nesterov, "nesterov"):
        monkeypatch.setattr(O, "nesterov", _nesterov, raising=False)
        np.random.seed(0)
        solver = Solver(TwoLayerNet(12, 10, 5, weight_scale=0.1), _small_data(), update_rule=rule, num_epochs=2,
                        batch_size=10, verbose=False)
        solver.train()
        assert "velocity" in solver.optim_configs["W1"]
        runs.append(solver.loss_history)
    assert runs[0] == runs[1]
    with pytest.raises(ValueError, match="update_rule.*'adamw'"):
        Solver(TwoLayerNet(12, 10, 5), _small_data(), update_rule="adamw")


def test_solver_samples_batches_from_numpys_global_generator_as_the_course_does():
    data = _small_data()

    def run():
        np.random.seed(1)
        model = FullyConnectedNet([10], 12, 5, weight_scale=0.1, dtype=np.float64)
        solver = Solver(model, data, update_rule="adam", num_epochs=2, batch_size=10, num_train_samples=20, verbose=False)
        solver.train()
        return solver

    first, second = run(), run()
    assert first.loss_history == second.loss_history and first.train_acc_history == second.train_acc_history
    # The course's loop, step for step: the same batches, checks and losses.
    np.random.seed(1)
    model = FullyConnectedNet([10], 12, 5, weight_scale=0.1, dtype=np.float64)
    configs = {p: {"learning_rate": 1e-3} for p in model.params}
    losses, checks = [], 0
    for t in range(2 * 6):
        batch = np.random.choice(60, 10)
        loss, grads = model.loss(data["X_train"][batch], data["y_train"][batch])
        losses.append(loss)
        for p in model.params:
            model.params[p], configs[p] = O.adam(model.params[p], grads[p], configs[p])
        if t == 0 or (t + 1) % 6 == 0:
            np.random.choice(60, 20)  # check_accuracy's subsample of the training set
            checks += 1
    np.testing.assert_allclose(first.loss_history, losses, rtol=1e-13)
    assert len(first.train_acc_history) == checks == 3
    assert all(type(a) is np.float64 for a in first.train_acc_history)


def test_solver_prints_the_courses_lines(capsys):
    np.random.seed(0)
    solver = Solver(TwoLayerNet(12, 10, 5, weight_scale=0.1), _small_data(), num_epochs=2, batch_size=10, print_every=5)
    solver.train()
    out = capsys.readouterr().out
    assert "(Iteration 1 / 12) loss: " in out and "(Iteration 11 / 12) loss: " in out
    assert "(Epoch 0 / 2) train acc: " in out and "(Epoch 2 / 2) train acc: " in out and "; val_acc: " in out


# ------------------------------- section 3: silent wrong results, fixed

N_OPT, D_OPT = 4, 5
W_OPT = np.linspace(-0.4, 0.6, num=N_OPT * D_OPT).reshape(N_OPT, D_OPT)
DW_OPT = np.linspace(-0.6, 0.4, num=N_OPT * D_OPT).reshape(N_OPT, D_OPT)


def test_float64_velocity_with_float32_weights_is_used_not_zeroed():
    v = np.linspace(0.6, 0.9, num=20).reshape(4, 5)
    next_w, config = O.sgd_momentum(W_OPT.astype(np.float32), DW_OPT.astype(np.float32), {"learning_rate": 1e-3, "velocity": v})
    assert rel_error(next_w, SGD_MOMENTUM_W) < 1e-7  # was 1.0; the course gives 2e-8
    assert next_w.dtype == np.float64 == config["velocity"].dtype  # as NumPy's w + v in the course


def test_adam_state_of_another_dtype_is_used_not_zeroed():
    m = np.linspace(0.6, 0.9, num=20).reshape(4, 5)
    v = np.linspace(0.7, 0.5, num=20).reshape(4, 5)
    next_w, config = O.adam(W_OPT.astype(np.float32), DW_OPT.astype(np.float32), {"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    assert rel_error(next_w, ADAM_W) < 1e-6  # was 0.14
    assert rel_error(config["m"], ADAM_M) < 1e-7 and config["t"] == 6


@pytest.mark.parametrize("rule, key", [(O.sgd_momentum, "velocity"), (O.rmsprop, "cache"), (O.adam, "m"), (O.adam, "v")])
def test_fortran_ordered_state_is_updated(rule, key):
    c_config = {"learning_rate": 1e-3, key: np.linspace(0.6, 0.9, num=20).reshape(4, 5)}
    f_config = {"learning_rate": 1e-3, key: np.asfortranarray(c_config[key])}
    c_w, c_config = rule(W_OPT, DW_OPT, c_config)
    f_w, f_config = rule(W_OPT, DW_OPT, f_config)
    np.testing.assert_array_equal(c_w, f_w)
    np.testing.assert_array_equal(c_config[key], f_config[key])
    assert not np.array_equal(f_config[key], np.linspace(0.6, 0.9, num=20).reshape(4, 5))


@pytest.mark.parametrize("rule, keys", [(O.sgd, ()), (O.sgd_momentum, ("velocity",)), (O.rmsprop, ("cache",)), (O.adam, ("m", "v"))])
def test_caller_arrays_are_written_only_with_in_place(rule, keys):
    w = W_OPT.copy()
    config = {"learning_rate": 1e-3, **{k: np.full((4, 5), 0.5) for k in keys}}
    given = {k: config[k] for k in keys}
    next_w, config = rule(w, DW_OPT, config)
    np.testing.assert_array_equal(w, W_OPT)
    for k in keys:
        np.testing.assert_array_equal(given[k], np.full((4, 5), 0.5))
        assert config[k] is not given[k]
    assert next_w is not w
    config = {"learning_rate": 1e-3, "in_place": True, **{k: np.full((4, 5), 0.5) for k in keys}}
    given = {k: config[k] for k in keys}
    next_w, config = rule(w, DW_OPT, config)
    assert next_w is w and all(config[k] is given[k] for k in keys)


def test_state_of_another_shape_is_an_error_naming_the_key():
    with pytest.raises(ValueError, match=r"config\['velocity'\]: expected shape \(4, 5\).*got shape \(5, 4\)"):
        O.sgd_momentum(W_OPT, DW_OPT, {"velocity": np.zeros((5, 4))})
    with pytest.raises(ValueError, match=r"config\['m'\]: expected shape \(4, 5\)"):
        O.adam(W_OPT, DW_OPT, {"m": np.zeros(3), "v": np.zeros((4, 5))})


class _SVMTwoLayerNet(TwoLayerNet):
    """A student's subclass that trains with the SVM loss."""

    def loss(self, X, y=None):
        h, c1 = L.affine_relu_forward(X, self.params["W1"], self.params["b1"])
        scores, c2 = L.affine_forward(h, self.params["W2"], self.params["b2"])
        if y is None:
            return scores
        loss, dscores = L.svm_loss(scores, y)
        dh, dW2, db2 = L.affine_backward(dscores, c2)
        _, dW1, db1 = L.affine_relu_backward(dh, c1)
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


class _StudentNet:
    """A student's own two-layer net with every attribute the old shortcut looked at."""

    def __init__(self, weight_scale=0.1):
        self.params = {
            "W1": weight_scale * np.random.randn(12, 10), "b1": np.zeros(10),
            "W2": weight_scale * np.random.randn(10, 5), "b2": np.zeros(5),
        }
        self.num_layers, self.normalization, self.use_dropout, self.reg = 2, None, False, 0.0
        self.training_calls = 0

    def loss(self, X, y=None):
        h, c1 = L.affine_relu_forward(X, self.params["W1"], self.params["b1"])
        scores, c2 = L.affine_forward(h, self.params["W2"], self.params["b2"])
        if y is None:
            return scores
        self.training_calls += 1
        loss, dscores = L.softmax_loss(scores, y)
        dh, dW2, db2 = L.affine_backward(dscores, c2)
        _, dW1, db1 = L.affine_relu_backward(dh, c1)
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def _course_loop(model, data, steps, lr):
    """The course Solver's iterations, by hand, under the current global generator state."""
    losses = []
    for _ in range(steps):
        batch = np.random.choice(len(data["X_train"]), 10)
        loss, grads = model.loss(data["X_train"][batch], data["y_train"][batch])
        losses.append(loss)
        for p in model.params:
            model.params[p] = model.params[p] - lr * grads[p]
    return losses


def test_solver_runs_a_subclass_own_loss():
    data = _small_data()
    np.random.seed(0)
    solver = Solver(_SVMTwoLayerNet(12, 10, 5, weight_scale=1.0), data, optim_config={"learning_rate": 1e-3},
                    num_epochs=1, batch_size=10, num_train_samples=None, verbose=False)
    assert solver._fused_inputs() is None
    solver.train()
    np.random.seed(0)
    expected = _course_loop(_SVMTwoLayerNet(12, 10, 5, weight_scale=1.0), data, 1, 1e-3)
    assert solver.loss_history[0] == expected[0]  # was a softmax loss, 4.3 where the SVM's is 16.6


def test_solver_runs_a_look_alike_models_loss():
    np.random.seed(0)
    model = _StudentNet()
    solver = Solver(model, _small_data(), num_epochs=1, batch_size=10, verbose=False)
    assert solver._fused_inputs() is None
    solver.train()
    assert model.training_calls == 6  # was 0: the fused trainer ran instead


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_solver_shortcut_computes_what_model_loss_computes(dtype):
    # fastnn's own TwoLayerNet with SGD takes the fused trainer, on image-shaped X
    # too (which crashed); the course loop over model.loss gives the same run.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3, 2, 2)).astype(dtype)
    y = rng.integers(5, size=60)
    data = {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}
    np.random.seed(3)
    model = TwoLayerNet(12, 10, 5, weight_scale=0.5, dtype=dtype)
    solver = Solver(model, data, optim_config={"learning_rate": 0.1}, num_epochs=1, batch_size=10,
                    num_train_samples=None, verbose=False)
    assert solver._fused_inputs() is not None
    solver.train()
    np.random.seed(3)
    reference = TwoLayerNet(12, 10, 5, weight_scale=0.5, dtype=dtype)
    first = _course_loop(reference, data, 1, 0.1)
    rest = _course_loop(reference, data, 5, 0.1)
    np.testing.assert_allclose(solver.loss_history, first + rest, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_solver_shortcut_needs_the_exact_class_and_plain_sgd():
    data = _small_data()
    assert Solver(TwoLayerNet(12, 10, 5), data)._fused_inputs() is not None
    assert Solver(FullyConnectedNet([10], 12, 5, dtype=np.float64), data)._fused_inputs() is not None
    for model, options in [
        (TwoLayerNet(12, 10, 5, reg=0.1), {}),
        (TwoLayerNet(12, 10, 5), {"update_rule": "sgd_momentum"}),
        (TwoLayerNet(12, 10, 5), {"update_rule": lambda w, dw, c=None: O.sgd(w, dw, c)}),
        (TwoLayerNet(12, 10, 5), {"augment": lambda X: X}),
        (TwoLayerNet(12, 10, 5, layers=R), {}),
        (TwoLayerNet(12, 10, 5, dtype=np.float32), {}),  # X is float64: the model computes in float64
        (FullyConnectedNet([10], 12, 5, dtype=np.float64, dropout_keep_ratio=0.5), {}),
        (FullyConnectedNet([10], 12, 5, dtype=np.float64, normalization="batchnorm"), {}),
        (FullyConnectedNet([10, 10], 12, 5, dtype=np.float64), {}),
    ]:
        assert Solver(model, data, **options)._fused_inputs() is None, (type(model).__name__, options)


# --------------------- section 4: gradient checks as clean as NumPy's


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("reg", [0, 3.14])
def test_gradient_check_errors_are_numpys(normalization, reg):
    # The notebooks' check of a FullyConnectedNet.  Each printed error must be
    # no worse than 2x NumPy's on the same model; float64 forward passes in
    # NumPy's order make them equal (before: W2 2.1e-4 against 2.2e-5, and
    # batchnorm's b1 4.4e-3 against 1.4e-8).
    X, y = _notebook_xy()
    kwargs = dict(input_dim=15, num_classes=10, reg=reg, weight_scale=5e-2, dtype=np.float64, normalization=normalization)
    model = FullyConnectedNet([20, 30], **kwargs)
    oracle = FullyConnectedNet([20, 30], layers=R, **kwargs)
    oracle.params = {k: v.copy() for k, v in model.params.items()}
    errors = {}
    for which, net in (("fastnn", model), ("numpy", oracle)):
        _, grads = net.loss(X, y)
        for name in sorted(grads):
            grad_num = eval_numerical_gradient(lambda _: net.loss(X, y)[0], net.params[name], verbose=False, h=1e-5)
            errors[which, name] = rel_error(grad_num, grads[name])
    for name in sorted(model.params):
        assert errors["fastnn", name] <= 2 * errors["numpy", name], (name, errors["fastnn", name], errors["numpy", name])


def test_eval_numerical_gradient_blobs_and_net():
    class Blob:
        def __init__(self, vals, diffs=None):
            self.vals = vals
            self.diffs = np.zeros_like(vals) if diffs is None else diffs

    rng = np.random.default_rng(0)
    x, w = Blob(rng.standard_normal((3, 4))), Blob(rng.standard_normal((4, 2)))
    out = Blob(np.zeros((3, 2)), rng.standard_normal((3, 2)))

    def forward(x_blob, w_blob, out_blob):
        out_blob.vals[...] = x_blob.vals.dot(w_blob.vals)

    dx, dw = eval_numerical_gradient_blobs(forward, (x, w), out)
    # A centred difference of a linear map is exact up to rounding, ~1e-11
    # absolute at h = 1e-5: 1e-7 relative on the smallest entries here.
    assert rel_error(dx, out.diffs.dot(w.vals.T)) < 1e-7 and rel_error(dw, x.vals.T.dot(out.diffs)) < 1e-7

    class Net:
        def forward(self):
            forward(x, w, out)

    dx_net, _ = eval_numerical_gradient_net(Net(), (x, w), out)
    np.testing.assert_array_equal(dx_net, dx)


# The notebooks' expected values (FullyConnectedNets.ipynb).
SGD_MOMENTUM_W = np.asarray([
    [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
    [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
    [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
    [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
])
SGD_MOMENTUM_V = np.asarray([
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
])
RMSPROP_W = np.asarray([
    [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
    [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
    [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
    [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
])
RMSPROP_CACHE = np.asarray([
    [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
    [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
    [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
    [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
])
ADAM_W = np.asarray([
    [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
    [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
    [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
    [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
])
ADAM_V = np.asarray([
    [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
    [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
    [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
    [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
])
ADAM_M = np.asarray([
    [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
    [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
    [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
    [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
])
