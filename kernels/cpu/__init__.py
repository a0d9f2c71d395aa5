"""``@njit`` kernels, one module per op family (the map is in :mod:`fastnn.kernels`).

Conventions
-----------
* Inputs are C-contiguous float32 or float64 arrays whose shapes the public
  API has already checked; the kernels do no checking of their own.
* Each kernel is compiled natively per dtype, and every constant is made in
  the array's dtype (``x.dtype.type(0)``) so float32 never upcasts.
* Loop bodies live in serial ``*_span`` functions over a row or element
  range; large inputs run them over chunks in a ``prange`` driver, small
  ones call them directly and pay no thread start-up (``dispatch.py``).
"""
