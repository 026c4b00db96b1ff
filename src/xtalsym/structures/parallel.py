"""A process pool that stops its queued work when the parent is interrupted."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


@contextlib.contextmanager
def process_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` processes, or None for in-process work (``workers`` <= 1).

    On an exception (Ctrl-C, a failed task) queued tasks are cancelled instead of awaited,
    so an interrupted run stops promptly; finished work (e.g. chunk files) stays.
    """
    if workers <= 1:
        yield None
        return
    pool = ProcessPoolExecutor(workers)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
