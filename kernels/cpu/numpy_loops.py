"""NumPy's own float64 ``exp`` and ``log`` loops, called from compiled code.

Why: the float64 softmax must give NumPy's bits (see numpy_order.py), and
NumPy's exp is a SIMD loop chosen for the CPU at import, which differs from
libm's exp in the last bit for 4.6% of inputs (measured).  Called as a ufunc
from Python, it costs about 1 us a call and keeps the softmax's three steps
in Python, with their views and worker threads.  Its inner loop, called
through a pointer, costs a call.

Where the loops are: a ufunc is a ``PyUFuncObject`` (numpy/ufuncobject.h,
public and unchanged in its leading fields since NumPy 1.0): after the
object header, ``int nin, nout, nargs, identity``, then ``functions`` (one
``void loop(char **args, npy_intp const *dimensions, npy_intp const *steps,
void *data)`` per type signature), ``data``, ``int ntypes``, ``name`` and
``types`` (the type numbers of each signature).  :func:`loop` reads them and
checks nin, nout, nargs, ntypes, the name and every signature against what
the ufunc reports in Python; on any mismatch it returns None, and callers
use the ufunc itself.  Elementwise loops give every element the same bits
whatever the run they are called on (tested against the ufunc).

The loop's address is an argument of the compiled kernels, never a constant
in them: ``cache=True`` machine code outlives the process that loaded NumPy.
"""

import ctypes
import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_HEAD = 2 * ctypes.sizeof(ctypes.c_void_p)  # PyObject_HEAD: refcount, type
_INT = ctypes.sizeof(ctypes.c_int)
_PTR = ctypes.sizeof(ctypes.c_void_p)


def _read(address, ctype):
    return ctype.from_address(address).value


def loop(ufunc, signature):
    """
    ``(function, data)`` addresses of ``ufunc``'s inner loop for
    ``signature`` (for example ``"d->d"``), or None when the ufunc's memory
    does not read as the documented layout.
    """
    if type(ufunc) is not np.ufunc or signature not in ufunc.types:
        return None
    base = id(ufunc)  # CPython: the object's address
    ints = [_read(base + _HEAD + k * _INT, ctypes.c_int) for k in range(3)]
    fields = base + _HEAD + 4 * _INT
    functions, data = _read(fields, ctypes.c_void_p), _read(fields + _PTR, ctypes.c_void_p)
    ntypes = _read(fields + 2 * _PTR, ctypes.c_int)
    name_at, types_at = _read(fields + 3 * _PTR, ctypes.c_void_p), _read(fields + 4 * _PTR, ctypes.c_void_p)
    nargs = ufunc.nin + ufunc.nout
    if ints != [ufunc.nin, ufunc.nout, nargs] or ntypes != ufunc.ntypes or not (functions and name_at and types_at):
        return None
    if ctypes.string_at(name_at) != ufunc.__name__.encode():
        return None
    numbers = ctypes.string_at(types_at, ntypes * nargs)
    for k, sig in enumerate(ufunc.types):
        expected = bytes(np.dtype(c).num for c in sig.replace("->", ""))
        if numbers[k * nargs:(k + 1) * nargs] != expected:
            return None
    k = ufunc.types.index(signature)
    function = _read(functions + k * _PTR, ctypes.c_void_p)
    loop_data = _read(data + k * _PTR, ctypes.c_void_p) if data else None
    return (function, loop_data or 0) if function else None


def float64_exp_log():
    """``(exp, exp_data, log, log_data)`` for :func:`apply`, or None."""
    if sys.implementation.name != "cpython":
        return None
    found = [loop(np.exp, "d->d"), loop(np.log, "d->d")]
    if None in found:
        return None
    return found[0] + found[1]


@intrinsic
def _call(typingctx, function, frame, data):
    # function(args, dimensions, steps, data) with the three arrays in
    # frame's cells [0:2], [2] and [3:5].  frame is an argument, not an
    # address, so that it stays alive through the call.
    sig = types.void(types.intp, frame, types.intp)

    def codegen(context, builder, signature, args):
        byte_ptr = ir.IntType(8).as_pointer()
        intp = context.get_value_type(types.intp)
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr.as_pointer(), intp.as_pointer(), intp.as_pointer(), byte_ptr])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        cells = context.make_array(signature.args[1])(context, builder, args[1]).data
        argv = builder.bitcast(cells, byte_ptr.as_pointer())
        dims = builder.gep(cells, [ir.Constant(ir.IntType(32), 2)])
        steps = builder.gep(cells, [ir.Constant(ir.IntType(32), 3)])
        builder.call(fn, [argv, dims, steps, builder.inttoptr(args[2], byte_ptr)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True)
def apply(function, data, src, dst, start, stop):
    """
    ``dst.flat[start:stop] = f(src.flat[start:stop])`` through a float64
    ``d->d`` loop from :func:`loop`.

    Parameters
    ----------
    function, data : int
        The loop's addresses.
    src, dst : float64 ndarrays, C-contiguous, of one size (may be the same)
    start, stop : int, 0 <= start <= stop <= src.size
    """
    frame = np.empty(5, np.intp)  # args[2], dimensions[1], steps[2]
    frame[0] = src.ctypes.data + 8 * start
    frame[1] = dst.ctypes.data + 8 * start
    frame[2] = stop - start
    frame[3] = 8
    frame[4] = 8
    _call(function, frame, data)
