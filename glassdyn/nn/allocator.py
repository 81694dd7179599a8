"""glibc allocator settings for CPU training on large graphs.

One N=4096 BOTAN graph has ~166k edges, so every edge activation (E x 64 float32) is ~42 MB.
glibc serves blocks above its mmap threshold (at most 32 MB by default) with fresh ``mmap``
calls and returns them with ``munmap`` when torch frees them: each such tensor then costs ~10k
page faults and a kernel zero-fill pass, on every use, on top of the arithmetic.  Raising the
threshold (``mallopt(M_MMAP_THRESHOLD)``) and the trim threshold keeps those blocks in the heap
and reuses them from step to step.  The cost: freed memory stays with the process (its peak RSS
is not given back to the OS until exit).  No effect (returns False) off glibc.  Measured on a
loaded 2-core machine (scripts/bench_botan.py, N=4096, fused path): 1.35 s instead of 2.13 s of
CPU time per training step (435k fewer page faults per step).  An earlier "within noise" figure
came from switching the setting back and forth every step, which trims the heap each time; the
benchmark now runs each setting as its own block.  ``glassdyn train`` leaves it off unless asked
(``TrainConfig(tune_allocator=True)``), since it is process-wide.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_MMAP_MAX = 32 * 2**20  # glibc's dynamic threshold never exceeds this (64-bit)


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


def set_mmap_threshold(nbytes: int) -> bool:
    """Serve blocks below ``nbytes`` from the heap and keep up to 2x that before trimming."""
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(int(nbytes))) == 1
    ok &= libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(int(min(2 * nbytes, 2**31 - 1)))) == 1
    return bool(ok)


def tune_for_large_graphs(nbytes: int = 1 << 30) -> bool:
    """Keep tensors up to ``nbytes`` (1 GiB) in the heap; True when applied (glibc)."""
    return set_mmap_threshold(nbytes)


def restore_default() -> bool:
    """Back to (approximately) glibc's default for large blocks: mmap above 32 MB."""
    return set_mmap_threshold(DEFAULT_MMAP_MAX)
