"""The base classes of the asv benchmarks: params come from fastnn.catalog and
fastnn.optim.RULES, the cases (inputs, the reference call, the fastnn call)
from fastnn.bench.cpu, so asv times exactly what ``fastnn bench`` shows.
A family's benchmark is its class name and one line of params.

The base classes' names start with an underscore, and bench_layers.py
reaches them through the module, so that asv (which collects every public
class of a benchmark module, imported ones too) does not run them bare."""

import numpy as np

from fastnn import catalog, optim
from fastnn.bench import cpu as bench

DTYPES = ["float32", "float64"]


def rng():
    """The seeded generator of the benchmarks that make their own inputs (the GPU ones)."""
    return np.random.default_rng(1234)


def layer_params(family):
    """(rows, dtypes): every bench row of the family's catalog entries, as 'kernel | size'."""
    rows = [
        f"{kernel} | {catalog.size_label(size)}"
        for entry in catalog.LAYERS if entry.family == family
        for size in entry.bench_sizes.get("cpu", ())
        for kernel in bench.row_names(entry)
    ]
    return rows, DTYPES


def _find_case(row, dtype):
    kernel, label = row.split(" | ")
    for entry in catalog.LAYERS:
        if kernel in bench.row_names(entry):
            for size in entry.bench_sizes.get("cpu", ()):
                if catalog.size_label(size) == label:
                    return next(c for c in bench.layer_cases(entry, size, dtype) if c.kernel == kernel)
    raise ValueError(f"no bench row {row!r} in the catalog")


class _Timed:
    """time_ and peakmem_ of the reference and fastnn for ``self.case`` (a fastnn.bench.cpu.Case)."""

    param_names = ["case", "dtype"]

    def time_reference(self, *params):
        self.case.reference()

    def time_fastnn(self, *params):
        self.case.fastnn()

    def peakmem_reference(self, *params):
        self.case.reference()

    def peakmem_fastnn(self, *params):
        self.case.fastnn()


class _LayerBenchmark(_Timed):
    """One catalog family: set ``params = layer_params(family)``."""

    def setup(self, row, dtype):
        self.case = _find_case(row, dtype)
        self.case.fastnn()  # compile (or load from cache) outside the timing


class _OptimizerBenchmark(_Timed):
    """One in-place step of every rule in fastnn.optim.RULES."""

    params = (list(optim.RULES), DTYPES)

    def setup(self, rule, dtype):
        self.case = next(c for c in bench.optim_cases(np.random.default_rng(0), dtype) if c.kernel == f"{rule} step")
        self.case.fastnn()
