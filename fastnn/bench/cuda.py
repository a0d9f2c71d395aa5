"""``fastnn bench --backend cuda``: the GPU kernels against PyTorch and CuPy.

Each case is timed in interleaved rounds with the device synchronised
around every sample; medians are reported.  Device-to-device copy bandwidth
is measured in the same run, so elementwise and softmax rows show their
share of it, and the GEMM row its TFLOP/s (TF32 off in PyTorch, so FP32
against FP32).  ``tiny=True`` shrinks every size so the plumbing can run on
Numba's CUDA simulator in the tests; its timings mean nothing.
"""

import numpy as np

from fastnn.bench.timing import format_columns, time_interleaved


def _libraries():
    libs = {}
    try:
        import torch

        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            libs["torch"] = torch
    except ImportError:
        pass
    try:
        import cupy

        libs["cupy"] = cupy
    except ImportError:
        pass
    return libs


def _synced(fn, sync):
    def run():
        fn()
        sync()

    return run


def run(repeats=7, tiny=False, train_steps=200):
    """
    Time the GPU cases.

    Returns:
    - rows: list of (name, size, {impl: seconds}, work, unit) where work is
      bytes moved (unit "GB/s") or floating-point operations ("TFLOP/s")
    - copy_gbs: device-to-device copy bandwidth measured in this run
    """
    import fastnn.cuda as G

    libs = {} if G.SIMULATOR else _libraries()
    sync = G.synchronize
    rng = np.random.default_rng(0)
    rows = []

    n = 1 << (8 if tiny else 26)
    x = G.to_device(rng.standard_normal(n).astype(np.float32))
    dst = G.empty_like(x)
    copy = {"fastnn": lambda: dst.copy_to_device(x)}
    relu = {"fastnn": lambda: G.relu_forward(x)}
    if "torch" in libs:
        tx = libs["torch"].as_tensor(x, device="cuda")
        tdst = libs["torch"].empty_like(tx)
        copy["torch"] = lambda: tdst.copy_(tx)
        relu["torch"] = lambda: libs["torch"].relu(tx)
    if "cupy" in libs:
        cx = libs["cupy"].asarray(x)
        relu["cupy"] = lambda: libs["cupy"].maximum(cx, 0)
    times = time_interleaved({k: _synced(f, sync) for k, f in copy.items()}, repeats)
    copy_gbs = 2 * x.nbytes / min(times.values()) / 1e9
    rows.append(("device-to-device copy", f"{n:.0e} f32", times, 2 * x.nbytes, "GB/s"))
    rows.append(("relu_forward", f"{n:.0e} f32", time_interleaved({k: _synced(f, sync) for k, f in relu.items()}, repeats), 2 * x.nbytes, "GB/s"))

    for rows_n, c in ((8, 40), (4, 100)) if tiny else ((65536, 1000), (65536, 10)):
        s = rng.standard_normal((rows_n, c)).astype(np.float32)
        y = rng.integers(c, size=rows_n)
        ds, dy = G.to_device(s), G.to_device(y)
        fns = {"fastnn": lambda ds=ds, dy=dy: G.softmax_loss(ds, dy)}
        if "torch" in libs:
            torch = libs["torch"]
            ts, ty = torch.as_tensor(ds, device="cuda"), torch.as_tensor(dy, device="cuda")

            def torch_ce(ts=ts, ty=ty):
                leaf = ts.detach().requires_grad_()
                torch.nn.functional.cross_entropy(leaf, ty).backward()

            fns["torch"] = torch_ce
        rows.append(("softmax_loss fwd+bwd", f"({rows_n}, {c}) f32", time_interleaved({k: _synced(f, sync) for k, f in fns.items()}, repeats), 2 * s.nbytes, "GB/s"))

    size = 16 if tiny else 4096
    a = G.to_device(rng.standard_normal((size, size)).astype(np.float32))
    b = G.to_device(rng.standard_normal((size, size)).astype(np.float32))
    bias = G.to_device(np.zeros(size, np.float32))
    fns = {"fastnn": lambda: G.affine_forward(a, b, bias)}
    if "torch" in libs:
        ta, tb = libs["torch"].as_tensor(a, device="cuda"), libs["torch"].as_tensor(b, device="cuda")
        fns["torch"] = lambda: ta @ tb
    if "cupy" in libs:
        ca, cb = libs["cupy"].asarray(a), libs["cupy"].asarray(b)
        fns["cupy"] = lambda: ca @ cb
    rows.append(("affine_forward (SGEMM)", f"{size}^3 f32", time_interleaved({k: _synced(f, sync) for k, f in fns.items()}, max(3, repeats // 2)), 2.0 * size**3, "TFLOP/s"))

    rows.append(_train_row(libs, train_steps if not tiny else 1, tiny))
    return rows, copy_gbs


def _train_row(libs, steps, tiny):
    from fastnn.digits.data import Split, digits_split
    from fastnn.digits.seed import SeedRecipe, engines, train_two_layer

    if tiny:
        rng = np.random.default_rng(1)
        X, y = rng.standard_normal((30, 8)), rng.integers(3, size=30)
        split, recipe = Split(X[:20], X[20:], y[:20], y[20:]), SeedRecipe(iters=steps, hidden=5, batch_size=4)
    else:
        split, recipe = digits_split(seed=0, dtype=np.float32), SeedRecipe(iters=steps)
    table = engines("cuda")
    contenders = {"fastnn": table["cuda"]}
    if "torch" in libs and "torch-cuda-autograd" in table:
        contenders["torch"] = table["torch-cuda-autograd"]
    times = {}
    for name, steps_fn in contenders.items():
        if not tiny:
            train_two_layer(steps_fn, split, SeedRecipe(iters=2, hidden=recipe.hidden, batch_size=recipe.batch_size), progress=False)
        times[name] = train_two_layer(steps_fn, split, recipe, progress=False).seconds / recipe.iters
    return ("train loop, per step", f"batch {recipe.batch_size} f32", times, 0, "")


def format_table(rows, copy_gbs):
    impls = sorted({k for _, _, t, _, _ in rows for k in t}, key=["fastnn", "torch", "cupy"].index)
    header = ["case", "size"] + impls + ["fastnn rate", "% of copy"]
    lines = []
    for name, size, times, work, unit in rows:
        cells = [name, size] + [f"{times[k] * 1e3:.3f} ms" if k in times else "-" for k in impls]
        rate = work / times["fastnn"] / (1e9 if unit == "GB/s" else 1e12) if work else None
        cells.append(f"{rate:.2f} {unit}" if rate is not None else "-")
        cells.append(f"{100 * rate / copy_gbs:.0f}%" if unit == "GB/s" else "-")
        lines.append(cells)
    return format_columns(header, lines)
