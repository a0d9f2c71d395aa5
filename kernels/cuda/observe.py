"""Observers of the device work: kernel launches, copies to the host, and allocations from the driver.

Nothing observes in normal use, and then a launch costs one list test more.
The tests install observers to count each public call's launches, host
copies and allocations against its budget (tests/test_cuda_budget.py), to
check the stream every launch goes to, and to record every argument
signature a kernel is launched with, which tests/test_cuda_compiles.py then
compiles with the real CUDA compiler.
"""

import contextlib

#: The observers now installed (see :func:`observe`).
OBSERVERS = []


class Observer:
    """What an observer is told; each method is a no-op here."""

    def launched(self, kernel, config, args):
        """kernel (a launch.Kernel) was launched as kernel[config](*args)."""

    def copied_to_host(self, array):
        """The device array's contents were copied to the host."""

    def copied_to_device(self, nbytes):
        """nbytes of host data were copied to the device."""

    def allocated(self, nbytes):
        """nbytes were allocated from the driver (a pool miss)."""


@contextlib.contextmanager
def observe(observer):
    """Tell ``observer`` of every launch, copy and driver allocation within the block."""
    OBSERVERS.append(observer)
    try:
        yield observer
    finally:
        OBSERVERS.remove(observer)


def notify(method, *args):
    for observer in list(OBSERVERS):
        getattr(observer, method)(*args)
