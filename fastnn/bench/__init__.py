"""``fastnn bench``: timing against the NumPy reference and PyTorch.

| module | what |
|---|---|
| ``timing.py`` | interleaved medians, the machine's peaks, tables and the plot |
| ``cpu.py`` | the CPU cases: one per catalog layer and bench size, the optimiser steps, the seed's loop |
| ``cuda.py`` | the GPU cases against PyTorch and CuPy |
"""
