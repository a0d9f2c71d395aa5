"""Kernel launch signatures as text, and their compilation with the real CUDA compiler.

The simulator runs kernels as Python and never type-checks them, so a
kernel can pass every simulator test and still fail to compile on a GPU
(a 2-D array handed to a 1-D parameter in a branch that does not run).
The tests record every launch's argument types (conftest.py) and
test_cuda_compiles.py hands them to this script, run without the
simulator: it builds every kernel as the GPU would (launch.all_kernels)
and compiles each signature to PTX with NVVM, which needs no GPU.

    python kernel_signatures.py SIGNATURES.json MAJOR.MINOR RESULT.json

writes {"compiled": N, "failures": [[kernel, signature, error], ...]}.
"""

import json
import sys

import numpy as np


def encode(types_):
    """Numba types as text: 'array:<dtype>:<ndim>:<layout>' or 'scalar:<dtype>' (NumPy dtype strings)."""
    from numba import types
    from numba.np.numpy_support import as_dtype

    codes = []
    for t in types_:
        if isinstance(t, types.Array):
            codes.append(f"array:{as_dtype(t.dtype).str}:{t.ndim}:{t.layout}")
        else:
            codes.append(f"scalar:{as_dtype(t).str}")
    return ",".join(codes)


def decode(text):
    from numba import types
    from numba.np.numpy_support import from_dtype

    result = []
    for code in text.split(","):
        kind, dtype, *rest = code.split(":")
        nb = from_dtype(np.dtype(dtype))
        result.append(types.Array(nb, int(rest[0]), rest[1]) if kind == "array" else nb)
    return tuple(result)


def compile_all(signatures, cc):
    """Compile {kernel name: [signature text, ...]} for compute capability cc; the failures as [name, signature, error]."""
    import numba.cuda.dispatcher
    from numba import cuda

    from fastnn.kernels.cuda import launch

    # A kernel's device functions are compiled for "the current device"
    # (numba-cuda 0.30's CUDADispatcher.compile_device), which a machine
    # without a GPU lacks: they are compiled for cc, as the kernel is.
    class Device:
        compute_capability = cc

    numba.cuda.dispatcher.get_current_device = lambda: Device
    kernels = launch.all_kernels()
    failures, compiled = [], 0
    for name, texts in sorted(signatures.items()):
        for text in sorted(texts):
            if name not in kernels:
                failures.append([name, text, "no such kernel in launch.all_kernels()"])
                continue
            try:
                cuda.compile_ptx(kernels[name].py_func, decode(text), cc=cc)
                compiled += 1
            except Exception as error:  # every compiler error is a finding, reported by name
                failures.append([name, text, f"{type(error).__name__}: {str(error)[:2000]}"])
    return compiled, failures


if __name__ == "__main__":
    source, cc, target = sys.argv[1:]
    with open(source) as f:
        signatures = json.load(f)
    compiled, failures = compile_all(signatures, tuple(int(v) for v in cc.split(".")))
    with open(target, "w") as f:
        json.dump({"compiled": compiled, "failures": failures}, f)
