"""Numba's in-tree cache of the kernels is dropped when any kernel source
changed: Numba itself checks only the file that defines a function, so its
callers in other files would keep old machine code."""

import fastnn.kernels as K


def _tree(tmp_path):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "cpu" / "b.py").write_text("y = 2\n")
    return tmp_path


def _cache_files(root):
    return sorted(p.name for p in root.rglob("*.nb[ic]"))


def test_cache_of_other_sources_is_dropped_and_current_one_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    root = _tree(tmp_path)
    K.drop_stale_cache(root)  # fresh checkout: stamps written before any cache file
    stamps = sorted(p.relative_to(root).as_posix() for p in root.rglob(K._STAMP))
    assert stamps == ["__pycache__/" + K._STAMP, "cpu/__pycache__/" + K._STAMP]
    for cache in ("__pycache__", "cpu/__pycache__"):
        (root / cache / "b.f-1.py311.nbi").write_text("index")
        (root / cache / "b.f-1.py311.1.nbc").write_text("code")
        (root / cache / "b.cpython-311.pyc").write_text("bytecode")
    K.drop_stale_cache(root)
    assert len(_cache_files(root)) == 4  # same sources: kept
    (root / "a.py").write_text("x = 3\n")  # one file changed: every kernel's cache goes
    K.drop_stale_cache(root)
    assert _cache_files(root) == []
    assert len(list(root.rglob("*.pyc"))) == 2  # Python's own files stay
    assert (root / "cpu" / "__pycache__" / K._STAMP).read_text() == K.source_digest(root)


def test_a_cache_directory_named_by_the_caller_is_left_alone(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "b.f-1.py311.nbi").write_text("index")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    K.drop_stale_cache(root)
    assert _cache_files(root) == ["b.f-1.py311.nbi"]


def test_the_digest_is_the_one_tests_and_ci_name_their_cache_after():
    import os
    from pathlib import Path

    assert Path(os.environ["NUMBA_CACHE_DIR"]).name == K.source_digest()
