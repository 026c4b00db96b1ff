"""OpenBLAS threads for the simulator: one per process while a crystal is simulated.

The simulator's matrix products are small (a few thousand reflections by 3 to 52 normals, or
by a few dozen sites). OpenBLAS splits them over all cores anyway, and its idle threads spin
waiting for the next product: that doubles the CPU time of a crystal, and on a machine whose
cores are all busy (the stage runs one worker per core) it slows the wall clock as much.
The thread count is set through the libraries' own C functions (numpy and scipy bundle
their OpenBLAS under renamed symbols); elsewhere (another BLAS, no /proc) nothing changes.
The split of a product over threads does not change its result, so patterns are the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator

# (set, get) symbol names of the OpenBLAS builds numpy and scipy ship, and of a system one.
_SYMBOLS = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
)


@functools.cache
def _openblas() -> tuple[tuple, ...]:
    """(set, get) C functions of every OpenBLAS loaded when first called (numpy's is loaded
    with numpy)."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
    except OSError:
        return ()
    found = []
    for path in paths:  # one or two libraries
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _SYMBOLS:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                found.append((getattr(lib, set_name), getattr(lib, get_name)))
                break
    return tuple(found)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the body with one OpenBLAS thread, then restore each library's thread count."""
    libs = _openblas()
    before = [get() for _, get in libs]
    for set_threads, _ in libs:
        set_threads(1)
    try:
        yield
    finally:
        for (set_threads, _), n in zip(libs, before, strict=True):
            set_threads(n)
