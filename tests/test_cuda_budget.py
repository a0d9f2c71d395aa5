"""Each public call's kernel launches, copies to the host and driver allocations, counted against its budget.

On a GPU a launch costs about 25 us from Python, an allocation 48 us or
more and a copy to the host a full synchronisation, so these are counted as
carefully as bytes.  The counts come from observers of the launches, copies
and pool misses (fastnn.kernels.cuda.observe), so they are exact on the
simulator and on a GPU alike.  Each call is made once to fill the pool, and
counted on the second: in steady state nothing is allocated from the driver.
README.md's table is :data:`BUDGETS`.
"""

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")
G = pytest.importorskip("fastnn.cuda")

from fastnn.kernels.cuda import memory  # noqa: E402
from fastnn.kernels.cuda.observe import Observer, observe  # noqa: E402

D = G.to_device


class Counts(Observer):
    def __init__(self):
        self.launches, self.to_host, self.to_device, self.allocations = [], 0, 0, 0

    def launched(self, kernel, config, args):
        self.launches.append(kernel.name.rsplit(".", 1)[-1])

    def copied_to_host(self, array):
        self.to_host += 1

    def copied_to_device(self, nbytes):
        self.to_device += 1

    def allocated(self, nbytes):
        self.allocations += 1


def counted(call, warm=1):
    """The counts of call(), made after ``warm`` calls that fill the pool."""
    for _ in range(warm):
        call()
    with observe(Counts()) as counts:
        call()
    return counts


def _inputs(dtype):
    rng = np.random.default_rng(0)
    x, w, b = (D(rng.standard_normal(s).astype(dtype)) for s in [(6, 5), (5, 4), (4,)])
    y = D(rng.integers(4, size=6))
    return x, w, b, y


def _calls(dtype):
    x, w, b, y = _inputs(dtype)
    out, cache = G.affine_forward(x, w, b)
    relu_out, relu_cache = G.affine_relu_forward(x, w, b)
    dout = D(np.ones((6, 4), dtype))
    return {
        "softmax_loss": lambda: G.softmax_loss(out, y),
        "svm_loss": lambda: G.svm_loss(out, y),
        "affine_forward": lambda: G.affine_forward(x, w, b),
        "affine_relu_forward": lambda: G.affine_relu_forward(x, w, b),
        "affine_backward": lambda: G.affine_backward(dout, cache),
        "affine_relu_backward": lambda: G.affine_relu_backward(dout, relu_cache),
        "relu_forward": lambda: G.relu_forward(out),
        "relu_backward": lambda: G.relu_backward(dout, out),
    }


#: Per public call: (kernel launches, copies to the host, driver allocations in steady state).
BUDGETS = {
    "softmax_loss": (2, 1, 0),
    "svm_loss": (2, 1, 0),
    "affine_forward": (1, 0, 0),
    "affine_relu_forward": (1, 0, 0),
    "affine_backward": (2, 0, 0),
    "affine_relu_backward": (2, 0, 0),
    "relu_forward": (1, 0, 0),
    "relu_backward": (1, 0, 0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_public_call_stays_within_its_budget(name, dtype):
    counts = counted(_calls(dtype)[name])
    launches, to_host, allocations = BUDGETS[name]
    assert (len(counts.launches), counts.to_host, counts.allocations) == (launches, to_host, allocations), (
        f"{name}: {len(counts.launches)} launches {counts.launches}, {counts.to_host} copies to the host, "
        f"{counts.allocations} driver allocations; budget {BUDGETS[name]}"
    )


def test_a_bad_label_is_caught_without_a_round_trip_of_its_own():
    x, w, b, _ = _inputs(np.float32)
    out, _ = G.affine_forward(x, w, b)
    with pytest.raises(ValueError, match=r"y: expected labels in \[0, 4\) for x with 4 classes, got y\[2\] = 4"):
        G.softmax_loss(out, D(np.array([0, 1, 4, 2, 3, 1])))
    with pytest.raises(ValueError, match=r"got y\[0\] = -1"):
        G.svm_loss(out, D(np.array([-1, 1, 0, 2, 3, 1])))


#: One step of the default recipe's GPU Solver (64-H1-H2-10 net, batchnorm,
#: ReLU, Adam, no L2 term): kernel launches, copies to the host (the loss),
#: copies to the device (the batch's row indices), driver allocations (in
#: steady state, from the third step: the first two leave different blocks
#: free).  The 35 launches: 2 row gathers (X, y); per hidden layer 4
#: forward (GEMM, batchnorm statistics, normalisation, ReLU) and 5 backward
#: (ReLU, batchnorm sums, dx, 2 GEMMs); the output layer's GEMM and its
#: backward's 2; the loss's 2; 10 Adam updates, one per parameter.  (41
#: before the batchnorm kernels wrote inv_std, dgamma and dbeta in the
#: input's dtype themselves, where a cast launch followed each.)
STEP_BUDGET = (35, 1, 1, 0)


def _recipe_solver():
    from fastnn.classifiers.fc_net import FullyConnectedNet
    from fastnn.solver import Solver

    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((40, 64)).astype(np.float32), "y_train": rng.integers(10, size=40),
            "X_val": rng.standard_normal((8, 64)).astype(np.float32), "y_val": rng.integers(10, size=8)}
    model = FullyConnectedNet([16, 8], 64, 10, normalization="batchnorm", dtype=np.float32, init="he", backend="cuda")
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, batch_size=8, verbose=False)
    return solver


def test_a_solver_step_copies_only_the_loss_to_the_host():
    solver = _recipe_solver()
    solver._reset()
    counts = counted(solver._step, warm=2)
    assert len(counts.launches) <= STEP_BUDGET[0] and (counts.to_host, counts.to_device, counts.allocations) == STEP_BUDGET[1:], (
        f"{len(counts.launches)} launches {counts.launches}, {counts.to_host} copies to the host, "
        f"{counts.to_device} to the device, {counts.allocations} driver allocations"
    )
    print(f"one Solver step: {len(counts.launches)} launches: {counts.launches}")


# ------------------------------------------------ the pool


def test_live_arrays_never_share_a_block_and_freed_ones_are_reused():
    a = G.to_device(np.arange(8.0))
    b = G.empty_like(a)
    assert not _shares(a, b)
    view = b[2:5]
    address = _address(b)
    del b
    c = G.empty_like(a)  # b's block is still held by its view
    assert _address(c) != address and not _shares(c, view)
    del view
    with observe(Counts()) as counts:
        d = G.empty_like(a)
    assert counts.allocations == 0 and _address(d) == address


def test_blocks_are_kept_per_stream_and_released_on_demand():
    from numba import cuda

    a = G.empty_like(G.to_device(np.zeros(16)))
    address = _address(a)
    del a
    with observe(Counts()) as counts:
        other = G.empty_like(G.to_device(np.zeros(16)), stream=cuda.stream())
    assert counts.allocations >= 1 and _address(other) != address
    G.release_memory()
    assert memory.idle_bytes() == 0


def _address(a):
    return a._ary.__array_interface__["data"][0] if G.SIMULATOR else a.device_ctypes_pointer.value


def _shares(a, b):
    from fastnn.kernels.cuda import launch

    return launch.overlaps(a, b)


def test_a_step_of_the_seeds_gpu_loop_copies_only_the_loss_to_the_host():
    from fastnn.digits.data import Split
    from fastnn.digits.seed import cuda_steps

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((30, 8)).astype(np.float32), rng.integers(3, size=30)
    split = Split(X[:20], X[20:], y[:20], y[20:])
    params = {"W1": rng.standard_normal((8, 5)).astype(np.float32), "b1": np.zeros(5, np.float32),
              "W2": rng.standard_normal((5, 3)).astype(np.float32), "b2": np.zeros(3, np.float32)}
    steps = cuda_steps()
    batches = rng.integers(20, size=(2, 4))
    one, two = (counted(lambda k=k: steps(params, split, batches[:k], 0.1, 1, 10**9), warm=2) for k in (1, 2))
    # One step more: its launches and copies, the chunk's own (weights up and back) cancelled.
    launches, to_host, to_device = len(two.launches) - len(one.launches), two.to_host - one.to_host, two.to_device - one.to_device
    assert (launches, to_host, to_device, two.allocations) == (14, 1, 1, 0), two.launches
