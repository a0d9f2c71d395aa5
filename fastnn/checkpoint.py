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
previous checkpoint or the new one, never a torn file.  The file gets the
mode an ordinary new file gets (0666 less the umask), or keeps the mode of
the file it replaces; the temporary files that killed saves to the same
name left behind are removed by the next save to it (two processes saving
to one name at once are not supported).
"""

import json
import os
import re
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


#: Nesting deeper than this is refused on load: fastnn writes a handful of
#: levels, and Python's recursion limit (1000) must never be what stops a file.
MAX_DEPTH = 64


class _Malformed(Exception):
    """What is wrong inside the metadata (load turns it into a CheckpointError naming the path)."""


def _decode(value, arrays, depth=0):
    if depth > MAX_DEPTH:
        raise _Malformed(f"content nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            key = value["__array__"]
            if type(key) is not str or key not in arrays:
                raise _Malformed(f"an array reference {key!r:.40} that names no array of the file")
            return arrays[key]
        if set(value) == {"__tuple__"}:
            if type(value["__tuple__"]) is not list:
                raise _Malformed(f"a tuple that is a {type(value['__tuple__']).__name__}, not a list")
            return tuple(_decode(v, arrays, depth + 1) for v in value["__tuple__"])
        return {k: _decode(v, arrays, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays, depth + 1) for v in value]
    return value


def _check_entries(path):
    """Each entry's .npy header against the bytes the entry holds, before NumPy allocates what a header declares."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(f)
                if dtype.hasobject:
                    raise CheckpointError(f"{path}: not a fastnn checkpoint (entry {info.filename} holds Python objects, "
                                          "which only pickle could read)")
                declared = dtype.itemsize * int(np.prod(shape, dtype=object))
                if declared != info.file_size - f.tell():
                    raise _Malformed(f"entry {info.filename} declares {declared} bytes of data and holds {info.file_size - f.tell()}")


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
    prefix = os.path.basename(path) + "."
    _remove_orphans(directory, prefix)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)  # mkstemp's 0600 would otherwise become the checkpoint's
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


def _umask():
    """The process's umask, read without changing it where Linux tells it (os.umask sets it to read it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def _remove_orphans(directory, prefix):
    """Remove the temporary files of earlier saves to this name that never finished (mkstemp's names: prefix, 8 characters, .tmp)."""
    pattern = re.compile(re.escape(prefix) + r"[A-Za-z0-9_]{8}\.tmp")
    for name in os.listdir(directory):
        if pattern.fullmatch(name):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                pass


def load(path):
    """
    Read a checkpoint written by :func:`save`.

    Inputs:
    - path: The file

    Returns:
    - The tree that was saved

    Raises CheckpointError (a ValueError) naming the path when the file is
    empty, truncated, of another program, malformed (an array header that
    declares more data than the entry holds, references to missing arrays,
    JSON nested deeper than MAX_DEPTH, metadata of the wrong types), or a
    pickle checkpoint of fastnn 0.1 (refused: unpickling a file can run any
    code it holds).
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
        _check_entries(path)
        with np.load(path, allow_pickle=False) as npz:
            if _META not in npz.files:
                raise CheckpointError(f"{path}: not a fastnn checkpoint (a NumPy archive without fastnn's metadata)")
            meta = json.loads(npz[_META].tobytes().decode("utf-8"))
            arrays = {name: npz[name] for name in npz.files if name != _META}
    except CheckpointError:
        raise
    except _Malformed as exc:
        raise CheckpointError(f"{path}: a malformed checkpoint: {exc}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError, RecursionError, MemoryError) as exc:
        raise CheckpointError(f"{path}: not a fastnn checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a fastnn checkpoint (no fastnn format marker)")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path}: fastnn checkpoint version {meta.get('version')!r}; this fastnn reads {VERSION}")
    if "content" not in meta:
        raise CheckpointError(f"{path}: a malformed checkpoint: its metadata has no content")
    try:
        return _decode(meta["content"], arrays)
    except _Malformed as exc:
        raise CheckpointError(f"{path}: a malformed checkpoint: {exc}") from None
