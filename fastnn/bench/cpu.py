"""``fastnn bench``: fastnn against the NumPy reference (and PyTorch) side by side, on the CPU.

The layer cases come from :mod:`fastnn.catalog`: every entry with bench
sizes gives a forward row and a backward row (one row for a loss, which
returns both) per size and dtype, with the entry's work count for the
"% peak" column.  The optimiser steps come from ``fastnn.optim.RULES``;
the seed's training loop from :mod:`fastnn.digits.seed`.  asv
(``asv_bench/``) times the same cases.
"""

from dataclasses import dataclass, field

import numpy as np

from fastnn import catalog
from fastnn.bench.timing import format_columns, format_time, measure_peaks, time_interleaved

#: What ``--only`` accepts: the catalog's families, then the optimisers and the seed's loop.
FAMILIES = (*catalog.FAMILIES, "optim", "train")


@dataclass
class Case:
    kernel: str
    size: str
    dtype: str
    reference: object
    fastnn: object
    torch: object = None
    flops: float = 0.0
    bytes: float = 0.0
    note: str = ""


@dataclass
class Row:
    case: Case
    times: dict = field(default_factory=dict)

    @property
    def ratio(self):
        return self.times["reference"] / self.times["fastnn"]

    @property
    def torch_ratio(self):
        """How many times faster fastnn is than PyTorch (None without torch)."""
        return self.times["torch"] / self.times["fastnn"] if "torch" in self.times else None


def load_torch():
    """torch, set up like fastnn: same thread count and, because fastnn's
    kernels are imported first, the same short OpenMP spin (torch's own
    libgomp reads GOMP_SPINCOUNT when torch loads); None without torch."""
    import fastnn.kernels  # noqa: F401  (runs threads.configure before torch loads libgomp)
    from fastnn.threads import get_num_threads

    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(get_num_threads())
    return torch


def row_names(entry):
    """The kernels of an entry's bench rows, in order: the loss; or forward, ``forward out=``, backward, forward + backward."""
    if entry.is_loss:
        return [entry.name]
    return [entry.forward, *([f"{entry.forward} out="] if entry.bench_out else []), entry.backward,
            *([f"{entry.name} forward + backward"] if entry.bench_round_trip else [])]


def layer_cases(entry, size, dtype, torch=None, seed=0):
    """The bench cases of one catalog entry at one size, one per :func:`row_names`."""
    import fastnn.layers as L
    import fastnn.reference as R

    rng = np.random.default_rng(seed)
    arrays, params = entry.make_inputs(rng, size, dtype)
    label = catalog.size_label(size)
    fresh = catalog.copy_params

    def forward(lib):
        return lambda: getattr(lib, entry.forward)(*arrays, *fresh(params))

    tensors = None
    if torch is not None and entry.torch is not None:
        extra = [a for a in params if isinstance(a, np.ndarray)]
        tensors = [torch.from_numpy(a) for a in (*arrays, *extra)]
    flops, nbytes = entry.cost(arrays, params, False)
    if entry.is_loss:
        return [Case(entry.name, label, dtype, forward(R), forward(L), entry.torch(torch, tensors, False, params) if tensors else None,
                     flops, nbytes, entry.note)]
    out, cache = forward(L)()
    _, ref_cache = forward(R)()
    dout = rng.standard_normal(out.shape).astype(dtype)
    if tensors:
        tensors.append(torch.from_numpy(dout))
    cases = [Case(entry.forward, label, dtype, forward(R), forward(L), entry.torch(torch, tensors, False, params) if tensors else None,
                  flops, nbytes, entry.note)]
    if entry.bench_out:
        buffer = np.empty_like(out)
        torch_out = entry.torch(torch, tensors, False, params, out=torch.from_numpy(buffer)) if tensors else None
        cases.append(Case(f"{entry.forward} out=", label, dtype, forward(R),
                          lambda: getattr(L, entry.forward)(*arrays, *fresh(params), out=buffer), torch_out, flops, nbytes,
                          "into a preallocated buffer"))
    flops, nbytes = entry.cost(arrays, params, True)
    backward = lambda lib, c: lambda: getattr(lib, entry.backward)(dout, c)  # noqa: E731
    torch_backward = entry.torch(torch, tensors, True, params) if tensors else None
    cases.append(Case(entry.backward, label, dtype, backward(R, ref_cache), backward(L, cache), torch_backward, flops, nbytes))
    if entry.bench_round_trip:
        both = lambda lib: lambda: getattr(lib, entry.backward)(dout, forward(lib)()[1])  # noqa: E731
        torch_both = None
        if torch_backward is not None:
            torch_forward = cases[0].torch
            torch_both = lambda: (torch_forward(), torch_backward())  # noqa: E731
        flops, nbytes = entry.cost(arrays, params, "both")
        cases.append(Case(f"{entry.name} forward + backward", label, dtype, both(R), both(L), torch_both, flops, nbytes))
    return cases


def optim_cases(rng, dtype):
    """One in-place step of every rule in fastnn.optim.RULES on a (1024, 1024) parameter."""
    import fastnn.optim as O
    import fastnn.reference_optim as RO

    w = rng.standard_normal((1024, 1024)).astype(dtype)
    dw = rng.standard_normal((1024, 1024)).astype(dtype)
    cases = []
    for rule in O.RULES:
        fast_w, fast_config = w.copy(), {"in_place": True, "learning_rate": 1e-6}
        ref_state = {"w": w.copy(), "config": {"learning_rate": 1e-6}}

        def reference(rule=rule, state=ref_state):
            state["w"], state["config"] = getattr(RO, rule)(state["w"], dw, state["config"])

        cases.append(Case(f"{rule} step", "(1024, 1024)", dtype, reference,
                          lambda rule=rule, fw=fast_w, fc=fast_config: O.RULES[rule](fw, dw, fc), bytes=3 * w.nbytes,
                          note="fastnn in place (config in_place=True)"))
    return cases


def train_cases(dtype, steps):
    """The seed's loop: the reference engine, the fused one and PyTorch's (where installed)."""
    from fastnn.digits.data import digits_split
    from fastnn.digits.seed import SeedRecipe, engines, train_two_layer

    split = digits_split(seed=0, dtype=np.dtype(dtype))
    table = engines()
    recipe = SeedRecipe(iters=steps)
    run = lambda name: train_two_layer(table[name], split, recipe, progress=False)  # noqa: E731
    flops = steps * 2.0 * (100 * (2 * 64 * 100 + 3 * 100 * 10) + len(split.y_test) * (64 * 100 + 100 * 10))
    return [Case("train loop (fused)", f"{steps} steps", dtype, lambda: run("reference"), lambda: run("fused"),
                 (lambda: run("torch-autograd")) if "torch-autograd" in table else None, flops=flops,
                 note="the seed's loop; torch: with autograd")]


def convnet_cases(dtype, seed=0):
    """One Solver step (Adam) of the course's ThreeLayerConvNet, hidden 500, batch 50, on the compiled and the reference layers."""
    import fastnn.layers as L
    import fastnn.reference as R
    from fastnn.classifiers.cnn import ThreeLayerConvNet
    from fastnn.solver import Solver

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((500, 3, 32, 32)).astype(dtype)
    y = rng.integers(10, size=500)
    data = {"X_train": X, "y_train": y, "X_val": X[:50], "y_val": y[:50]}
    solvers = {}
    for name, layers in (("reference", R), ("fastnn", L)):
        np.random.seed(seed)
        model = ThreeLayerConvNet(hidden_dim=500, weight_scale=1e-2, dtype=np.dtype(dtype).type, layers=layers)
        solvers[name] = Solver(model, data, update_rule="adam", batch_size=50, verbose=False, seed=seed)
    flops = 3 * 2.0 * 50 * (32 * 32 * 32 * 3 * 7 * 7 + 32 * 16 * 16 * 500 + 500 * 10)
    return [Case("ThreeLayerConvNet Solver step", "hidden 500, batch 50", dtype, solvers["reference"]._step,
                 solvers["fastnn"]._step, flops=flops, note="Adam; an epoch of 49,000 images is 980 steps")]


def build_cases(dtypes=("float32", "float64"), families=FAMILIES, train_steps=2000, with_torch=True):
    """The benchmark cases, seeded, in a fixed order."""
    torch = load_torch() if with_torch else None
    rng = np.random.default_rng(0)
    cases = []
    for dtype in dtypes:
        for entry in catalog.LAYERS:
            if entry.family in families:
                for size in entry.bench_sizes.get("cpu", ()):
                    cases += layer_cases(entry, size, dtype, torch)
        if "optim" in families:
            cases += optim_cases(rng, dtype)
        if "train" in families:
            cases += train_cases(dtype, train_steps)
            if dtype == "float32":  # the course's dtype for ConvNets
                cases += convnet_cases(dtype)
    return cases


def _percent_of_peak(case, seconds, peaks):
    if case.flops:
        return 100 * case.flops / seconds / 1e9 / peaks[f"gemm_{case.dtype}"], "GEMM"
    if case.bytes:
        return 100 * case.bytes / seconds / 1e9 / peaks["copy_gbs"], "copy"
    return None, ""


def format_table(rows, peaks, has_torch):
    header = ["kernel", "size", "dtype", "reference", "fastnn", "ratio"]
    if has_torch:
        header += ["torch", "vs torch"]
    header += ["% peak"]
    lines = []
    for row in rows:
        c = row.case
        cells = [c.kernel, c.size, c.dtype, format_time(row.times["reference"]), format_time(row.times["fastnn"]), f"{row.ratio:.2f}x"]
        if has_torch:
            cells += [format_time(row.times["torch"]), f"{row.torch_ratio:.2f}x"] if "torch" in row.times else ["-", "-"]
        pct, what = _percent_of_peak(c, row.times["fastnn"], peaks)
        cells.append(f"{pct:.0f}% {what}" if pct is not None else "-")
        lines.append(cells)
    return format_columns(header, lines)


def run(dtypes, families, repeats, train_steps, with_torch=True, progress=True):
    """Measure the peaks and every case; returns (rows, peaks, has_torch)."""
    from tqdm import tqdm

    cases = build_cases(dtypes, families, train_steps, with_torch)
    peaks = measure_peaks()
    rows = []
    for case in tqdm(cases, desc="bench", disable=not progress, unit="case"):
        fns = {"reference": case.reference, "fastnn": case.fastnn}
        if case.torch is not None:
            fns["torch"] = case.torch
        case_repeats = max(3, repeats // 3) if case.kernel.startswith("train") else repeats
        rows.append(Row(case, time_interleaved(fns, case_repeats)))
    return rows, peaks, any(c.torch is not None for c in cases)
