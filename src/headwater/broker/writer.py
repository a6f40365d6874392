"""The broker's one writer thread: partition appends (and their fdatasync) off the event loop.

Rules:
1. Every append runs on this one thread ("broker-writer"), in submission order. The loop submits in the order
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
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

#: (future to resolve, job) on the way in; (future, result, exception) on the way back.
_Job = tuple["asyncio.Future[Any]", Callable[[], Any]]
_Done = tuple["asyncio.Future[Any]", Any, BaseException | None]


class StorageWriter:
    """One thread that runs storage jobs in order, and the lock that keeps the loop out of them.

    A job goes in through a `queue.SimpleQueue` and its result comes back to the loop with one
    `call_soon_threadsafe` per run of jobs the thread finds queued (one wake-up of the loop for
    many pipelined produces), which costs about half of `run_in_executor`'s round trip.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, _Job] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._work, name="broker-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run `job` on the writer thread, after every job submitted before it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, (future, job)))
        return future

    def _work(self) -> None:
        done: list[_Done] = []
        while True:
            item = self._jobs.get()
            if item is None:
                return
            loop, (future, job) = item
            try:
                with self.lock:
                    done.append((future, job(), None))
            except BaseException as exc:  # delivered to the waiting request, never lost here
                done.append((future, None, exc))
            if self._jobs.empty():
                batch, done = done, []
                with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                    loop.call_soon_threadsafe(_deliver, batch)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off the writer (blocking the caller until its current job ends)."""
        with self.lock:
            yield

    def close(self) -> None:
        """Run the jobs already submitted, then stop the thread (blocking)."""
        self._jobs.put(None)
        self._thread.join()


def _deliver(batch: list[_Done]) -> None:
    for future, result, exc in batch:
        if future.cancelled():
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
