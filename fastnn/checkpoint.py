"""Checkpoint files: NumPy arrays and JSON, never pickle.

A checkpoint is one ``.npz`` file.  Every array is an entry of its own, and
the entry ``__fastnn_checkpoint__`` holds UTF-8 JSON for everything else,
with ``{"__array__": "a3"}`` where an array goes and ``{"__tuple__": [...]}``
for tuples.  It is read with ``np.load(allow_pickle=False)``, so a file can
only ever yield numbers, strings and arrays: loading one runs no code, which
``pickle.load`` cannot promise (an object's ``__reduce__`` runs on load).

Saving is atomic: the file is written under a temporary name in the target's
directory, flushed and fsynced, then ``os.replace``d over the final name,
and the directory is fsynced.  A crash or kill at any point leaves the
previous checkpoint or the new one, never a torn file.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "fastnn checkpoint"
VERSION = 1
_META = "__fastnn_checkpoint__"
_PICKLE_MAGIC = b"\x80"


class CheckpointError(ValueError):
    """A file that is not a readable fastnn checkpoint."""


def _encode(value, arrays):
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"checkpoint: dict keys must be strings, got {list(value)!r:.80}")
        return {k: _encode(v, arrays) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"checkpoint: cannot store a {type(value).__name__} without pickle")


def _decode(value, arrays):
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def save(path, tree):
    """
    Write ``tree`` (nested dicts with string keys, lists, tuples, arrays and
    JSON scalars) to ``path`` atomically.

    Inputs:
    - path: File name; a temporary file beside it is renamed over it
    - tree: The content
    """
    arrays = {}
    meta = json.dumps({"format": FORMAT, "version": VERSION, "content": _encode(tree, arrays)})
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path):
    """
    Read a checkpoint written by :func:`save`.

    Inputs:
    - path: The file

    Returns:
    - The tree that was saved

    Raises CheckpointError (a ValueError) naming the path when the file is
    empty, truncated, of another program, or a pickle checkpoint of fastnn
    0.1 (refused: unpickling a file can run any code it holds).
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(1)
    if head == _PICKLE_MAGIC:
        raise CheckpointError(
            f"{path}: a pickle checkpoint from fastnn 0.1, which this version does not load: unpickling a file "
            f"can run any code it holds. Retrain, or, if you trust the file, unpickle it yourself and copy its "
            f"params into a model"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            if _META not in npz.files:
                raise CheckpointError(f"{path}: not a fastnn checkpoint (a NumPy archive without fastnn's metadata)")
            meta = json.loads(npz[_META].tobytes().decode("utf-8"))
            arrays = {name: npz[name] for name in npz.files if name != _META}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a fastnn checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a fastnn checkpoint (no fastnn format marker)")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: fastnn checkpoint version {meta.get('version')!r}; this fastnn reads {VERSION}")
    return _decode(meta["content"], arrays)
