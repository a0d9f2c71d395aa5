"""fastnn.cuda against the NumPy reference and the CPU kernels.

Without a GPU (CI) these run on Numba's CUDA simulator, which conftest.py
switches on; its launch shapes are small (fastnn.config), so the small
inputs here still cross GEMM tiles and take every row-kernel path.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")
G = pytest.importorskip("fastnn.cuda")
GPU_OPTIM = pytest.importorskip("fastnn.cuda.optim")

import fastnn.layers as L  # noqa: E402
import fastnn.reference as R  # noqa: E402

from fastnn import catalog  # noqa: E402
from helpers import Backend, check_layer, random_array  # noqa: E402

DTYPES = [np.float32, np.float64]


def host(a):
    return a.copy_to_host()


GPU = Backend(G, G.to_device, host)


CASES = [(entry.name, size) for entry in catalog.on_backend("cuda") for size in entry.sizes["cuda"]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, size", CASES, ids=[f"{name}-{size}" for name, size in CASES])
def test_every_gpu_layer_agrees_with_the_reference_and_the_cpu(name, size, dtype):
    check_layer(name, dtype, GPU, size=size)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_logits(dtype):
    rng = np.random.default_rng(4)
    check_layer("softmax_loss", dtype, GPU, inputs=[(1e4 * rng.standard_normal((4, 6))).astype(dtype)], params=[rng.integers(6, size=4)])


def test_integer_and_mixed_inputs_become_float64():
    x = np.arange(6).reshape(2, 3)
    w = np.ones((3, 2), np.float32)
    out, _ = G.affine_forward(G.to_device(x), G.to_device(w), G.to_device(np.zeros(2)))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(host(out), x @ w)


def test_strided_device_views():
    rng = np.random.default_rng(5)
    x = random_array(rng, (6, 10), np.float64)
    view = G.to_device(x)[:, ::2]
    out, _ = G.relu_forward(view)
    np.testing.assert_array_equal(host(out), R.relu_forward(x[:, ::2])[0])


def test_float32_stays_float32():
    rng = np.random.default_rng(6)
    x, w, b = (G.to_device(random_array(rng, s, np.float32)) for s in [(4, 3), (3, 2), (2,)])
    out, cache = G.affine_relu_forward(x, w, b)
    grads = G.affine_relu_backward(out, cache)
    assert {a.dtype for a in (out, *grads)} == {np.dtype(np.float32)}


D = G.to_device


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: G.affine_forward(np.ones((2, 3)), D(np.ones((3, 2))), D(np.ones(2))), TypeError, ["x:", "GPU array", "numpy.ndarray", "fastnn.cuda.to_device(x)"]),
        (lambda: G.relu_forward([1.0, 2.0]), TypeError, ["x:", "GPU array", "list"]),
        (lambda: G.affine_forward(D(np.ones((2, 3))), D(np.ones((4, 2))), D(np.ones(2))), ValueError, ["w:", "(3, M)", "(4, 2)"]),
        (lambda: G.affine_forward(D(np.ones((2, 3))), D(np.ones((3, 2))), D(np.ones(3))), ValueError, ["b:", "(2,)", "(3,)"]),
        (lambda: G.affine_backward(D(np.ones((2, 3))), (D(np.ones((2, 3))), D(np.ones((3, 2))), D(np.ones(2)))), ValueError, ["dout:", "(2, 2)", "(2, 3)"]),
        (lambda: G.softmax_loss(D(np.ones(3)), D(np.zeros(3, np.int64))), ValueError, ["x:", "2-D", "(3,)"]),
        (lambda: G.softmax_loss(D(np.ones((2, 3))), D(np.zeros(3, np.int64))), ValueError, ["y:", "(2,)", "(3,)"]),
        (lambda: G.svm_loss(D(np.ones((2, 3))), D(np.array([0, 3]))), ValueError, ["y:", "[0, 3)", "y[1] = 3"]),
        (lambda: G.softmax_loss(D(np.ones((2, 3))), D(np.array([-1, 0]))), ValueError, ["y:", "y[0] = -1"]),
        (lambda: G.softmax_loss(D(np.ones((2, 3))), D(np.zeros(2))), TypeError, ["y:", "integer", "float64"]),
        (lambda: G.relu_forward(D(np.ones(3, np.complex128))), TypeError, ["x:", "float32 or float64", "complex128"]),
        (lambda: G.dropout_forward(D(np.ones(3)), {"mode": "train", "p": 0.0}), ValueError, ["dropout_param['p']", "(0, 1]", "0.0"]),
        (lambda: G.dropout_forward(D(np.ones(3)), {"mode": "eval", "p": 0.5}), ValueError, ["dropout_param", "'eval'"]),
        (lambda: G.dropout_forward(np.ones(3), {"mode": "train", "p": 0.5}), TypeError, ["x:", "GPU array"]),
        (lambda: G.dropout_backward(D(np.ones(3)), ({"p": 0.5}, D(np.ones(3)))), TypeError, ["cache's mask", "boolean"]),
        (lambda: G.dropout_backward(D(np.ones(4)), ({"p": 0.5}, D(np.ones(3, bool)))), ValueError, ["dout:", "(3,)", "(4,)"]),
        (lambda: G.batchnorm_forward(D(np.ones((2, 3))), D(np.ones(3)), D(np.ones(3)), {"mode": "train", "eps": -1}), ValueError, ["bn_param['eps']", "-1"]),
        (lambda: G.batchnorm_forward(D(np.ones((2, 3))), D(np.ones(2)), D(np.ones(3)), {"mode": "train"}), ValueError, ["gamma:", "(3,)", "(2,)"]),
        (lambda: G.batchnorm_forward(D(np.ones((0, 3))), D(np.ones(3)), D(np.ones(3)), {"mode": "train"}), ValueError, ["x:", "at least one row"]),
        (lambda: G.batchnorm_backward(D(np.ones((2, 3))), (D(np.ones((2, 3))), D(np.ones(3)), D(np.ones(2)), "train")), ValueError, ["cache's inv_std", "(3,)", "(2,)"]),
        (lambda: G.layernorm_forward(D(np.ones((2, 3))), D(np.ones(3)), D(np.ones(3)), None), TypeError, ["ln_param", "dict"]),
        (lambda: G.layernorm_backward(D(np.ones((2, 3))), (D(np.ones((2, 3))), D(np.ones(3)), D(np.ones(3)))), ValueError, ["cache's inv_std", "(2, 1)", "(3,)"]),
        (lambda: G.layernorm_backward(D(np.ones((2, 3))), (D(np.ones((2, 3))), D(np.ones(3)))), TypeError, ["cache", "layernorm_forward"]),
        (lambda: G.spatial_groupnorm_forward(D(np.ones((1, 4, 2, 2))), D(np.ones((1, 4, 1, 1))), D(np.ones((1, 4, 1, 1))), 3, {}), ValueError, ["G:", "divides", "C = 4", "3"]),
        (lambda: G.spatial_groupnorm_forward(D(np.ones((1, 4, 2, 2))), D(np.ones(4)), D(np.ones((1, 4, 1, 1))), 2, {}), ValueError, ["gamma:", "(1, 4, 1, 1)", "(4,)"]),
        (lambda: G.spatial_groupnorm_backward(D(np.ones((1, 4, 2, 2))), (D(np.ones((1, 4, 2, 2))), D(np.ones((1, 4, 1, 1))), D(np.ones((1, 4))), 2)), ValueError, ["cache's inv_std", "(1, 2)", "(1, 4)"]),
        (lambda: GPU_OPTIM.sgd(np.ones(3), D(np.ones(3))), TypeError, ["w:", "GPU array"]),
        (lambda: GPU_OPTIM.sgd(D(np.ones(3)), D(np.ones(4))), ValueError, ["dw:", "(3,)", "(4,)"]),
        (lambda: GPU_OPTIM.sgd(D(np.ones(3)), D(np.ones(3, np.float32))), TypeError, ["dw:", "float64", "float32"]),
        (lambda: GPU_OPTIM.adam(D(np.ones(3)), D(np.ones(3)), {"learning_rate": float("nan")}), ValueError, ["learning_rate", "finite"]),
        (lambda: GPU_OPTIM.sgd_momentum(D(np.ones(3)), D(np.ones(3)), {"velocity": np.ones(2)}), ValueError, ["config['velocity']", "(3,)", "(2,)"]),
        (lambda: GPU_OPTIM.rmsprop(D(np.ones(3)), D(np.ones(3)), []), TypeError, ["config", "dict", "list"]),
        (lambda: GPU_OPTIM.sgd(D(np.ones((3, 4)))[:, ::2], D(np.ones((3, 2))), {"in_place": True}), ValueError, ["w:", "in_place", "C-contiguous"]),
    ],
    ids=lambda v: None,
)
def test_bad_inputs_get_the_cpu_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_training_engine_matches_the_reference_loop():
    from fastnn.digits.data import Split
    from fastnn.digits.seed import SeedRecipe, engines, train_two_layer

    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((30, 8)), rng.integers(3, size=30)
    split = Split(X[:20], X[20:], y[:20], y[20:])
    recipe = SeedRecipe(iters=2, hidden=5, batch_size=4, lr=1e-2)
    gpu = train_two_layer(engines("cuda")["cuda"], split, recipe, progress=False)
    ref = train_two_layer("reference", split, recipe, progress=False)
    assert gpu.train_loss == pytest.approx(ref.train_loss, rel=1e-12)
    assert gpu.test_loss == pytest.approx(ref.test_loss, rel=1e-12)


def _foreign(library):
    lib = pytest.importorskip(library)
    if library == "torch" and not lib.cuda.is_available():
        pytest.skip("torch has no CUDA")
    return lib


def _pointer(library, a):
    return a.data.ptr if library == "cupy" else a.data_ptr()


@pytest.mark.skipif(G.SIMULATOR, reason="CuPy and torch CUDA tensors need a real GPU")
@pytest.mark.parametrize("library", ["cupy", "torch"])
def test_round_trip_with_other_gpu_arrays_without_a_copy(library):
    lib = _foreign(library)
    x = np.random.default_rng(8).standard_normal((5, 4)).astype(np.float32)
    foreign = lib.asarray(x) if library == "cupy" else lib.from_numpy(x).cuda()
    out, cache = G.relu_forward(foreign)
    np.testing.assert_array_equal(host(out), np.maximum(x, 0))
    # In without a copy: the cache is the caller's memory.
    assert cache.device_ctypes_pointer.value == _pointer(library, foreign)
    # Back without a copy: the library's array is fastnn's memory.
    back = lib.asarray(out) if library == "cupy" else lib.as_tensor(out, device="cuda")
    assert _pointer(library, back) == out.device_ctypes_pointer.value
    np.testing.assert_array_equal(back.get() if library == "cupy" else back.cpu().numpy(), np.maximum(x, 0))
    # out= writes into the caller's array.
    target = lib.zeros_like(foreign)
    result, _ = G.relu_forward(foreign, out=target)
    assert result.device_ctypes_pointer.value == _pointer(library, target)
    np.testing.assert_array_equal(target.get() if library == "cupy" else target.cpu().numpy(), np.maximum(x, 0))


@pytest.mark.skipif(G.SIMULATOR, reason="CuPy and torch streams need a real GPU")
@pytest.mark.parametrize("library", ["cupy", "torch"])
def test_kernels_interleave_on_the_callers_stream(library):
    """Library work, fastnn's kernels and library work again on one side stream, with no synchronisation between."""
    lib = _foreign(library)
    n = 1 << 22
    if library == "torch":
        stream = lib.cuda.Stream()
        with lib.cuda.stream(stream):
            x = lib.arange(n, device="cuda", dtype=lib.float32) - n / 2
            out, _ = G.relu_forward(x, stream=stream)
            total = lib.as_tensor(out, device="cuda").sum()
        stream.synchronize()
        got = float(total)
    else:
        stream = lib.cuda.Stream(non_blocking=True)
        with stream:
            x = lib.arange(n, dtype=lib.float32) - n / 2
            out, _ = G.relu_forward(x, stream=stream)
            total = lib.asarray(out).sum()
        stream.synchronize()
        got = float(total)
    expected = float(np.maximum(np.arange(n, dtype=np.float64) - n / 2, 0).sum())
    assert got == pytest.approx(expected, rel=1e-6)
    loss, _ = G.softmax_loss(G.to_device(np.zeros((3, 4), np.float32)), G.to_device(np.array([0, 1, 2])), stream=stream)
    assert loss == pytest.approx(np.log(4), rel=1e-6)


def test_import_without_a_gpu_or_simulator_says_what_is_missing():
    code = "import fastnn, fastnn.layers\ntry:\n    import fastnn.cuda\nexcept ImportError as e:\n    print('ImportError:', e)"
    env = {k: v for k, v in __import__("os").environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    if not G.SIMULATOR:
        pytest.skip("this machine has a GPU")
    assert "ImportError:" in result.stdout and "NUMBA_ENABLE_CUDASIM" in result.stdout


def test_cpu_import_does_not_load_numba_cuda():
    code = "import sys, fastnn.layers; print(any(m.startswith('numba.cuda') or m.startswith('numba_cuda') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_gpu_bench_plumbing_on_tiny_sizes():
    from fastnn.bench import cuda as bench_cuda

    rows, copy_gbs = bench_cuda.run(repeats=1, tiny=True)
    table = bench_cuda.format_table(rows, copy_gbs)
    for case in ("device-to-device copy", "train loop", *catalog.function_names("cuda")):
        assert case in table, case
    assert copy_gbs > 0


def test_gpu_bench_honours_dtype_and_only():
    from fastnn.bench import cuda as bench_cuda

    rows, _ = bench_cuda.run(repeats=1, tiny=True, dtypes=("float64",), only=("relu",))
    cases = [(name, size) for name, size, *_ in rows[1:]]
    assert cases and all(name.startswith("relu_") and size.endswith(" f64") for name, size in cases), cases


@pytest.mark.parametrize("argv, words", [
    (["--plot", "x.png"], "--plot draws the CPU table only"),
    (["--only", "optim"], "--only takes affine, relu, loss, norm, conv, train on the GPU, got optim"),
])
def test_bench_cuda_refuses_flags_it_cannot_honour(argv, words, capsys):
    from fastnn.cli import main

    assert main(["bench", "--backend", "cuda", *argv]) == 2
    assert words in capsys.readouterr().err


def test_bench_cuda_refuses_the_simulator(capsys):
    from fastnn.cli import main

    if not G.SIMULATOR:
        pytest.skip("this machine has a GPU")
    with pytest.raises(SystemExit, match="real GPU"):
        main(["bench", "--backend", "cuda"])


def test_a_wrong_float64_gpu_loss_fails_the_check(monkeypatch):
    # The check once read `assert a <= t32 if float32 else t64`, which for
    # float64 asserted a positive constant and could not fail.
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((5, 4)), rng.integers(4, size=5)
    right = G.softmax_loss
    monkeypatch.setattr(G, "softmax_loss", lambda *args: (right(*args)[0] * (1 + 1e-9), right(*args)[1]))
    with pytest.raises(AssertionError):
        check_layer("softmax_loss", np.float64, GPU, inputs=[x], params=[y])


def test_device_utilities():
    x = np.arange(12.0).reshape(4, 3)
    d = G.to_device(x)
    np.testing.assert_array_equal(host(G.take_rows(d, G.to_device(np.array([3, 0, 3])))), x[[3, 0, 3]])
    with pytest.raises(ValueError, match=r"rows: expected indices in \[0, 4\)"):
        G.take_rows(d, G.to_device(np.array([4])))
    w = G.to_device(np.ones(3))
    G.sgd_update(w, G.to_device(np.full(3, 2.0)), 0.25)
    np.testing.assert_array_equal(host(w), [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="lr: expected a finite number"):
        G.sgd_update(w, w, float("nan"))
    assert G.empty_like(d).shape == (4, 3)
    G.synchronize()
    assert isinstance(G.device_name(), str)


def test_only_fastnn_cuda_imports_the_cuda_kernels():
    root = Path(__file__).resolve().parent.parent
    needles = ("kernels import " + "cuda", "kernels." + "cuda")  # split, so this file does not match
    importers = sorted(
        str(path.relative_to(root)) for folder in ("fastnn", "asv_bench", "tests", "tools")
        for path in (root / folder).rglob("*.py")
        if any(n in path.read_text() for n in needles)
    )
    # and the test harness that observes launches and compiles every kernel
    assert importers == ["fastnn/cuda/__init__.py", "fastnn/cuda/optim.py", "tests/conftest.py", "tests/kernel_signatures.py",
                         "tests/test_cuda_budget.py", "tests/test_cuda_compiles.py", "tests/test_cuda_model.py"]


# ------------------------------------------------ convolution and pooling


def test_conv_and_pool_match_the_notebook_on_the_gpu():
    from test_conv import CONV_GOLDEN, POOL_GOLDEN

    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = G.conv_forward_naive(G.to_device(x), G.to_device(w), G.to_device(b), {"stride": 2, "pad": 1})
    np.testing.assert_allclose(host(out).reshape(2, 3, 4), CONV_GOLDEN, rtol=0, atol=5e-8)
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    out, _ = G.max_pool_forward_naive(G.to_device(x), {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_allclose(host(out).reshape(2, 3, 4), POOL_GOLDEN, rtol=0, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_ties_and_nan_on_the_gpu(dtype):
    x = np.array([[[[1, 3, 3], [3, 0, 3], [2, 3, 1]], [[np.nan, 1, np.nan], [2, 2, 2], [0, 0, 0]]]], dtype)
    param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    dout = np.arange(8, dtype=dtype).reshape(1, 2, 2, 2) + 1
    check_layer("max_pool", dtype, GPU, inputs=[x], params=[param])
    out, cache = G.max_pool_forward_naive(G.to_device(x), param)
    np.testing.assert_array_equal(host(G.max_pool_backward_naive(G.to_device(dout), cache)),
                                  L.max_pool_backward_naive(dout, L.max_pool_forward_naive(x, param)[1]))


def test_forged_pool_offsets_are_refused_on_the_gpu():
    x = G.to_device(np.random.default_rng(9).standard_normal((1, 2, 4, 4)))
    out, (cx, param, arg) = G.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"cache's arg: expected window offsets in \[0, 4\), got 8 outside"):
        G.max_pool_backward_naive(out, (cx, param, G.to_device(np.full((1, 2, 2, 2), 9, np.uint8))))
    with pytest.raises(TypeError, match="cache's arg: expected a uint8"):
        G.max_pool_backward_naive(out, (cx, param, G.to_device(np.zeros((1, 2, 2, 2), np.int64))))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: G.conv_forward_naive(np.ones((1, 1, 3, 3)), D(np.ones((1, 1, 1, 1))), D(np.ones(1)), {"stride": 1, "pad": 0}),
         TypeError, ["x:", "GPU array", "fastnn.cuda.to_device(x)"]),
        (lambda: G.conv_forward_naive(D(np.ones((1, 1, 2, 4))), D(np.ones((1, 1, 3, 3))), D(np.ones(1)), {"stride": 2, "pad": 0}),
         ValueError, ["conv_param: height", "the window of 3 does not fit in the input of 2"]),
        (lambda: G.max_pool_forward_naive(D(np.ones((1, 1, 1, 5))), {"pool_height": 2, "pool_width": 2, "stride": 2}),
         ValueError, ["pool_param: height", "the window of 2 does not fit in the input of 1"]),
        (lambda: G.spatial_batchnorm_forward(D(np.ones((2, 3, 2, 2))), D(np.ones(2)), D(np.ones(3)), {"mode": "train"}),
         ValueError, ["gamma:", "(3,)", "(2,)"]),
    ],
)
def test_bad_conv_inputs_on_the_gpu(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_spatial_batchnorm_running_averages_stay_on_the_device():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 4, 4)) * 2 + 1
    param, ref = {"mode": "train"}, {"mode": "train"}
    for _ in range(2):
        G.spatial_batchnorm_forward(G.to_device(x), G.to_device(np.ones(3)), G.to_device(np.zeros(3)), param)
        L.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), ref)
    assert not isinstance(param["running_mean"], np.ndarray)
    np.testing.assert_allclose(host(param["running_mean"]), ref["running_mean"], rtol=1e-14)
    np.testing.assert_allclose(host(param["running_var"]), ref["running_var"], rtol=1e-14)


from hypothesis import given, settings  # noqa: E402

from test_properties import conv_inputs, pool_inputs  # noqa: E402


@settings(max_examples=12, deadline=None)
@given(conv_inputs())
def test_conv_agrees_with_reference_on_the_gpu(case):
    dtype, arrays, conv_param = case
    check_layer("conv", dtype, GPU, inputs=arrays, params=[conv_param])


@settings(max_examples=12, deadline=None)
@given(pool_inputs())
def test_max_pool_agrees_with_reference_on_the_gpu(case):
    dtype, x, pool_param = case
    check_layer("max_pool", dtype, GPU, inputs=[x], params=[pool_param])


def test_gpu_bench_hands_pytorch_the_arrays_and_dout():
    # Every PyTorch counterpart unpacks (arrays..., dout); the GPU bench once built
    # the forward row before dout was appended, which only a GPU with torch would show.
    torch = pytest.importorskip("torch")
    from fastnn.bench import cuda as bench_cuda

    class HostTorch:
        """PyTorch on the host standing in for PyTorch on the GPU: tensors are host copies of the device arrays."""

        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def as_tensor(a, device=None):
            return torch.from_numpy(a.copy_to_host())

    for entry in catalog.on_backend("cuda"):
        if entry.torch is not None:
            # batchnorm's last size has one row, whose batch statistics torch refuses
            size = entry.sizes["cuda"][-2 if entry.name == "batchnorm" else -1]
            rows = bench_cuda._layer_rows(G, entry, size, HostTorch(), repeats=1)
            assert "torch" in rows[0][2], entry.name


@pytest.mark.parametrize("where", ["w", "x", "dout"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("stride, pad", [(1, 1), (2, 1), (1, 0)])
def test_conv_backward_spreads_a_non_finite_value_only_where_the_reference_does(where, bad, stride, pad):
    # dx is an implicit GEMM over every (filter, tap): a tap that reaches an
    # input from no output must add nothing, not w * 0, which is NaN for an inf or NaN w.
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    conv_param = {"stride": stride, "pad": pad}
    dout = rng.standard_normal(R.conv_forward_naive(x, w, np.zeros(3), conv_param)[0].shape)
    {"w": w, "x": x, "dout": dout}[where].flat[9] = bad
    want = R.conv_backward_naive(dout, R.conv_forward_naive(x, w, np.zeros(3), conv_param)[1])
    _, gpu_cache = G.conv_forward_naive(D(x), D(w), D(np.zeros(3)), conv_param)
    for name, g, r in zip(("dx", "dw", "db"), G.conv_backward_naive(D(dout), gpu_cache), want):
        got = host(g)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(r), err_msg=f"{name}: NaN positions")
        np.testing.assert_array_equal(np.isinf(got), np.isinf(r), err_msg=f"{name}: inf positions")
        finite = np.isfinite(r)
        np.testing.assert_allclose(got[finite], r[finite], rtol=1e-12, atol=1e-12, err_msg=name)


def test_a_relu_cache_of_none_is_refused_not_skipped():
    out, (conv_cache, _) = G.conv_relu_forward(D(np.ones((1, 1, 4, 4))), D(np.ones((2, 1, 3, 3))), D(np.zeros(2)), {"stride": 1, "pad": 1})
    with pytest.raises(TypeError, match="relu_cache: expected the convolution's output array cached by conv_relu_forward, got None"):
        G.conv_relu_backward(out, (conv_cache, None))


@pytest.mark.parametrize("size, window, stride, pad", [(6, 3, 2, 0), (7, 2, 2, 0)])
def test_a_geometry_that_does_not_tile_floors_on_the_gpu(size, window, stride, pad):
    rng = np.random.default_rng(size)
    x = rng.standard_normal((2, 2, size, size))
    check_layer("conv", np.float64, GPU, inputs=[x, rng.standard_normal((3, 2, window, window)), rng.standard_normal(3)],
                params=[{"stride": stride, "pad": pad}])
    check_layer("max_pool", np.float64, GPU, inputs=[x], params=[{"pool_height": window, "pool_width": window, "stride": stride}])
