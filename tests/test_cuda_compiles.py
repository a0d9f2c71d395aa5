"""Every CUDA kernel compiles with the real compiler, for every signature it is launched with.

The simulator runs kernels as Python and never type-checks them: on the
first real GPU every GEMM call without a bias failed to compile (a 2-D
array passed as the 1-D bias, in a branch that never ran) while 1000+
simulator tests passed.  numba-cuda's compiler (NVVM, the ``nvidia-nvvm``
wheel of the test extra) needs no GPU, so here every kernel is compiled to
PTX for the lowest compute capability fastnn supports and for sm_90.

The signatures are the ones launched in this session: conftest.py records
every launch of every test, and this file runs last; :func:`_exercise`
drives the public API in both dtypes so that a run of this file alone
launches every kernel too.  A kernel that nothing launched fails
:func:`test_every_kernel_is_launched`: it would otherwise go uncompiled.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")
G = pytest.importorskip("fastnn.cuda")

import fastnn.cuda.optim as GPU_OPTIM  # noqa: E402
from fastnn import catalog  # noqa: E402
from fastnn.kernels.cuda import launch  # noqa: E402

#: The lowest compute capability NVVM of CUDA 13 compiles for (Turing), and Hopper's.
CCS = ("7.5", "9.0")

HERE = Path(__file__).resolve().parent


def _exercise(dtype):
    """Call every public function of fastnn.cuda (and fastnn.cuda.optim) on small inputs of dtype, each path once."""
    rng = np.random.default_rng(0)
    D = G.to_device
    for entry in catalog.on_backend("cuda"):
        inputs, params = entry.make_inputs(rng, entry.sizes["cuda"][0], dtype)
        params = [D(p) if isinstance(p, np.ndarray) else p for p in catalog.copy_params(tuple(params or ()))]
        out, cache = getattr(G, entry.forward)(*[D(a) for a in inputs], *params)
        if not entry.is_loss:
            getattr(G, entry.backward)(D(np.ones(out.shape, dtype)), cache)
    x = D(rng.standard_normal((6, 5)).astype(dtype))
    y = D(np.array([0, 1, 4, 2, 3, 1]))
    for mode in ("train", "test"):
        bn = {"mode": mode, "running_mean": np.zeros(5, np.float64), "running_var": np.ones(5)}
        out, cache = G.batchnorm_forward(x, D(np.ones(5, dtype)), D(np.zeros(5, dtype)), bn)
        G.batchnorm_backward(out, cache)
    for mode in ("train", "test"):
        G.dropout_backward(x, G.dropout_forward(x, {"mode": mode, "p": 0.5})[1])
    flat = G.copy(x).reshape(30)
    G.relu_forward(flat, out=flat)  # aliasing: a copy of x for the cache
    G.relu_backward(flat[1:21], flat[:20], out=flat[:20])  # out partly overlapping dout: through a temporary
    G.relu_forward(x[:, ::2])  # strided inputs are made contiguous first
    G.relu_forward(flat[::2])
    G.correct_count(G.count_correct(x, y))
    G.take_rows((x, y), np.array([5, 0]))
    G.take_rows(x, D(np.array([5, 0])))
    G.softmax_loss(x, D(np.array([0, 1, 4, 2, 3, 1], np.int32)))
    for log_probs in (False, True):
        G.cross_entropy_rows(x, x, log_probs)
    for p, y_weight in ((1, None), (2, D(np.ones(6, dtype)))):
        G.multi_margin_rows(x, y, p, 0.5, y_weight)
    G.astype(D(np.arange(3)), dtype)
    G.astype(x, np.int64)
    G.sum_of_squares(x)
    w = G.copy(x)
    G.add_scaled(w, x, 0.5)
    G.sgd_update(w, x, 0.1)
    G.affine_forward(D(np.ones((2, 3), np.int64)), D(np.ones((3, 2), dtype)), D(np.zeros(2, dtype)))
    for rule in GPU_OPTIM.RULES.values():
        config = rule(w, x, {})[1]
        rule(w, x, {**config, "in_place": True})


@pytest.fixture(scope="module")
def signatures(request):
    """{kernel name: {signature text}} of every launch so far in this session, after this file's own."""
    recorder = getattr(request.config, "kernel_signatures", None)
    assert recorder is not None, "conftest.py did not install the launch recorder"
    for dtype in (np.float32, np.float64):
        _exercise(dtype)
    return {name: sorted(texts) for name, texts in recorder.seen.items()}


def test_every_kernel_is_launched(signatures):
    kernels = launch.all_kernels()
    never = sorted(set(kernels) - set(signatures))
    assert not never, f"{len(never)} kernels were never launched, so never compiled: {never}"
    unknown = sorted(set(signatures) - set(kernels))
    assert not unknown, f"launched kernels missing from launch.all_kernels(): {unknown}"


def _compile(cc, source, tmp_path):
    target = tmp_path / f"result-{cc}.json"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0", "PYTHONPATH": str(HERE)}
    run = subprocess.run(
        [sys.executable, str(HERE / "kernel_signatures.py"), str(source), cc, str(target)],
        env=env, capture_output=True, text=True, timeout=1800,
    )
    assert run.returncode == 0, f"compiling for sm_{cc.replace('.', '')} failed to run:\n{run.stderr[-4000:]}"
    return json.loads(target.read_text())


def test_every_launched_signature_compiles_with_nvvm(signatures, tmp_path, request):
    source = tmp_path / "signatures.json"
    source.write_text(json.dumps(signatures))
    total = sum(len(texts) for texts in signatures.values())
    # One process per capability, side by side (each is NVVM-bound, ~0.5 s a signature).
    with ThreadPoolExecutor(len(CCS)) as pool:
        results = dict(zip(CCS, pool.map(lambda cc: _compile(cc, source, tmp_path), CCS)))
    report = []
    for cc, result in results.items():
        for name, text, error in result["failures"]:
            report.append(f"sm_{cc.replace('.', '')} {name}({text}):\n    {error.splitlines()[0] if error else ''}\n{error}")
        assert result["compiled"] + len(result["failures"]) == total
    assert not report, f"{len(report)} kernel signatures failed to compile:\n" + "\n".join(report)
    # conftest.py prints this in the session's summary.
    request.config.kernel_compile_summary = (
        f"compiled with NVVM: {len(signatures)} kernels, {total} launch signatures, each for "
        f"sm_{' and sm_'.join(cc.replace('.', '') for cc in CCS)}")
