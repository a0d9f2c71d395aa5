"""Numerical gradient checks (float64, centred differences)."""

import random

import numpy as np
import pytest

import fastnn.layers as L
from fastnn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse, rel_error
from fastnn import catalog
from fastnn.gradcheck import check_layers

CHECKS = check_layers(L, seed=0)


@pytest.mark.parametrize("check", CHECKS, ids=[f"{c.layer}-{c.grad}" for c in CHECKS])
def test_backward_matches_numerical_gradient(check):
    assert check.passed, f"{check.layer} {check.grad}: relative error {check.error:.2e} > {check.tolerance:.0e}"


def test_tolerances_are_the_issue_bounds():
    bounds = {"affine": 1e-8, "relu": 1e-8, "affine_relu": 1e-8, "softmax_loss": 1e-7, "svm_loss": 1e-7, "dropout": 1e-9,
              "batchnorm": 1e-7, "batchnorm (test mode)": 1e-7, "batchnorm_alt": 1e-7, "layernorm": 1e-7,
              "affine_batchnorm_relu": 1e-6, "affine_layernorm_relu": 1e-6,
              "conv": 1e-8, "max_pool": 1e-11, "conv_relu": 1e-8, "conv_relu_pool": 1e-8, "conv_bn_relu": 1e-6}
    for entry in catalog.LAYERS:
        assert entry.gradcheck_tolerance <= bounds.get(entry.name, 1e-7), entry.name


def test_every_backward_of_the_layer_api_is_checked():
    backwards = {name for name in L.__all__ if "backward" in name} | {"softmax_loss", "svm_loss"}
    assert backwards <= {c.backward for c in CHECKS}
    assert {entry.name for entry in catalog.LAYERS} == {c.layer for c in CHECKS}


def test_every_gradient_of_every_layer_is_checked():
    for entry in catalog.LAYERS:
        checked = [c.grad.split(" ")[0] for c in CHECKS if c.layer == entry.name]
        assert checked == list(entry.grads), entry.name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_seeds_pass_too(seed):
    failures = [(c.layer, c.grad, c.error) for c in check_layers(L, seed=seed) if not c.passed]
    assert not failures


def test_eval_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = eval_numerical_gradient(lambda v: np.sum(v**3), x.copy(), verbose=False)
    assert rel_error(grad, 3 * x**2) < 1e-9


def test_eval_numerical_gradient_array_of_a_known_function():
    rng = np.random.default_rng(0)
    x, df = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    grad = eval_numerical_gradient_array(np.sin, x.copy(), df)
    assert rel_error(grad, np.cos(x) * df) < 1e-8


def test_numerical_gradients_restore_x():
    x = np.arange(6.0).reshape(2, 3)
    original = x.copy()
    eval_numerical_gradient(np.sum, x, verbose=False)
    eval_numerical_gradient_array(lambda v: v * 2, x, np.ones_like(x))
    grad_check_sparse(np.sum, x, np.ones_like(x), num_checks=3)
    np.testing.assert_array_equal(x, original)


def test_grad_check_sparse_reports_errors(capsys):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4))
    y = rng.integers(4, size=5)
    _, dx = L.softmax_loss(x, y)
    random.seed(0)
    errors = grad_check_sparse(lambda v: L.softmax_loss(v, y)[0], x, dx, num_checks=5, return_errors=True)
    assert len(errors) == 5 and max(errors) < 1e-7
    first = capsys.readouterr().out
    assert first.count("relative error") == 5
    random.seed(0)  # the positions come from Python's random, as in the course
    assert grad_check_sparse(lambda v: L.softmax_loss(v, y)[0], x, dx, num_checks=5) is None
    assert capsys.readouterr().out == first


def test_rel_error_floor():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1.0], [1.0 + 1e-6]) == pytest.approx(5e-7, rel=1e-3)
