"""``fastnn bench``: fastnn against the NumPy reference (and PyTorch) side by side.

Every case times the reference, fastnn and, where installed, PyTorch in
interleaved rounds (reference, fastnn, torch, reference, ...), so that a
noisy neighbour slows all of them alike, and reports medians.  Calls too
short for the clock are repeated inside a round.  The machine's peaks are
measured in the same run: GEMM GFLOP/s per dtype and streaming copy GB/s
(a 2-thread Numba copy, and ``np.copyto``), so the "% peak" column says how
close each fastnn kernel comes to the hardware.
"""

import time
from dataclasses import dataclass, field

import numpy as np


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


def _calibrate(fn, target=2e-3):
    """How many calls make one timing sample of at least ``target`` seconds."""
    fn()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target or number >= 1 << 16:
            return number
        number *= max(2, min(10, int(target / max(elapsed, 1e-9))))


def time_interleaved(fns, repeats):
    """Median seconds per call of each named function, timed in interleaved rounds."""
    numbers = {name: _calibrate(fn) for name, fn in fns.items()}
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: float(np.median(s)) for name, s in samples.items()}


def measure_peaks(repeats=5):
    """Machine peaks in this process: GEMM GFLOP/s per dtype, copy GB/s."""
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def parallel_copy(src, dst):
        chunk = 1 << 16
        for c in prange((src.size + chunk - 1) // chunk):
            dst[c * chunk : (c + 1) * chunk] = src[c * chunk : (c + 1) * chunk]

    peaks = {}
    for dtype in ("float32", "float64"):
        a = np.random.default_rng(0).random((1024, 1024)).astype(dtype)
        t = time_interleaved({"gemm": lambda a=a: a @ a}, repeats)["gemm"]
        peaks[f"gemm_{dtype}"] = 2 * 1024**3 / t / 1e9
    # 40 MB, like the 1e7-element float32 cases; past the 32 MB L3 here.
    src = np.ones(10**7, np.float32)
    dst = np.empty_like(src)
    t = time_interleaved({"numba": lambda: parallel_copy(src, dst), "copyto": lambda: np.copyto(dst, src)}, repeats)
    peaks["copy_gbs"] = 2 * src.nbytes / t["numba"] / 1e9
    peaks["copyto_gbs"] = 2 * src.nbytes / t["copyto"] / 1e9
    return peaks


def _torch():
    """torch, set up like fastnn: same thread count and, because fastnn's
    kernels are imported first, the same short OpenMP spin (torch's own
    libgomp reads GOMP_SPINCOUNT when torch loads)."""
    import fastnn.kernels  # noqa: F401  (sets GOMP_SPINCOUNT before torch loads libgomp)
    from fastnn.threads import get_num_threads

    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(get_num_threads())
    return torch


def _loss_cases(rng, dtype, torch):
    import fastnn.layers as L
    import fastnn.reference as R

    cases = []
    for n, c in ((4096, 1000), (65536, 100), (100, 10)):
        x = rng.standard_normal((n, c)).astype(dtype)
        y = rng.integers(c, size=n)
        nbytes = 2 * x.nbytes + y.nbytes
        for name in ("softmax_loss", "svm_loss"):
            torch_fn = None
            if torch is not None:
                tx, ty = torch.from_numpy(x), torch.from_numpy(y)
                loss_fn = torch.nn.functional.cross_entropy if name == "softmax_loss" else torch.nn.functional.multi_margin_loss

                def torch_fn(tx=tx, ty=ty, loss_fn=loss_fn):
                    leaf = tx.detach().requires_grad_()
                    loss_fn(leaf, ty).backward()
                    return leaf.grad

            cases.append(
                Case(name, f"({n}, {c})", dtype, lambda f=getattr(R, name), x=x, y=y: f(x, y),
                     lambda f=getattr(L, name), x=x, y=y: f(x, y), torch_fn, bytes=nbytes)
            )
    return cases


def _relu_cases(rng, dtype, torch):
    import fastnn.layers as L
    import fastnn.reference as R

    cases = []
    for n in (10**3, 10**7):
        x = rng.standard_normal(n).astype(dtype)
        d = rng.standard_normal(n).astype(dtype)
        out = np.empty_like(x)
        tx, td = (torch.from_numpy(x), torch.from_numpy(d)) if torch is not None else (None, None)
        cases.append(Case("relu_forward", f"{n:.0e}", dtype, lambda x=x: R.relu_forward(x), lambda x=x: L.relu_forward(x),
                          (lambda tx=tx: torch.relu(tx)) if torch else None, bytes=2 * x.nbytes))
        cases.append(Case("relu_forward out=", f"{n:.0e}", dtype, lambda x=x: R.relu_forward(x),
                          lambda x=x, out=out: L.relu_forward(x, out=out),
                          (lambda tx=tx, o=torch.from_numpy(out): torch.clamp(tx, min=0, out=o)) if torch else None,
                          bytes=2 * x.nbytes, note="into a preallocated buffer"))
        cases.append(Case("relu_backward", f"{n:.0e}", dtype, lambda d=d, x=x: R.relu_backward(d, x),
                          lambda d=d, x=x: L.relu_backward(d, x),
                          (lambda td=td, tx=tx: td * (tx >= 0)) if torch else None, bytes=3 * x.nbytes))
    return cases


def _affine_cases(rng, dtype, torch):
    import fastnn.layers as L
    import fastnn.reference as R

    cases = []
    for n, d, m in ((100, 64, 100), (512, 3072, 1024)):
        x = rng.standard_normal((n, d)).astype(dtype)
        w = rng.standard_normal((d, m)).astype(dtype)
        b = rng.standard_normal(m).astype(dtype)
        dout = rng.standard_normal((n, m)).astype(dtype)
        cache = (x, w, b)
        flops = 2.0 * n * d * m
        size = f"({n}, {d}, {m})"
        if torch is not None:
            tx, tw, tb, td = (torch.from_numpy(a) for a in (x, w, b, dout))
            t_fwd = lambda tx=tx, tw=tw, tb=tb: torch.addmm(tb, tx, tw)
            t_bwd = lambda tx=tx, tw=tw, td=td: (td @ tw.T, tx.T @ td, td.sum(0))
            t_fr = lambda tx=tx, tw=tw, tb=tb: torch.relu(torch.addmm(tb, tx, tw))
        else:
            t_fwd = t_bwd = t_fr = None
        cases.append(Case("affine_forward", size, dtype, lambda x=x, w=w, b=b: R.affine_forward(x, w, b),
                          lambda x=x, w=w, b=b: L.affine_forward(x, w, b), t_fwd, flops=flops))
        cases.append(Case("affine_backward", size, dtype, lambda d=dout, c=cache: R.affine_backward(d, c),
                          lambda d=dout, c=cache: L.affine_backward(d, c), t_bwd, flops=2 * flops))
        cases.append(Case("affine_relu_forward", size, dtype, lambda x=x, w=w, b=b: R.relu_forward(R.affine_forward(x, w, b)[0]),
                          lambda x=x, w=w, b=b: L.affine_relu_forward(x, w, b), t_fr, flops=flops,
                          note="reference: affine_forward then relu_forward"))
    return cases


def _train_cases(dtype, steps, torch):
    from fastnn.data import digits_split
    from fastnn.train import Recipe, engines, train_two_layer

    split = digits_split(seed=0, dtype=np.dtype(dtype))
    table = engines()
    recipe = Recipe(iters=steps)
    run = lambda name: train_two_layer(table[name], split, recipe, progress=False)
    flops = steps * 2.0 * (100 * (2 * 64 * 100 + 3 * 100 * 10) + len(split.y_test) * (64 * 100 + 100 * 10))
    return [Case("train loop (fused)", f"{steps} steps", dtype, lambda: run("reference"), lambda: run("fused"),
                 (lambda: run("torch-autograd")) if "torch-autograd" in table else None, flops=flops,
                 note="the seed's loop; torch: with autograd")]


def _norm_cases(rng, dtype, torch):
    import fastnn.layers as L
    import fastnn.reference as R

    n, d = 4096, 1024
    x = rng.standard_normal((n, d)).astype(dtype)
    dout = rng.standard_normal((n, d)).astype(dtype)
    gamma, beta = rng.standard_normal(d).astype(dtype), rng.standard_normal(d).astype(dtype)
    size, nbytes = f"({n}, {d})", 2 * x.nbytes
    drop = {"p": 0.5, "mode": "train", "seed": 0}
    _, drop_cache = L.dropout_forward(x, drop)
    _, ref_drop_cache = R.dropout_forward(x, dict(drop))
    cases = [
        Case("dropout_forward", size, dtype, lambda: R.dropout_forward(x, dict(drop)), lambda: L.dropout_forward(x, drop), bytes=nbytes,
             note="both include drawing the seeded uniforms"),
        Case("dropout_backward", size, dtype, lambda: R.dropout_backward(dout, ref_drop_cache), lambda: L.dropout_backward(dout, drop_cache), bytes=nbytes),
    ]
    for name in ("batchnorm", "layernorm"):
        fwd, bwd = getattr(L, f"{name}_forward"), getattr(L, f"{name}_backward")
        rfwd, rbwd = getattr(R, f"{name}_forward"), getattr(R, f"{name}_backward")
        _, cache = fwd(x, gamma, beta, {"mode": "train"})
        _, ref_cache = rfwd(x, gamma, beta, {"mode": "train"})
        cases.append(Case(f"{name}_forward", size, dtype, lambda rfwd=rfwd: rfwd(x, gamma, beta, {"mode": "train"}),
                          lambda fwd=fwd: fwd(x, gamma, beta, {"mode": "train"}), bytes=nbytes))
        cases.append(Case(f"{name}_backward", size, dtype, lambda rbwd=rbwd, c=ref_cache: rbwd(dout, c),
                          lambda bwd=bwd, c=cache: bwd(dout, c), bytes=3 * x.nbytes))
    return cases


def _optim_cases(rng, dtype, torch):
    import fastnn.optim as O
    import fastnn.reference_optim as RO

    w = rng.standard_normal((1024, 1024)).astype(dtype)
    dw = rng.standard_normal((1024, 1024)).astype(dtype)
    cases = []
    for rule in ("sgd", "sgd_momentum", "rmsprop", "adam"):
        fast_w, fast_config = w.copy(), {"in_place": True, "learning_rate": 1e-6}
        ref_state = {"w": w.copy(), "config": {"learning_rate": 1e-6}}

        def reference(rule=rule, state=ref_state):
            state["w"], state["config"] = getattr(RO, rule)(state["w"], dw, state["config"])

        cases.append(Case(f"{rule} step", "(1024, 1024)", dtype, reference,
                          lambda rule=rule, fw=fast_w, fc=fast_config: getattr(O, rule)(fw, dw, fc), bytes=3 * w.nbytes,
                          note="fastnn in place (config in_place=True)"))
    return cases


FAMILIES = ("loss", "relu", "affine", "norm", "optim", "train")


def build_cases(dtypes=("float32", "float64"), families=FAMILIES, train_steps=2000, with_torch=True):
    """The benchmark cases, seeded, in a fixed order."""
    torch = _torch() if with_torch else None
    rng = np.random.default_rng(0)
    cases = []
    for dtype in dtypes:
        if "loss" in families:
            cases += _loss_cases(rng, dtype, torch)
        if "relu" in families:
            cases += _relu_cases(rng, dtype, torch)
        if "affine" in families:
            cases += _affine_cases(rng, dtype, torch)
        if "norm" in families:
            cases += _norm_cases(rng, dtype, torch)
        if "optim" in families:
            cases += _optim_cases(rng, dtype, torch)
        if "train" in families:
            cases += _train_cases(dtype, train_steps, torch)
    return cases


def _percent_of_peak(case, seconds, peaks):
    if case.flops:
        return 100 * case.flops / seconds / 1e9 / peaks[f"gemm_{case.dtype}"], "GEMM"
    if case.bytes:
        return 100 * case.bytes / seconds / 1e9 / peaks["copy_gbs"], "copy"
    return None, ""


def _fmt_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_table(rows, peaks, has_torch):
    header = ["kernel", "size", "dtype", "reference", "fastnn", "ratio"]
    if has_torch:
        header += ["torch", "vs torch"]
    header += ["% peak"]
    lines = []
    for row in rows:
        c = row.case
        cells = [c.kernel, c.size, c.dtype, _fmt_time(row.times["reference"]), _fmt_time(row.times["fastnn"]), f"{row.ratio:.2f}x"]
        if has_torch:
            cells += [_fmt_time(row.times["torch"]), f"{row.torch_ratio:.2f}x"] if "torch" in row.times else ["-", "-"]
        pct, what = _percent_of_peak(c, row.times["fastnn"], peaks)
        cells.append(f"{pct:.0f}% {what}" if pct is not None else "-")
        lines.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(x).ljust(w) for x, w in zip(cells, widths)) for cells in lines]
    return "\n".join(out)


def plot(rows, path):
    """Horizontal bars of each case's speed-up over the reference (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.case.kernel} {r.case.size} {r.case.dtype}" for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.5))
    ax.barh(y - 0.2, [r.ratio for r in rows], height=0.4, label="fastnn", color="tab:blue")
    torch_ratios = [r.times["reference"] / r.times["torch"] if "torch" in r.times else 0 for r in rows]
    if any(torch_ratios):
        ax.barh(y + 0.2, torch_ratios, height=0.4, label="PyTorch", color="tab:orange")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up over the NumPy reference (higher is better)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
