"""Models (gradient checks of every parameter), the Solver, initialisation and augmentation."""

import numpy as np
import pytest

from fastnn import init
from fastnn.augment import Augment
from fastnn.gradient_check import eval_numerical_gradient, rel_error
from fastnn.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from fastnn.solver import Solver


DROPOUT_SEED = 5


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.parametrize("keep", [1, 0.6])
def test_fully_connected_gradients(normalization, reg, keep):
    # With seed= every forward pass draws the same dropout masks (as in the
    # course), so the model's loss is a fixed function to differentiate.
    # The dropout seed keeps the check off ReLU kinks.  With seed 3, dropout
    # and ReLU zeroed a whole row of h1; layer norm maps such a row (biases
    # are zero) to exactly 0, which puts the next ReLUs on their kink, where a
    # centred difference sees half the slope (b2 was off by 2x).
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 5)), rng.integers(4, size=6)
    model = FullyConnectedNet([7, 6], 5, 4, dropout_keep_ratio=keep, normalization=normalization, reg=reg,
                              weight_scale=0.5, dtype=np.float64, seed=DROPOUT_SEED, init="normal", init_seed=3)
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name, value in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], value, verbose=False)
        if normalization == "batchnorm" and name in ("b1", "b2"):
            # A bias feeding batchnorm has gradient exactly 0 (the batch mean
            # cancels it); relative error is meaningless there.
            assert np.abs(numeric - grads[name]).max() < 1e-8, name
        else:
            assert rel_error(numeric, grads[name]) < 1e-6, name


def test_two_layer_net_scores_and_regularisation():
    model = TwoLayerNet(input_dim=5, hidden_dim=4, num_classes=3, weight_scale=0.1, reg=0.5, init="normal", init_seed=1)
    X, y = np.ones((2, 5)), np.array([0, 2])
    assert model.loss(X).shape == (2, 3)
    loss_reg, _ = model.loss(X, y)
    model.reg = 0.0
    loss_plain, _ = model.loss(X, y)
    penalty = 0.5 * 0.5 * sum(np.sum(model.params[w] ** 2) for w in ("W1", "W2"))
    assert loss_reg == pytest.approx(loss_plain + penalty, rel=1e-12)


def _small_data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 12)).astype(np.float32)
    y = rng.integers(5, size=n)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


@pytest.mark.parametrize("rule, lr", [("sgd_momentum", 0.1), ("adam", 1e-2)])
def test_solver_overfits_50_samples(rule, lr):
    data = _small_data()
    model = FullyConnectedNet([50, 50], 12, 5, weight_scale=0.1, dtype=np.float64, init="normal", init_seed=0)
    solver = Solver(model, data, update_rule=rule, optim_config={"learning_rate": lr}, num_epochs=40,
                    batch_size=25, verbose=False, seed=0, num_train_samples=None)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert len(solver.loss_history) == 40 * 2 and len(solver.val_acc_history) == 41


def test_solver_uses_the_fused_trainer_for_the_seed_net():
    data = _small_data(seed=1)
    model = TwoLayerNet(input_dim=12, hidden_dim=30, num_classes=5, weight_scale=0.1, dtype=np.float32, init="normal", init_seed=0)
    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 0.1}, num_epochs=30,
                    batch_size=25, verbose=False, seed=0, num_train_samples=None)
    assert solver._fused_inputs() is not None
    solver.train()
    assert solver.loss_history[-1] < solver.loss_history[0]


def test_checkpoint_round_trip(tmp_path):
    data = _small_data(seed=2)
    options = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=25, verbose=False, seed=0)
    net = dict(dtype=np.float64, init="normal", init_seed=0)
    straight = Solver(FullyConnectedNet([20], 12, 5, **net), data, num_epochs=4, **options)
    straight.train()
    first = Solver(FullyConnectedNet([20], 12, 5, **net), data, num_epochs=2,
                   checkpoint_name=str(tmp_path / "run"), **options)
    first.train()
    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_2.npz", data, num_epochs=4, verbose=False)
    assert resumed.epoch == 2 and len(resumed.loss_history) == 2 * 2
    resumed.train()
    np.testing.assert_allclose(resumed.loss_history, straight.loss_history, rtol=1e-12)
    for name in straight.model.params:
        np.testing.assert_allclose(resumed.model.params[name], straight.model.params[name], rtol=1e-12)


def test_solver_bad_arguments():
    data = _small_data()
    model = TwoLayerNet(input_dim=12, hidden_dim=4, num_classes=5)
    with pytest.raises(ValueError, match="unrecognised arguments.*learning_rate"):
        Solver(model, data, learning_rate=1e-3)
    with pytest.raises(ValueError, match="update_rule"):
        Solver(model, data, update_rule="adamw")
    with pytest.raises(ValueError, match="data"):
        Solver(model, {"X_train": data["X_train"]})


@pytest.mark.parametrize("name", ["he", "xavier", "normal", "uniform"])
def test_initialisers(name):
    make = init.get_init(name)
    a = make(400, 300, seed=5, dtype=np.float32, weight_scale=0.05)
    assert a.shape == (400, 300) and a.dtype == np.float32
    np.testing.assert_array_equal(a, make(400, 300, seed=5, dtype=np.float32, weight_scale=0.05))
    expected_std = {"he": np.sqrt(2 / 400), "xavier": np.sqrt(2 / 700), "normal": 0.05, "uniform": np.sqrt(1 / 12)}[name]
    assert a.std() == pytest.approx(expected_std, rel=0.02)
    with pytest.raises(ValueError, match="init"):
        init.get_init("orthogonal")


def test_augment_probability_transforms_only_that_fraction():
    X = np.random.default_rng(0).random((400, 64)).astype(np.float32)
    shift = {"max_shift": 1, "max_degrees": 0, "noise_std": 0}
    np.testing.assert_array_equal(Augment(**shift, probability=0.0, seed=1)(X), X)  # shift 0 and angle 0 copy exactly
    out = Augment(**shift, probability=0.3, seed=1)(X)
    np.testing.assert_array_equal(out, Augment(**shift, probability=0.3, seed=1)(X))
    changed = (out != X).any(axis=1).mean()
    assert 0.15 < changed < 0.3  # 30% drawn, of which the shifts by (0, 0) (1 in 9) change nothing
    everything = Augment(**shift, seed=1)
    state = everything.checkpoint_state()
    assert state["settings"]["probability"] == 1.0 and Augment.from_checkpoint_state(state).probability == 1.0
    for bad in (-0.1, 1.5, "0.3", True):
        with pytest.raises(ValueError, match="probability: expected a number in \\[0, 1\\]"):
            Augment(probability=bad)


def test_keep_best_false_ends_with_the_last_parameters():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 5)), rng.integers(0, 3, 60)
    data = {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}
    runs = {}
    for keep in (True, False):
        model = TwoLayerNet(5, 8, 3, weight_scale=0.1, init="normal", init_seed=0)
        solver = Solver(model, data, num_epochs=5, batch_size=10, verbose=False, seed=0, keep_best=keep, optim_config={"learning_rate": 0.5})
        solver.train()
        runs[keep] = (model.params, solver)
    # Both runs take the same steps (the same histories); they end with different weights where the best epoch was not the last.
    (last, without), (best, with_best) = runs[False], runs[True]
    assert without.val_acc_history == with_best.val_acc_history and without.val_acc_history[-1] < with_best.best_val_acc
    assert all(np.array_equal(best[k], with_best.best_params[k]) for k in best)
    assert any(not np.array_equal(last[k], best[k]) for k in last)
    with pytest.raises(TypeError, match="keep_best: expected a bool"):
        Solver(TwoLayerNet(5, 8, 3), data, keep_best=1)


def test_augment_is_seeded_and_shifts():
    X = np.zeros((3, 64), np.float32)
    X[:, 27] = 1.0  # one lit pixel at row 3, column 3
    a, b = Augment(seed=1)(X), Augment(seed=1)(X)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == X.shape
    only_shift = Augment(max_shift=1, max_degrees=0, noise_std=0, seed=2)(X)
    for image in only_shift.reshape(3, 8, 8):
        r, c = np.unravel_index(image.argmax(), (8, 8))
        assert abs(r - 3) <= 1 and abs(c - 3) <= 1 and image.sum() == pytest.approx(1.0)
    identity = Augment(max_shift=0, max_degrees=0, noise_std=0, seed=3)(X)
    np.testing.assert_array_equal(identity, X)
    with pytest.raises(ValueError, match="X: expected shape"):
        Augment()(np.ones((2, 10)))


@pytest.mark.parametrize("cls, args", [("ThreeLayerConvNet", {"input_dim": (1, 8, 8)}), ("FullyConnectedNet", {"hidden_dims": [5], "input_dim": 64})])
@pytest.mark.parametrize("option, error, words", [
    ({"dtype": np.int32}, TypeError, "dtype: expected float32 or float64, got int32"),
    ({"dtype": "float16"}, TypeError, "dtype: expected float32 or float64, got float16"),
    ({"weight_scale": "1e-3"}, TypeError, "weight_scale: expected a number, got str"),
    ({"weight_scale": float("nan")}, ValueError, "weight_scale: expected a finite number >= 0"),
    ({"reg": -1.0}, ValueError, "reg: expected a finite number >= 0, got -1.0"),
])
def test_model_options_are_checked(cls, args, option, error, words):
    from fastnn.classifiers.cnn import ThreeLayerConvNet
    from fastnn.classifiers.fc_net import FullyConnectedNet

    with pytest.raises(error) as info:
        {"ThreeLayerConvNet": ThreeLayerConvNet, "FullyConnectedNet": FullyConnectedNet}[cls](**args, **option)
    assert words in str(info.value)


@pytest.mark.parametrize("X", [np.ones((2, 1, 8, 8), complex), np.full((2, 1, 8, 8), "a"), np.empty((2, 1, 8, 8), object)])
def test_models_refuse_complex_string_and_object_data(X):
    from fastnn.classifiers.cnn import ThreeLayerConvNet
    from fastnn.classifiers.fc_net import FullyConnectedNet

    for model in (ThreeLayerConvNet(input_dim=(1, 8, 8)), FullyConnectedNet([5], input_dim=64)):
        with pytest.raises(TypeError, match=f"X: expected real numbers, got dtype {X.dtype}"):
            model.loss(X, np.zeros(2, int))
