"""``fastnn bench --backend cuda``: the GPU kernels against PyTorch on the same device.

Each case is timed in interleaved rounds with the device synchronised
around every sample; medians are reported.  Device-to-device copy bandwidth
is measured in the same run, so memory-bound rows show their share of it,
and GEMM rows their TFLOP/s (TF32 off in PyTorch, so FP32 against FP32).
The layer rows come from :mod:`fastnn.catalog` (``bench_sizes["cuda"]``),
and dropout's from :data:`DROPOUT_SIZES` here: its GPU masks are not the
CPU's, which keeps it off the catalog's GPU backend.  The last rows train: the seed's loop per step, and the default
recipe per epoch (one member) against its PyTorch twin on the same device
(:mod:`fastnn.digits.torch_recipe`).
``tiny=True`` shrinks every size so the plumbing can run on Numba's CUDA
simulator in the tests; its timings mean nothing.
"""

import numpy as np

from fastnn import catalog
from fastnn.bench.timing import format_columns, time_interleaved


#: Dropout's GPU bench rows: the normalisation layers' size.
DROPOUT_SIZES = catalog.get("batchnorm").bench_sizes["cuda"]


def _torch():
    """torch with CUDA, TF32 off in its GEMMs and cuDNN (so FP32 is compared with FP32), or None."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return torch


def torch_settings(torch):
    """The line that says what arithmetic the torch column does."""
    if torch is None:
        return "torch: not run"
    return (f"torch {torch.__version__}: torch.backends.cuda.matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, "
            f"torch.backends.cudnn.allow_tf32={torch.backends.cudnn.allow_tf32} (FP32 against FP32)")


def _synced(fn, sync):
    def run():
        fn()
        sync()

    return run


def _timed(fns, sync, repeats):
    return time_interleaved({k: _synced(f, sync) for k, f in fns.items()}, repeats)


def _layer_rows(G, entry, size, torch, repeats, dtype="float32"):
    """The rows of one catalog entry at one size in dtype: forward and backward (or the loss)."""
    rng = np.random.default_rng(0)
    arrays, params = entry.make_inputs(rng, size, np.dtype(dtype))
    device = [G.to_device(a) for a in arrays]
    device_params = [G.to_device(p) if isinstance(p, np.ndarray) else p for p in params]
    label = f"{catalog.size_label(size)} f{np.dtype(dtype).itemsize * 8}"
    tensors = None
    if torch is not None and entry.torch is not None:
        tensors = [torch.as_tensor(d, device="cuda") for d in device + [p for p in device_params if hasattr(p, "shape")]]

    def row(name, fastnn, backward):
        fns = {"fastnn": fastnn}
        compare = entry.torch(torch, tensors, backward, params) if tensors else None
        if compare is not None:
            fns["torch"] = compare
        flops, nbytes = entry.cost(arrays, params, backward)
        work, unit = (flops, "TFLOP/s") if flops else (nbytes, "GB/s")
        return (name, label, _timed(fns, G.synchronize, repeats), work, unit)

    forward = lambda: getattr(G, entry.forward)(*device, *device_params)  # noqa: E731
    if entry.is_loss:
        return [row(entry.name, forward, False)]
    out, cache = forward()
    dout = G.to_device(rng.standard_normal(out.shape).astype(dtype))
    if tensors:
        # Before either row: the PyTorch counterparts take the arrays, then dout (fastnn.catalog.Layer.torch).
        tensors.append(torch.as_tensor(dout, device="cuda"))
    return [row(entry.forward, forward, False), row(entry.backward, lambda: getattr(G, entry.backward)(dout, cache), True)]


#: The kernel families of ``--only`` (as the CPU bench's), "train" for the training rows.
FAMILIES = (*dict.fromkeys(e.family for e in (*catalog.on_backend("cuda"), catalog.get("dropout"))), "train")


def run(repeats=7, tiny=False, train_steps=200, dtypes=("float32",), only=FAMILIES, with_torch=True):
    """
    Time the GPU cases: the device-to-device copy, every catalog layer with
    GPU bench sizes (each entry's smallest test size when ``tiny``) in each
    of ``dtypes``, and, when "train" is in ``only``, the seed's training
    loop (``train_steps`` steps) and the default recipe, which train in
    float32 (so they run when float32 is among the dtypes).

    Returns:
    - rows: list of (name, size, {impl: seconds}, work, unit) where work is
      bytes moved (unit "GB/s") or floating-point operations ("TFLOP/s")
    - copy_gbs: device-to-device copy bandwidth measured in this run
    """
    import fastnn.cuda as G

    torch = None if G.SIMULATOR or not with_torch else _torch()
    n = 1 << (8 if tiny else 26)
    x = G.to_device(np.random.default_rng(0).standard_normal(n).astype(np.float32))
    dst = G.empty_like(x)
    copy = {"fastnn": lambda: dst.copy_to_device(x)}
    if torch is not None:
        tx = torch.as_tensor(x, device="cuda")
        tdst = torch.empty_like(tx)
        copy["torch"] = lambda: tdst.copy_(tx)
    times = _timed(copy, G.synchronize, repeats)
    copy_gbs = 2 * x.nbytes / min(times.values()) / 1e9
    rows = [("device-to-device copy", f"{n:.0e} f32", times, 2 * x.nbytes, "GB/s")]
    dropout = catalog.get("dropout")
    for dtype in dtypes:
        for entry in (*catalog.on_backend("cuda"), dropout):
            if entry.family not in only:
                continue
            if entry is dropout:
                sizes = entry.sizes["cpu"][-1:] if tiny else DROPOUT_SIZES
            else:
                sizes = entry.sizes["cuda"][-1:] if tiny else entry.bench_sizes.get("cuda", ())
            for size in sizes:
                rows += _layer_rows(G, entry, size, torch, repeats, dtype)
    if "train" in only and "float32" in dtypes:
        rows.append(_train_row(torch, train_steps if not tiny else 1, tiny))
        rows.append(_recipe_row(torch, tiny))
    return rows, copy_gbs


def _train_row(torch, steps, tiny):
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
    if torch is not None and "torch-cuda-autograd" in table:
        contenders["torch"] = table["torch-cuda-autograd"]
    times = {}
    for name, steps_fn in contenders.items():
        if not tiny:
            train_two_layer(steps_fn, split, SeedRecipe(iters=2, hidden=recipe.hidden, batch_size=recipe.batch_size), progress=False)
        times[name] = train_two_layer(steps_fn, split, recipe, progress=False).seconds / recipe.iters
    return ("train loop, per step", f"batch {recipe.batch_size} f32", times, 0, "")


def _recipe_row(torch, tiny):
    """One member of the default recipe on the GPU, seconds per epoch: fastnn's Solver against PyTorch's twin."""
    from fastnn.digits.data import Split, digits_split
    from fastnn.digits.recipe import DefaultRecipe, train_recipe

    if tiny:
        rng = np.random.default_rng(2)
        split = Split(rng.integers(0, 17, (20, 64)).astype(np.float32), rng.integers(0, 17, (4, 64)).astype(np.float32),
                      rng.integers(0, 10, 20), rng.integers(0, 10, 4))
        recipe = DefaultRecipe(hidden=(3,), epochs=1, batch_size=9, ensemble=1, backend="cuda")
    else:
        split, recipe = digits_split(seed=0, dtype=np.float32), DefaultRecipe(ensemble=1, epochs=5, backend="cuda")
    trainers = {"fastnn": train_recipe}
    if torch is not None:
        from fastnn.digits.torch_recipe import train_recipe_torch

        trainers["torch"] = lambda r, s, progress: train_recipe_torch(r, s, device="cuda")
    times = {}
    for name, trainer in trainers.items():
        if not tiny:
            trainer(DefaultRecipe(ensemble=1, epochs=1, backend="cuda"), split, progress=False)  # compile, warm up
        times[name] = trainer(recipe, split, progress=False).seconds / recipe.epochs
    return ("default recipe, per epoch", f"batch {recipe.batch_size} f32", times, 0, "")


def format_table(rows, copy_gbs):
    impls = sorted({k for _, _, t, _, _ in rows for k in t}, key=["fastnn", "torch"].index)
    header = ["case", "size"] + impls + ["fastnn rate", "% of copy"]
    lines = []
    for name, size, times, work, unit in rows:
        cells = [name, size] + [f"{times[k] * 1e3:.3f} ms" if k in times else "-" for k in impls]
        rate = work / times["fastnn"] / (1e9 if unit == "GB/s" else 1e12) if work else None
        cells.append(f"{rate:.2f} {unit}" if rate is not None else "-")
        cells.append(f"{100 * rate / copy_gbs:.0f}%" if unit == "GB/s" else "-")
        lines.append(cells)
    return format_columns(header, lines)
