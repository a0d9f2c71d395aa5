"""fastnn.output_pool: recycled blocks for large outputs are never shared by
two live arrays, stay within their idle limit, and change no layer's result."""

import os
import threading

import numpy as np
import pytest

import fastnn.layers as L
from fastnn import catalog, config, output_pool
from helpers import check_layer

MIB = 1 << 20


def _address(a):
    return a.__array_interface__["data"][0]


@pytest.fixture
def pool_everything(monkeypatch):
    """Every output of at least one byte comes from an empty pool."""
    monkeypatch.setattr(config, "OUTPUT_POOL_MIN_BYTES", 1)
    output_pool.clear()
    yield
    output_pool.clear()


def test_a_block_returns_only_when_its_last_view_is_gone(pool_everything):
    a = output_pool.empty((64, 32), np.float32)
    view = a[3:, ::2]
    first = _address(a)
    del a
    b = output_pool.empty((64, 32), np.float32)
    assert _address(b) != first and not np.shares_memory(b, view)
    del view
    c = output_pool.empty((32, 64), np.float32)  # same byte count, other shape
    assert _address(c) == first
    assert c.shape == (32, 64) and c.dtype == np.float32
    assert c.flags.c_contiguous and c.flags.writeable and not c.flags.owndata


def test_small_outputs_and_a_zero_limit_use_numpy(monkeypatch):
    small = output_pool.empty((10,), np.float64)
    assert small.flags.owndata  # 80 bytes < OUTPUT_POOL_MIN_BYTES
    monkeypatch.setattr(config, "OUTPUT_POOL_MIN_BYTES", 1)
    monkeypatch.setattr(config, "OUTPUT_POOL_MAX_IDLE_BYTES", 0)
    assert output_pool.empty((10,), np.float64).flags.owndata
    assert output_pool.idle_bytes() == 0


def test_idle_blocks_stay_within_the_limit_oldest_freed_first(pool_everything, monkeypatch):
    monkeypatch.setattr(config, "OUTPUT_POOL_MAX_IDLE_BYTES", 3 * MIB)
    blocks = [output_pool.empty((MIB,), np.uint8) for _ in range(4)]
    addresses = [_address(b) for b in blocks]
    while blocks:
        blocks.pop(0)  # given back in order; the fourth pushes the first out
    assert output_pool.idle_bytes() == 3 * MIB
    assert _address(output_pool.empty((MIB,), np.uint8)) in addresses[1:]
    too_big = output_pool.empty((4 * MIB,), np.uint8)
    del too_big  # larger than the limit: not kept
    assert output_pool.idle_bytes() <= 3 * MIB
    output_pool.clear()
    assert output_pool.idle_bytes() == 0


def test_live_arrays_never_share_a_block_across_threads(pool_everything):
    live, errors = [], []

    def work(seed):
        rng = np.random.default_rng(seed)
        mine = []
        for _ in range(300):
            a = output_pool.empty((int(rng.integers(1, 4)) * 1024,), np.float32)
            a[...] = seed
            mine.append(a)
            if len(mine) > 3:
                old = mine.pop(int(rng.integers(len(mine))))
                if not np.all(old == seed):
                    errors.append(seed)  # another thread wrote into a live array
        live.extend(mine)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({_address(a) for a in live}) == len(live)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_can_allocate(pool_everything):
    held = output_pool.empty((1024,), np.float64)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            output_pool.empty((1024,), np.float64)[...] = 1
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    del held


LAYERS = [entry.name for entry in catalog.on_backend("cpu")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_agrees_with_its_outputs_from_the_pool(name, dtype, pool_everything):
    entry = catalog.get(name)
    check_layer(name, dtype, size=entry.sizes["cpu"][0])
    check_layer(name, dtype, size=entry.sizes["cpu"][0], seed=1)  # on recycled blocks


def test_outputs_of_consecutive_calls_are_separate(pool_everything):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32))
    gamma, beta = np.ones(32), np.zeros(32)
    calls = [
        lambda: L.relu_forward(x)[0],
        lambda: L.dropout_forward(x, {"p": 0.5, "mode": "train"}),
        lambda: L.batchnorm_forward(x, gamma, beta, {"mode": "train"}),
        lambda: L.layernorm_forward(x, gamma, beta, {}),
        lambda: L.softmax_loss(x, rng.integers(32, size=64))[1],
    ]
    for call in calls:
        first, second = call(), call()
        arrays = [a for a in [*_arrays(first), *_arrays(second)] if not a.flags.owndata]
        assert len(arrays) >= 2
        for i, a in enumerate(arrays):
            for b in arrays[i + 1:]:
                assert not np.shares_memory(a, b)


def _arrays(result):
    """The arrays in a layer's result, caches included."""
    if isinstance(result, np.ndarray):
        yield result
    elif isinstance(result, (tuple, list)):
        for item in result:
            yield from _arrays(item)
