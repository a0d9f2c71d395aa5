"""Timing for ``fastnn bench``: interleaved medians, the machine's peaks, tables, the plot.

Every case times its implementations in interleaved rounds (reference,
fastnn, torch, reference, ...), so that a noisy neighbour slows all of them
alike, and reports medians.  Calls too short for the clock are repeated
inside a round.  The machine's peaks are measured in the same run: GEMM
GFLOP/s per dtype and streaming copy GB/s (the better of a Numba copy on
every thread and ``np.copyto``), so a "% peak" column can say how close a
kernel comes to the hardware.
"""

import time

import numpy as np


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
    """Machine peaks in this process: GEMM GFLOP/s per dtype; copy GB/s, read plus write."""
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
    peaks["numba_copy_gbs"] = 2 * src.nbytes / t["numba"] / 1e9
    peaks["copyto_gbs"] = 2 * src.nbytes / t["copyto"] / 1e9
    # The yardstick of "% copy": the better of the two.
    peaks["copy_gbs"] = max(peaks["numba_copy_gbs"], peaks["copyto_gbs"])
    return peaks


def format_time(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_columns(header, lines):
    """Left-aligned text columns under a header and a rule."""
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
