"""Tunables in fastnn.config take effect when edited: kernels get them as
arguments at call time, never as globals frozen into cached machine code."""

import numpy as np
import pytest

import fastnn.layers as L
from fastnn import config
from fastnn.catalog import TOLERANCE
from fastnn.kernels.cpu import elementwise, losses


def _spy(monkeypatch, module, name, seen, position):
    kernel = getattr(module, name)

    def spy(*args):
        seen.append(args[position])
        return kernel(*args)

    monkeypatch.setattr(module, name, spy)


def test_softmax_block_reaches_the_kernel(monkeypatch):
    seen = []
    _spy(monkeypatch, losses, "softmax_span", seen, -1)
    x = np.random.default_rng(0).standard_normal((4, 10)).astype(np.float32)
    y = np.arange(4)
    expected = L.softmax_loss(x, y)
    monkeypatch.setattr(config, "SOFTMAX_BLOCK_ELEMENTS", 20)  # two rows per block instead of 204
    got = L.softmax_loss(x, y)
    assert seen == [2048, 20]
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])


def test_float64_softmax_block_reaches_the_kernel(monkeypatch):
    seen = []
    _spy(monkeypatch, losses, "_numpy_order_serial", seen, 5)
    x = np.random.default_rng(0).standard_normal((6, 10))
    y = np.arange(6)
    expected = L.softmax_loss(x, y)
    monkeypatch.setattr(config, "NUMPY_ORDER_BLOCK_ELEMENTS", 20)
    got = L.softmax_loss(x, y)
    assert seen == [13107, 2]  # rows per block: 2**17 // 10, then 20 // 10
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_svm_split_reaches_the_kernel_and_both_ways_agree(monkeypatch, dtype):
    # Rows split at the label, or one loop that selects it away: the same
    # dx bits and the same loss to the dtype's rounding, with the label
    # first, last and inside, and NaN and inf in the rows.
    seen = []
    _spy(monkeypatch, losses, "_svm_span", seen, -1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 100)).astype(dtype)
    x[3, 5], x[4, 7], x[5, 9] = np.nan, np.inf, -np.inf
    y = np.array([0, 99, 50, 5, 8, 9])
    expected = L.svm_loss(x, y)
    monkeypatch.setattr(config, "SVM_SPLIT_MIN_CLASSES", 101)
    got = L.svm_loss(x, y)
    assert seen == [96, 101]
    np.testing.assert_array_equal(got[1], expected[1])
    assert np.isnan(got[0]) and np.isnan(expected[0])
    finite = slice(0, 3)
    one_loop = L.svm_loss(x[finite], y[finite])
    monkeypatch.setattr(config, "SVM_SPLIT_MIN_CLASSES", 96)
    split = L.svm_loss(x[finite], y[finite])
    assert split[0] == pytest.approx(one_loop[0], rel=TOLERANCE[np.dtype(dtype)])
    np.testing.assert_array_equal(split[1], one_loop[1])


def test_dropout_chunk_reaches_the_kernel(monkeypatch):
    seen = []
    _spy(monkeypatch, elementwise, "dropout_forward", seen, -1)
    x = np.ones(1000)
    np.random.seed(0)
    expected = L.dropout_forward(x, {"p": 0.5, "mode": "train"})[1][1]
    monkeypatch.setattr(config, "DROPOUT_CHUNK", 7)
    np.random.seed(0)
    got = L.dropout_forward(x, {"p": 0.5, "mode": "train"})[1][1]
    assert seen == [4096, 7]
    np.testing.assert_array_equal(got, expected)


def test_parallel_threshold_is_read_at_call_time(monkeypatch):
    calls = []
    chunked = elementwise._relu_forward_chunked
    monkeypatch.setattr(elementwise, "_relu_forward_chunked", lambda *args: (calls.append(args[-1]), chunked(*args)))
    x = np.linspace(-1, 1, 1000)
    L.relu_forward(x)
    assert calls == []  # 1000 elements run serially by default
    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 100)
    monkeypatch.setattr(config, "CHUNK_ELEMENTS", 128)
    out, _ = L.relu_forward(x)
    assert calls == [128]
    np.testing.assert_array_equal(out, np.maximum(x, 0))
