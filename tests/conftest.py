import ctypes
import hashlib
import os
from pathlib import Path

from hypothesis import settings

# Numba does not notice that a cached kernel's callee or global in another
# file changed, so a stale cache could run old machine code after an edit or
# a pull.  Tests compile into a cache directory named after a hash of every
# kernel source: any edit gives a fresh one.  (Set before numba is imported.)
_KERNELS = Path(__file__).resolve().parent.parent / "kernels"
_digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(_KERNELS.rglob("*.py")))).hexdigest()[:16]
os.environ.setdefault("NUMBA_CACHE_DIR", str(_KERNELS.parent / ".numba_cache" / _digest))

# The CUDA tests run in this same session: on a machine without a GPU (CI),
# on Numba's CUDA simulator.  Numba reads NUMBA_ENABLE_CUDASIM when it is
# first imported, so this has to happen here, before any test module loads it.
try:
    ctypes.CDLL("libcuda.so.1")
except OSError:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

# The first call of a kernel compiles it (or loads it from Numba's cache),
# which can exceed hypothesis' default 200 ms deadline.  CI runs a fixed
# sequence of examples so that its result does not depend on chance; local
# runs explore new ones each time.
settings.register_profile("fastnn", deadline=None, max_examples=60, derandomize=bool(os.environ.get("CI")))
settings.register_profile("thorough", deadline=None, max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fastnn"))


# Every kernel launch of the session is recorded by its argument types, and
# tests/test_cuda_compiles.py, which runs last, compiles each signature with
# the real CUDA compiler (the simulator never type-checks a kernel).
def pytest_configure(config):
    try:
        from fastnn.kernels.cuda import launch, observe
    except ImportError:  # no numba-cuda: the CUDA tests are skipped
        return
    from kernel_signatures import encode

    class Signatures(observe.Observer):
        def __init__(self):
            self.seen = {}

        def launched(self, kernel, config, args):
            self.seen.setdefault(kernel.name, set()).add(encode(launch.signature(args)))

    config.kernel_signatures = Signatures()
    observe.OBSERVERS.append(config.kernel_signatures)


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: getattr(getattr(item, "module", None), "__name__", "") == "test_cuda_compiles")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    summary = getattr(config, "kernel_compile_summary", None)
    if summary:
        terminalreporter.write_line(summary)
