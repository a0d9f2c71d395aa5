"""Whole models on the GPU: FullyConnectedNet(backend="cuda") trained by the
Solver on the simulator against the same run on the CPU; checkpoints that
cross between GPU and CPU; streams; ``out=``; the device helpers the Solver
uses (row gathers, accuracy counts, the L2 term).

Sizes are a few blocks per kernel: the simulator takes about 0.2 s per
block that synchronises its threads, so one training step here costs
seconds.  Everything is float64 and held to 1e-10, the issue's bound; the
differences measured are about 1e-16 (the GPU reduces its sums in another
order).
"""

import inspect

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")
G = pytest.importorskip("fastnn.cuda")

import fastnn.layers as L  # noqa: E402
from fastnn.classifiers.fc_net import FullyConnectedNet  # noqa: E402
from fastnn.solver import Solver  # noqa: E402

D = G.to_device
TOLERANCE = 1e-10

_rng = np.random.default_rng(7)
DATA = {"X_train": _rng.standard_normal((12, 6)), "y_train": _rng.integers(0, 4, 12),
        "X_val": _rng.standard_normal((6, 6)), "y_val": _rng.integers(0, 4, 6)}


def _model(backend, dropout=1, seed=None):
    np.random.seed(3)
    return FullyConnectedNet([3], input_dim=6, num_classes=4, normalization="batchnorm", reg=0.05,
                             dropout_keep_ratio=dropout, dtype=np.float64, backend=backend, seed=seed)


def _solver(model, **kwargs):
    options = {"update_rule": "sgd_momentum", "optim_config": {"learning_rate": 0.1}, "num_epochs": 1,
               "batch_size": 4, "verbose": False, "seed": 5, "num_train_samples": 8, **kwargs}
    return Solver(model, DATA, **options)


def _host(tree):
    if isinstance(tree, dict):
        return {k: _host(v) for k, v in tree.items()}
    return G.to_host(tree) if G.is_device_array(tree) else tree


def _assert_same_run(gpu, cpu):
    """Two Solvers' histories, parameters and running averages agree to TOLERANCE."""
    np.testing.assert_allclose(gpu.loss_history, cpu.loss_history, rtol=0, atol=TOLERANCE)
    assert all(type(v) is np.float64 for v in gpu.loss_history)
    assert gpu.train_acc_history == cpu.train_acc_history and gpu.val_acc_history == cpu.val_acc_history
    for name, w in cpu.model.params.items():
        np.testing.assert_allclose(_host(gpu.model.params[name]), w, rtol=0, atol=TOLERANCE, err_msg=name)
        np.testing.assert_allclose(_host(gpu.best_params[name]), cpu.best_params[name], rtol=0, atol=TOLERANCE)
    for got, want in zip(gpu.model.bn_params, cpu.model.bn_params):
        for key in ("running_mean", "running_var"):
            np.testing.assert_allclose(_host(got[key]), want[key], rtol=0, atol=TOLERANCE)


def test_fc_net_trains_on_gpu_as_on_cpu():
    cpu = _solver(_model("cpu"))
    cpu.train()
    gpu_model = _model("cuda")
    assert gpu_model.backend == "cuda" and G.is_device_array(gpu_model.params["W1"])
    gpu = _solver(gpu_model)
    gpu.train()
    _assert_same_run(gpu, cpu)
    assert G.is_device_array(gpu.best_params["W1"]) and G.is_device_array(gpu.model.params["gamma1"])
    assert G.is_device_array(gpu.model.bn_params[0]["running_mean"])


def test_default_recipe_trains_on_gpu_as_on_cpu():
    """fastnn train --backend cuda's path: the recipe's Solver and test scoring on the device (a tiny split)."""
    from fastnn.digits.data import Split
    from fastnn.digits.recipe import DefaultRecipe, train_recipe

    rng = np.random.default_rng(4)
    split = Split(rng.integers(0, 17, (20, 64)).astype(np.float64), rng.integers(0, 17, (4, 64)).astype(np.float64),
                  rng.integers(0, 10, 20), rng.integers(0, 10, 4))
    results = [train_recipe(DefaultRecipe(hidden=(3,), epochs=1, batch_size=9, ensemble=1, backend=backend), split, progress=False)
               for backend in ("cpu", "cuda")]
    (cpu,), (gpu,) = (r.solvers for r in results)
    assert gpu.model.backend == "cuda"
    np.testing.assert_allclose(gpu.loss_history, cpu.loss_history, rtol=0, atol=TOLERANCE)
    assert results[0].member_accuracies == results[1].member_accuracies


class _Recording:
    """fastnn.cuda, recording every training-mode dropout mask it draws."""

    def __init__(self):
        self.masks = []

    def __getattr__(self, name):
        return getattr(G, name)

    def dropout_forward(self, x, dropout_param):
        out, cache = G.dropout_forward(x, dropout_param)
        self.masks.append(None if cache[1] is None else G.to_host(cache[1]))
        return out, cache


class _Replaying:
    """fastnn.layers, with dropout taking the recorded GPU masks in order (the CPU formula given the mask)."""

    def __init__(self, masks):
        self.masks = list(masks)

    def __getattr__(self, name):
        return getattr(L, name)

    def dropout_forward(self, x, dropout_param):
        keep = self.masks.pop(0)
        if keep is None:
            return L.dropout_forward(x, dropout_param)
        return (x * (keep / dropout_param["p"])).astype(x.dtype), (dict(dropout_param), keep)


def test_dropout_on_gpu_has_the_keep_rate_and_replays_on_cpu():
    """The GPU's masks differ from NumPy's; their keep rate is p, and given them the CPU trains to the same numbers."""
    p = 0.6
    gpu_model = _model("cuda", dropout=p)
    gpu_model.layers = recording = _Recording()
    gpu = _solver(gpu_model)
    gpu.train()
    train_masks = [m for m in recording.masks if m is not None]
    assert len(train_masks) == 3
    kept, total = sum(int(m.sum()) for m in train_masks), sum(m.size for m in train_masks)
    assert abs(kept - p * total) <= 5 * np.sqrt(total * p * (1 - p))
    assert len({m.tobytes() for m in train_masks}) == len(train_masks)

    cpu_model = _model("cpu", dropout=p)
    cpu_model.layers = _Replaying(recording.masks)
    cpu = _solver(cpu_model)
    cpu.train()
    gpu_model.layers = G
    _assert_same_run(gpu, cpu)


@pytest.mark.parametrize("first, second", [("cuda", "cpu"), ("cpu", "cuda")])
def test_checkpoint_crosses_between_gpu_and_cpu(tmp_path, first, second):
    straight = _solver(_model("cpu"), num_epochs=2)
    straight.train()
    solver = _solver(_model(first), checkpoint_name=str(tmp_path / "run"))
    solver.train()
    state = np.load(solver.last_checkpoint, allow_pickle=False)
    assert all(state[k].dtype != object for k in state.files)
    resumed = Solver.load_checkpoint(solver.last_checkpoint, DATA, backend=second, num_epochs=2)
    assert resumed.model.backend == second
    resumed.train()
    _assert_same_run(resumed, straight)


def test_model_moves_and_refuses_what_it_cannot_do():
    model = _model("cuda")
    with pytest.raises(ValueError, match="augment: it works on host batches"):
        _solver(model, augment=lambda X: X)
    state = model.checkpoint_state()
    assert type(state["attributes"]["params"]["W1"]) is np.ndarray
    assert model.to("cpu") is model and model.backend == "cpu" and model.layers is L
    assert type(model.params["W1"]) is np.ndarray
    with pytest.raises(ValueError, match="backend: expected 'cpu' or 'cuda', got 'gpu'"):
        model.to("gpu")
    with pytest.raises(ValueError, match="layers: backend='cuda' runs fastnn.cuda"):
        FullyConnectedNet([3], input_dim=6, num_classes=4, layers=__import__("fastnn.reference").reference, backend="cuda")


# ------------------------------------------------ the device helpers


def test_count_correct_is_argmax_on_the_device():
    scores = np.array([[1.0, 3.0, 3.0], [np.nan, 5.0, np.nan], [2.0, 1.0, 0.0], [0.0, np.inf, np.nan]])
    y = np.array([1, 0, 2, 2])
    count = G.count_correct(D(scores), D(y))
    assert G.correct_count(count) == int(np.sum(np.argmax(scores, axis=1) == y)) == 3
    assert G.count_correct(D(scores), D(y), into=count) is count and G.correct_count(count) == 6
    # The labels are counted on the device, and the read raises.
    bad = G.count_correct(D(scores), D(np.array([0, -1, 0, 3])))
    np.testing.assert_array_equal(G.to_host(bad), [1, 2])
    with pytest.raises(ValueError, match="y: expected labels in \\[0, C\\) for scores with C classes, got 2 outside"):
        G.correct_count(bad)
    with pytest.raises(TypeError, match="into: expected a contiguous int64 device array of shape"):
        G.count_correct(D(scores), D(y), into=D(np.zeros(1, np.int64)))
    with pytest.raises(TypeError, match="counts: expected the int64 device array of shape"):
        G.correct_count(D(np.zeros(1, np.int64)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_helpers_round_as_numpy(dtype):
    rng = np.random.default_rng(1)
    w, g = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 3)).astype(dtype)
    got = D(g)
    G.add_scaled(got, D(w), 0.3)
    expected = g.copy()
    expected += 0.3 * w
    # Within an ulp of each term: a GPU may fuse the product and the sum into one FMA.
    bound = np.finfo(dtype).eps * (np.abs(g) + np.abs(0.3 * w))
    assert np.all(np.abs(G.to_host(got) - expected) <= bound)
    np.testing.assert_allclose(G.sum_of_squares(D(w)), np.sum(w.astype(np.float64) ** 2), rtol=1e-15)
    with pytest.raises(TypeError, match="y, x: expected float32 or float64 arrays of one dtype"):
        G.add_scaled(got, D(w.astype(np.float32 if dtype == np.float64 else np.float64)), 1.0)


def test_take_rows_and_astype():
    y = np.arange(6) * 10
    np.testing.assert_array_equal(G.to_host(G.take_rows(D(y), D(np.array([5, 0, 5])))), [50, 0, 50])
    x = np.linspace(-1, 1, 7)
    assert G.to_host(G.astype(D(x), np.float32)).tobytes() == x.astype(np.float32).tobytes()
    with pytest.raises(TypeError, match="dtype: expected float32, float64 or int64"):
        G.astype(D(x), np.int8)


# ------------------------------------------------ out= and streams


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_out_matches_cpu_in_every_aliasing(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(12).astype(dtype)
    dout = rng.standard_normal(12).astype(dtype)
    want, _ = L.relu_forward(x)
    want_dx = L.relu_backward(dout, x)

    out = G.empty_like(D(x))
    got, cache = G.relu_forward(D(x), out=out)
    assert got is out
    np.testing.assert_array_equal(G.to_host(got), want)

    xd = D(x)
    got, cache = G.relu_forward(xd, out=xd)  # in place: the cache keeps a copy of x
    np.testing.assert_array_equal(G.to_host(got), want)
    np.testing.assert_array_equal(G.to_host(cache), x)

    buf = D(np.concatenate([x, np.zeros(4, dtype)]))
    got, cache = G.relu_forward(buf[:12], out=buf[4:16])  # partly overlapping: through a temporary
    np.testing.assert_array_equal(G.to_host(got), want)
    np.testing.assert_array_equal(G.to_host(cache), x)

    dd = D(dout)
    assert G.relu_backward(dd, D(x), out=dd) is dd
    np.testing.assert_array_equal(G.to_host(dd), want_dx)
    buf = D(np.concatenate([np.zeros(3, dtype), dout]))
    got = G.relu_backward(buf[3:], D(x), out=buf[:12])
    np.testing.assert_array_equal(G.to_host(got), want_dx)


def test_relu_out_is_checked():
    x = D(np.ones(4))
    with pytest.raises(TypeError, match="out: expected a GPU array, got numpy.ndarray"):
        G.relu_forward(x, out=np.empty(4))
    with pytest.raises(TypeError, match="out: expected dtype float64, got dtype float32"):
        G.relu_forward(x, out=D(np.empty(4, np.float32)))
    with pytest.raises(ValueError, match="out: expected shape"):
        G.relu_backward(x, x, out=D(np.empty(5)))
    with pytest.raises(ValueError, match="out: expected a C-contiguous array"):
        G.relu_forward(x, out=D(np.empty(8))[::2])


def test_every_layer_function_is_on_the_gpu_with_the_cpu_signature_plus_stream():
    assert set(L.__all__) <= set(G.__all__), sorted(set(L.__all__) - set(G.__all__))
    for name in L.__all__:
        cpu, gpu = inspect.signature(getattr(L, name)), inspect.signature(getattr(G, name))
        params = list(gpu.parameters.values())
        assert params[-1].name == "stream" and params[-1].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert [str(p) for p in params[:-1]] == [str(p) for p in cpu.parameters.values()], name


def test_every_kernel_launches_on_the_callers_stream():
    from numba import cuda

    from fastnn.kernels.cuda.observe import Observer, observe

    streams = []

    class Streams(Observer):
        def launched(self, kernel, config, args):
            streams.append(config[2] if len(config) > 2 else 0)

    import fastnn.cuda.optim as gpu_optim

    rng = np.random.default_rng(0)
    x, w, b = D(rng.standard_normal((3, 4))), D(rng.standard_normal((4, 2))), D(np.zeros(2))
    y = D(np.array([0, 1, 1]))
    s = cuda.stream()

    def run(**stream):
        out, cache = G.affine_relu_forward(x, w, b, **stream)
        loss, dout = G.softmax_loss(out, y, **stream)
        dx, dw, db = G.affine_relu_backward(dout, cache, **stream)
        bn, bn_cache = G.batchnorm_forward(x, D(np.ones(4)), D(np.zeros(4)), {"mode": "train"}, **stream)
        G.batchnorm_backward(bn, bn_cache, **stream)
        G.dropout_backward(bn, G.dropout_forward(bn, {"mode": "train", "p": 0.5}, **stream)[1], **stream)
        G.count_correct(out, y, **stream)
        G.take_rows(x, D(np.array([2, 0])), **stream)
        gpu_optim.adam(w, dw, {}, **stream)
        return loss

    with observe(Streams()):
        assert run() == run(stream=s)
    half = len(streams) // 2
    assert half >= 20 and streams[:half] == [0] * half  # 20 launches a run since the losses and affine backward were fused
    assert all(st is s for st in streams[half:])
    with pytest.raises(TypeError, match="stream: expected a Numba stream, a torch.cuda.Stream, a CuPy stream"):
        G.relu_forward(x, stream="default")
