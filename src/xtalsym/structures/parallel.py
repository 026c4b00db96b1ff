"""A process pool that stops its queued work when the parent is interrupted; a per-task time limit."""

from __future__ import annotations

import contextlib
import signal
import threading
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


class TimeLimitExceeded(BaseException):
    """Raised by :func:`time_limit` (a BaseException: library code that catches every
    Exception must not swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` of wall time.

    Uses SIGALRM, so it works in the main thread of a process (a pool worker or the CLI) and
    interrupts Python code; elsewhere, or with ``seconds`` None/0, it does nothing. Native
    code that never returns to Python is cut only by the pool's crash handling.
    """
    if (
        not seconds
        or not hasattr(signal, "setitimer")  # Windows
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def _raise(signum, frame):
        raise TimeLimitExceeded(f"over {seconds:g} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
