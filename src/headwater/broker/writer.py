"""The broker's one writer thread: partition appends (and their fdatasync) off the event loop.

Rules:
1. Every append runs on this one thread, in submission order. The loop submits in the order
   requests arrive, so each partition's batches land in arrival order and idempotent-producer
   sequence checks see them in that order, exactly as when the loop appended them itself.
2. The thread holds `lock` while it runs a job. Whatever removes segments or closes logs on the
   loop thread (retention, DeleteTopics, shutdown) takes it through `exclusive()`, so a log is
   never closed, and its descriptors never reused, under an append. That wait is bounded by one
   job (one request's appends, fsync included under `always`).
3. Readers on the loop (Fetch, ListOffsets) run concurrently with an append: a partition's end
   offset may move before its bytes are readable (a fetch then returns no records and the
   client asks again), and fetch waiters are woken only when the append has completed.

Crash behaviour: a job that raises something other than a LogError is a broker bug; its future
carries the exception and the server closes that connection (server rule 3). `close()` waits for
the jobs already submitted, so a clean stop never loses an acknowledged append.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class StorageWriter:
    """A single-thread executor for storage jobs, and the lock that keeps the loop out of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-writer")

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run `job` on the writer thread, after every job submitted before it."""
        return asyncio.get_running_loop().run_in_executor(self._executor, self._locked, job)

    def _locked(self, job: Callable[[], T]) -> T:
        with self.lock:
            return job()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off the writer (blocking the caller until its current job ends)."""
        with self.lock:
            yield

    def close(self) -> None:
        """Run the jobs already submitted, then stop the thread (blocking)."""
        self._executor.shutdown(wait=True)
