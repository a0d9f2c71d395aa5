"""Compiled kernels behind :mod:`fastnn.layers`.

``fastnn.kernels.cpu`` holds the Numba ``@njit`` kernels.  They trust their
inputs (C-contiguous arrays of one float dtype, shapes already checked);
validation lives in the public API.
"""
