"""fastnn.torch: autograd functions and modules on fastnn's kernels, and
data-parallel training with torch.distributed (fastnn.distributed).

Every wrapped function passes torch.autograd.gradcheck in float64 and
agrees, forward and backward, with fastnn.layers and with the torch op it
stands in for: to 1e-10 relative in float64 and 1e-5 in float32 (the
kernels sum in other orders than torch's).  Skipped where torch is not
installed (CI installs none: PyPI's torch wheels bring the CUDA libraries,
gigabytes).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn.kernels  # noqa: E402, F401  (before torch, as users should: fastnn.threads)

torch = pytest.importorskip("torch")

import fastnn.layers as L  # noqa: E402
import fastnn.torch as fnn  # noqa: E402
from fastnn.torch import functional as FF  # noqa: E402

F = torch.nn.functional
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
DTYPES = [torch.float32, torch.float64]


def _t(a, dtype=torch.float64, grad=True):
    return torch.tensor(a, dtype=dtype, requires_grad=grad)


def _random(shape, dtype=torch.float64, seed=0, grad=True):
    return _t(np.random.default_rng(seed).standard_normal(shape), dtype, grad)


def _compare(ours, theirs, inputs, dtype):
    """Forward values and the gradients of sum(out * g) agree to the dtype's tolerance."""
    tol = TOLERANCE[dtype]
    a, b = ours(*inputs), theirs(*inputs)
    assert a.dtype == dtype and a.shape == b.shape
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)
    g = torch.randn(a.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    need = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    for got, want in zip(torch.autograd.grad(a, need, g), torch.autograd.grad(b, need, g)):
        assert got.dtype == dtype
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)


# ------------------------------------------------ gradcheck, float64


def _gradcheck_cases():
    x, w, b = _random((6, 5)), _random((5, 4), seed=1), _random(4, seed=2)
    scores, y = _random((6, 4), seed=3), torch.tensor([0, 3, 1, 1, 2, 0])
    images = _random((2, 3, 6, 6), seed=4)

    def dropout(a):
        np.random.seed(5)  # the same mask at every evaluation
        return FF.dropout(a, 0.3)

    return {
        "affine": (FF.affine, (x, w, b)),
        "linear": (FF.linear, (x, _random((4, 5), seed=6), b)),
        "relu": (FF.relu, (x,)),
        "affine_relu": (FF.affine_relu, (x, w, b)),
        # The targets go where the scores are, as torch requires of its own losses.
        "cross_entropy": (lambda s: FF.cross_entropy(s, y.to(s.device)), (scores,)),
        "svm_loss": (lambda s: FF.svm_loss(s, y.to(s.device)), (scores,)),
        "multi_margin_loss": (lambda s: FF.multi_margin_loss(s, y.to(s.device)), (scores,)),
        "batch_norm": (lambda a, g, c: FF.batch_norm(a, g, c, {"mode": "train"}), (x, _t(np.linspace(0.5, 2, 5)), _random(5, seed=7))),
        "batch_norm_channels": (lambda a, g, c: FF.batch_norm_channels(a, g, c, {"mode": "train"}),
                                (_random((3, 5, 4), seed=10), _t(np.linspace(0.5, 2, 5)), _random(5, seed=7))),
        "dropout": (dropout, (x,)),
        "conv2d": (lambda a, k, c: FF.conv2d(a, k, c, stride=1, padding=1), (images, _random((4, 3, 3, 3), seed=8), _random(4, seed=9))),
        "max_pool2d": (lambda a: FF.max_pool2d(a, 2), (images,)),
    }


@pytest.mark.parametrize("name", list(_gradcheck_cases()))
def test_gradcheck_float64(name):
    fn, inputs = _gradcheck_cases()[name]
    assert torch.autograd.gradcheck(fn, inputs)


def test_every_function_has_a_gradcheck():
    assert set(_gradcheck_cases()) == set(FF.__all__)


# ------------------------------------------------ agreement with torch and with fastnn.layers


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_and_affine_agree(dtype):
    x, weight, bias = _random((7, 5), dtype), _random((3, 5), dtype, 1), _random(3, dtype, 2)
    _compare(FF.linear, F.linear, (x, weight, bias), dtype)
    w = _random((5, 3), dtype, 3)
    _compare(FF.affine, lambda a, b_, c: a @ b_ + c, (x, w, bias), dtype)
    _compare(FF.affine_relu, lambda a, b_, c: torch.relu(a @ b_ + c), (x, w, bias), dtype)
    out, cache = L.affine_forward(x.detach().numpy(), w.detach().numpy(), bias.detach().numpy())
    np.testing.assert_array_equal(FF.affine(x, w, bias).detach().numpy(), out)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_agrees_away_from_zero_and_passes_the_gradient_at_zero(dtype):
    _compare(FF.relu, torch.relu, (_random((4, 6), dtype),), dtype)
    x = _t([-1.0, 0.0, 2.0], dtype)
    FF.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]  # cs231n's rule: x >= 0; torch.relu gives 0 at 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_losses_agree(dtype):
    scores, y = _random((9, 5), dtype), torch.tensor([0, 4, 1, 1, 2, 3, 0, 4, 2])
    _compare(lambda s: FF.cross_entropy(s, y), lambda s: F.cross_entropy(s, y), (scores,), dtype)
    _compare(lambda s: FF.multi_margin_loss(s, y), lambda s: F.multi_margin_loss(s, y), (scores,), dtype)
    _compare(lambda s: FF.svm_loss(s, y), lambda s: 5 * F.multi_margin_loss(s, y), (scores,), dtype)
    loss, _ = L.softmax_loss(scores.detach().numpy(), y.numpy())
    assert float(FF.cross_entropy(scores, y).detach()) == pytest.approx(float(loss), rel=TOLERANCE[dtype])
    _compare(lambda s: fnn.CrossEntropyLoss()(s, y), lambda s: torch.nn.CrossEntropyLoss()(s, y), (scores,), dtype)
    _compare(lambda s: fnn.MultiMarginLoss()(s, y), lambda s: torch.nn.MultiMarginLoss()(s, y), (scores,), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_and_pool_agree(dtype):
    x, w, b = _random((2, 3, 7, 7), dtype), _random((4, 3, 3, 3), dtype, 1), _random(4, dtype, 2)
    _compare(lambda a, k, c: FF.conv2d(a, k, c, 2, 1), lambda a, k, c: F.conv2d(a, k, c, 2, 1), (x, w, b), dtype)
    _compare(lambda a: FF.max_pool2d(a, 2), lambda a: F.max_pool2d(a, 2), (_random((2, 3, 8, 8), dtype, 3),), dtype)
    # A window that does not tile the input: the last row and column are dropped, as torch and the course do.
    _compare(lambda a: FF.max_pool2d(a, 2), lambda a: F.max_pool2d(a, 2), (x,), dtype)
    _compare(lambda a, k, c: FF.conv2d(a, k, c, 2, 0), lambda a, k, c: F.conv2d(a, k, c, 2, 0), (_random((2, 3, 6, 6), dtype), w, b), dtype)
    torch.manual_seed(0)
    ours = fnn.Conv2d(3, 4, 3, padding=1, dtype=dtype)
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(3, 4, 3, padding=1, dtype=dtype)
    _compare(ours, theirs, (x,), dtype)
    _compare(fnn.MaxPool2d(3, stride=2), torch.nn.MaxPool2d(3, stride=2), (x,), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm1d_is_a_drop_in_for_torchs(dtype):
    torch.manual_seed(0)
    ours, theirs = fnn.BatchNorm1d(5, dtype=dtype), torch.nn.BatchNorm1d(5, dtype=dtype)
    with torch.no_grad():
        for m in (ours, theirs):
            m.weight.copy_(torch.linspace(0.5, 2, 5))
            m.bias.copy_(torch.linspace(-1, 1, 5))
    for step in range(3):
        x = _random((8, 5), dtype, seed=step) * 3 + 1
        _compare(ours, theirs, (x,), dtype)
    # the forward ran twice per step (ours and theirs each in _compare)
    tol = TOLERANCE[dtype]
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(ours, name), getattr(theirs, name), rtol=tol, atol=tol)
    ours.eval(), theirs.eval()
    _compare(ours, theirs, (_random((4, 5), dtype, seed=9),), dtype)
    assert ours.state_dict().keys() == theirs.state_dict().keys()


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_keeps_with_probability_1_minus_p_and_scales(dtype):
    x = torch.ones(200, 100, dtype=dtype, requires_grad=True)
    np.random.seed(0)
    out = FF.dropout(x, p=0.3)
    kept = out.detach() != 0
    n = kept.numel()
    assert abs(int(kept.sum()) - 0.7 * n) <= 5 * np.sqrt(n * 0.7 * 0.3)
    torch.testing.assert_close(out.detach()[kept], torch.full((int(kept.sum()),), 1 / 0.7, dtype=dtype))
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach())
    layer = fnn.Dropout(0.3).eval()
    assert layer(x) is x and FF.dropout(x, 0.0) is x
    assert float(FF.dropout(x, 1.0).detach().abs().sum()) == 0


def test_modules_are_drop_ins_with_torchs_init_and_state():
    torch.manual_seed(3)
    ours = fnn.Linear(5, 3)
    torch.manual_seed(3)
    theirs = torch.nn.Linear(5, 3)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    torch.testing.assert_close(ours.weight, theirs.weight)
    x = _random((4, 5), torch.float32)
    _compare(ours, theirs, (x,), torch.float32)
    no_bias = fnn.Linear(5, 3, bias=False)
    _compare(no_bias, lambda a: a @ no_bias.weight.t(), (x,), torch.float32)
    assert isinstance(ours, torch.nn.Linear) and "Linear(in_features=5, out_features=3" in repr(ours)


@pytest.mark.parametrize("make, message", [
    (lambda: fnn.ReLU(inplace=True), "inplace: fastnn.torch.ReLU supports only torch's default"),
    (lambda: fnn.Dropout(inplace=True), "inplace: fastnn.torch.Dropout supports only torch's default"),
    (lambda: fnn.Conv2d(3, 4, 3, padding_mode="reflect"), "padding_mode: fastnn.torch.Conv2d supports only torch's default"),
    (lambda: FF.cross_entropy(_random((3, 4)), torch.tensor([0, 1, 2]), reduction="max"), "reduction: expected one of"),
    (lambda: FF.cross_entropy(_random((3, 4)), torch.tensor([0, 1, 2]), label_smoothing=1.5), "label_smoothing: expected a number in"),
    (lambda: FF.multi_margin_loss(_random((3, 4)), torch.tensor([0, 1, 2]), p=3), "p: expected 1 or 2"),
    (lambda: FF.conv2d(_random((1, 2, 5, 5)), _random((2, 2, 3, 3)), padding="full"), "padding: expected an int, a pair, 'valid' or 'same'"),
    (lambda: FF.conv2d(_random((1, 2, 5, 5)), _random((2, 2, 3, 3)), stride=2, padding="same"), "padding: 'same' needs stride 1"),
    (lambda: FF.max_pool2d(_random((1, 2, 5, 5)), 2, padding=2), "padding: expected at most half the kernel size"),
])
def test_options_fastnn_does_not_implement_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_default_ignore_index_is_ignored():
    # torch's default ignore_index is -100: such targets count nothing, also without options.
    x, y = _random((4, 3)), torch.tensor([0, -100, 2, 1])
    _compare(lambda a: FF.cross_entropy(a, y), lambda a: F.cross_entropy(a, y), (x,), torch.float64)
    _compare(lambda a: fnn.CrossEntropyLoss()(a, y), lambda a: torch.nn.CrossEntropyLoss()(a, y), (x,), torch.float64)


def test_bad_tensors_are_named():
    x = _random((3, 4))
    with pytest.raises(TypeError, match="x: expected a float32 or float64 tensor, got torch.int64"):
        FF.relu(torch.ones(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="w: expected torch.float64 like x, got torch.float32"):
        FF.affine(x, _random((4, 2), torch.float32), _random(2))
    with pytest.raises(TypeError, match="x: fastnn runs on CPU and CUDA tensors, got one on meta"):
        FF.relu(torch.empty(3, device="meta"))
    with pytest.raises(ValueError, match="target: expected class indices \\(an integer tensor\\) or probabilities of input's shape"):
        FF.cross_entropy(x, torch.zeros(3))
    with pytest.raises(ValueError, match="y: expected labels in"):
        FF.cross_entropy(x, torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match="input: fastnn.torch.BatchNorm1d takes \\(N, C\\) or \\(N, C, L\\)"):
        fnn.BatchNorm1d(4)(torch.ones(2, 4, 3, 1))


def test_cpu_tensors_go_through_without_a_copy_and_keep_requires_grad():
    x = _random((6, 4), grad=False)
    w = _random((4, 3), seed=1)
    out = FF.affine(x.t().contiguous().t(), w, _random(3, seed=2))  # a non-contiguous x
    assert out.requires_grad
    out.sum().backward()
    assert x.grad is None and w.grad is not None
    relu_out = FF.relu(x)
    relu_out_again = FF.relu(relu_out)
    assert not relu_out.requires_grad and relu_out_again.dtype == torch.float64


@pytest.mark.parametrize("environment, layer, warned", [({}, "workqueue", True), ({"GOMP_SPINCOUNT": "1000"}, "omp", False)])
def test_torch_imported_first_is_warned_about_and_kept_from_spinning(environment, layer, warned):
    code = ("import torch, warnings\nwarnings.simplefilter('always')\nimport fastnn.layers as L, numba, numpy as np\n"
            "L.relu_forward(np.ones(1 << 20))\nprint(numba.threading_layer())")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")} | environment
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == layer
    assert ("import fastnn before torch, or set GOMP_SPINCOUNT=1000" in result.stderr) == warned, result.stderr


def test_importing_fastnn_does_not_import_torch():
    code = "import sys, fastnn, fastnn.layers, fastnn.solver; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA tensors need a GPU with torch's CUDA build")
@pytest.mark.parametrize("name", list(_gradcheck_cases()))
def test_cuda_tensors_give_the_cpu_results(name):
    fn, inputs = _gradcheck_cases()[name]
    if name == "dropout":
        pytest.skip("the GPU's masks are Philox's, not NumPy's")
    cpu_out = fn(*inputs)
    cuda_inputs = [x.detach().cuda().requires_grad_(x.requires_grad) for x in inputs]
    gpu_out = fn(*cuda_inputs)
    assert gpu_out.is_cuda
    torch.testing.assert_close(gpu_out.cpu(), cpu_out.detach(), rtol=1e-10, atol=1e-10)
    g = torch.ones_like(cpu_out)
    for got, want in zip(torch.autograd.grad(gpu_out, cuda_inputs, g.cuda()), torch.autograd.grad(cpu_out, inputs, g)):
        torch.testing.assert_close(got.cpu(), want, rtol=1e-10, atol=1e-10)


# ------------------------------------------------ data-parallel training


def test_threads_are_shared_out_among_the_processes():
    from fastnn.distributed import threads_per_process

    assert threads_per_process(2, cores=2) == 1 and threads_per_process(1, cores=2) == 2
    assert threads_per_process(3, cores=2) == 1 and threads_per_process(4, cores=16) == 4


def _torchrun(tmp_path, processes, *args):
    out = tmp_path / f"params_{processes}.npz"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes),
               "-m", "fastnn.distributed", "--save-params", str(out), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RANK", "WORLD_SIZE", "MASTER_", "LOCAL_"))}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{processes} process(es)" in result.stdout and "test accuracy" in result.stdout
    from fastnn import checkpoint

    return checkpoint.load(out)["params"]


def test_two_gloo_processes_train_as_one_on_the_full_batches(tmp_path):
    """torchrun's 2 processes, each on half of every global batch, against 1 process: 20 steps, float64."""
    args = ("--steps", "20", "--norm", "none", "--optimizer", "sgd_momentum", "--lr", "0.05", "--dtype", "float64",
            "--hidden", "32,16")
    one, two = _torchrun(tmp_path, 1, *args), _torchrun(tmp_path, 2, *args)
    assert one.keys() == two.keys() and len(one) == 6
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-10, err_msg=name)
    assert any(np.abs(one[name]).max() > 0 for name in one)


def test_the_distributed_command_needs_torchrun():
    result = subprocess.run([sys.executable, "-m", "fastnn.distributed", "--steps", "1"], capture_output=True, text=True,
                            timeout=120, env={k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")})
    assert result.returncode == 2 and "run it under torchrun" in result.stderr


def test_torch_recipe_twin_trains_with_either_module_set():
    from fastnn.digits.data import Split
    from fastnn.digits.recipe import DefaultRecipe
    from fastnn.digits.torch_recipe import train_recipe_torch

    rng = np.random.default_rng(4)
    split = Split(rng.integers(0, 17, (40, 64)).astype(np.float32), rng.integers(0, 17, (8, 64)).astype(np.float32),
                  rng.integers(0, 10, 40), rng.integers(0, 10, 8))
    recipe = DefaultRecipe(hidden=(16,), epochs=2, batch_size=9, ensemble=1)
    results = [train_recipe_torch(recipe, split, nn=nn) for nn in (torch.nn, fnn)]
    assert all(0 <= r.accuracy <= 1 and r.seconds > 0 for r in results)



# ------------------------------------------------ issue 24: options and wrong results


@pytest.mark.parametrize("shape", [(5,), (6, 5), (2, 3, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_takes_torchs_shapes_with_or_without_bias(shape, with_bias):
    x, w, b = _random(shape), _random((4, 5), seed=1), _random(4, seed=2) if with_bias else None
    got, want = FF.linear(x, w, b), torch.nn.functional.linear(x, w, b)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    inputs = [t for t in (x, w, b) if t is not None]
    for g, r in zip(torch.autograd.grad(got.sum(), inputs), torch.autograd.grad(want.sum(), inputs)):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10)


def test_linear_names_an_argument_that_is_no_tensor():
    with pytest.raises(TypeError, match="weight: expected a torch.Tensor, got numpy.ndarray"):
        FF.linear(_random((2, 5)), np.ones((4, 5)), None)


@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4)])
@pytest.mark.parametrize("options", [{}, {"bias": False}, {"affine": False}])
def test_batchnorm1d_matches_torch_on_2d_and_3d_input_with_its_options(shape, options):
    from fastnn.torch import BatchNorm1d

    ours, theirs = BatchNorm1d(5, dtype=torch.float64, **options), torch.nn.BatchNorm1d(5, dtype=torch.float64, **options)
    x = _random(shape, seed=3)
    for _ in range(2):
        got, want = ours(x), theirs(x)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    params = [p for p in theirs.parameters()]
    grads = torch.autograd.grad((got * got).sum(), [x, *ours.parameters()])
    for g, r in zip(grads, torch.autograd.grad((want * want).sum(), [x, *params])):
        torch.testing.assert_close(g, r, rtol=1e-10, atol=1e-10)
    for key, value in theirs.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, rtol=1e-10, atol=1e-10)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-10, atol=1e-10)


def test_double_backward_raises_rather_than_hand_back_a_constant():
    x, w, b = _random((6, 5)), _random((4, 5), seed=1), _random(4, seed=2)
    (gx,) = torch.autograd.grad(FF.linear(x, w, b).sum(), x)  # first order: fine
    assert not gx.requires_grad
    with pytest.raises(RuntimeError, match="double backward \\(create_graph=True\\) is not supported"):
        torch.autograd.grad(FF.linear(x, w, b).sum(), x, create_graph=True)
    scores = _random((6, 4))
    with pytest.raises(RuntimeError, match="double backward"):
        torch.autograd.grad(FF.cross_entropy(scores, torch.tensor([0, 3, 1, 1, 2, 0])), scores, create_graph=True)


@pytest.mark.parametrize("layer", ["conv2d", "relu", "linear"])
def test_an_in_place_change_before_backward_raises_torchs_error(layer):
    images, kernel = _random((2, 3, 6, 6)), _random((4, 3, 3, 3), seed=8)
    x, w = _random((6, 5)), _random((4, 5), seed=1)
    y, changed = {
        "conv2d": lambda: (FF.conv2d(images, kernel, None, 1, 1), kernel),
        "relu": lambda: (FF.relu(x), x),
        "linear": lambda: (FF.linear(x, w), w),
    }[layer]()
    with torch.no_grad():
        changed.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_max_pool2d_ties_follow_torch_except_among_several_nans():
    nan = float("nan")
    for window, torch_choice, ours in (([[3.0, 3.0], [1.0, 2.0]], 0, 0), ([[nan, 1.0], [nan, 2.0]], 2, 0)):
        x = torch.tensor([[window]], dtype=torch.float64, requires_grad=True)
        FF.max_pool2d(x, 2).sum().backward()
        t = x.detach().clone().requires_grad_(True)
        torch.nn.functional.max_pool2d(t, 2).sum().backward()
        assert int(torch.argmax(x.grad.flatten())) == ours and int(torch.argmax(t.grad.flatten())) == torch_choice
