"""fastnn bench runs end to end (its timings are not checked: speed lives in benchmarks)."""

import numpy as np
import pytest

from fastnn import catalog
from fastnn.bench import cpu as bench
from fastnn.bench.timing import time_interleaved
from fastnn.cli import main


def test_time_interleaved_returns_a_median_per_function():
    calls = []
    times = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3)
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())
    assert "a" in calls and "b" in calls


def test_every_case_computes_what_its_reference_computes():
    for case in bench.build_cases(families=catalog.FAMILIES, with_torch=False):
        ref, fast = case.reference(), case.fastnn()
        ref = ref[0] if isinstance(ref, tuple) and not isinstance(ref[0], float) else ref
        fast = fast[0] if isinstance(fast, tuple) and not isinstance(fast[0], float) else fast
        ref, fast = np.asarray(ref[1] if isinstance(ref, tuple) else ref), np.asarray(fast[1] if isinstance(fast, tuple) else fast)
        assert ref.shape == fast.shape, case
        np.testing.assert_allclose(fast, ref, rtol=1e-3, atol=1e-3 * max(1.0, np.abs(ref).max()), err_msg=case.kernel)


def test_bench_command_prints_the_table(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    argv = ["bench", "--only", "relu", "train", "--dtype", "float32", "--repeats", "1", "--train-steps", "20", "--no-torch", "--no-progress"]
    assert main(argv + ["--plot", str(png)]) == 0
    output = capsys.readouterr().out
    assert "machine peaks" in output and "relu_forward out=" in output and "train loop (fused)" in output
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_bench_command_without_plot(capsys):
    assert main(["bench", "--only", "loss", "--dtype", "float64", "--repeats", "1", "--no-torch", "--no-progress"]) == 0
    assert "softmax_loss" in capsys.readouterr().out


def test_every_catalog_layer_with_bench_sizes_has_its_rows():
    kernels = {case.kernel for case in bench.build_cases(dtypes=("float32",), families=catalog.FAMILIES, with_torch=False)}
    for entry in catalog.LAYERS:
        if entry.bench_sizes.get("cpu", ()):
            assert entry.forward in kernels and (entry.is_loss or entry.backward in kernels), entry.name
