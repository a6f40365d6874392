"""The broker's one writer thread: partition appends (and their fdatasync) off the event loop.

Rules:
1. Appends that may block (an fdatasync, a large write) run on this one thread
   ("broker-writer"), in submission order. The loop submits in the order requests arrive, so
   each partition's batches land in arrival order and idempotent-producer sequence checks see
   them in that order, as when the loop appended them. A small append into the page cache may
   run on the loop instead (`run_inline`), but only while the writer is `idle` (every job
   submitted has run and been delivered), so the order is the same either way. Why: a thread
   hop costs two wake-ups and two GIL hand-offs, more than a few-KB `os.write`; at low rates
   (one small produce a millisecond) the hop was a third of the broker's CPU a record.
2. The thread holds `lock` while it runs a job. Whatever removes segments or closes logs on the
   loop thread (retention, DeleteTopics) takes it through `exclusive()`, so a log is
   never closed, and its descriptors never reused, under an append. That wait is bounded by one
   job (one request's appends, fsync included under `always`). Shutdown closes the writer first.
3. Readers on the loop (Fetch, ListOffsets) run concurrently with an append: a partition's end
   offset may move before its bytes are readable (a fetch then returns no records and the
   client asks again), and fetch waiters are woken only when the append has completed.

Crash behaviour: a job that raises something other than a LogError is a broker bug; its `done`
gets the exception and the server closes that connection (server rule 3). `close()` runs the
jobs already submitted, so a clean stop never loses an acknowledged append.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Job(Generic[T]):
    """`run` on the writer thread; then `done(result, None)` or `done(None, exception)` on the
    loop that submitted it."""

    __slots__ = ("done", "loop", "run")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        run: Callable[[], T],
        done: Callable[[T | None, BaseException | None], None],
    ) -> None:
        self.loop, self.run, self.done = loop, run, done


_Finished = tuple[Job[Any], Any, BaseException | None]


class StorageWriter:
    """One thread that runs storage jobs in order, and the lock that keeps the loop out of them.

    A job goes in through a `queue.SimpleQueue`; its completion comes back to the loop with one
    `call_soon_threadsafe` per run of jobs the thread found queued (one wake-up of the loop for
    many pipelined produces), calling each job's `done` directly: no futures, about half of
    `run_in_executor`'s CPU per round trip.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._outstanding = 0  # jobs submitted and not yet delivered; touched on the loop only
        self._jobs: queue.SimpleQueue[Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="broker-writer", daemon=True)
        self._thread.start()

    def submit(
        self, run: Callable[[], T], done: Callable[[T | None, BaseException | None], None]
    ) -> None:
        """Run `run` on the writer thread after every job submitted before it, then call `done`
        on the calling loop (never from inside `submit`)."""
        self._outstanding += 1
        self._jobs.put(Job(asyncio.get_running_loop(), run, done))

    @property
    def idle(self) -> bool:
        """No job queued, running or awaiting delivery: an inline run keeps submission order."""
        return self._outstanding == 0

    def run_inline(self, run: Callable[[], T]) -> T:
        """Run `run` on the calling loop thread, as a job would run (under `lock`). Only while
        `idle`; the caller handles what it raises."""
        if self._outstanding:
            raise RuntimeError("run_inline while the writer has jobs: it would reorder appends")
        with self.lock:
            return run()

    def _work(self) -> None:
        finished: list[_Finished] = []
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                with self.lock:
                    finished.append((job, job.run(), None))
            except BaseException as exc:  # handed to the job's `done`, never lost here
                finished.append((job, None, exc))
            if self._jobs.empty():
                batch, finished = finished, []
                with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                    job.loop.call_soon_threadsafe(self._deliver, batch)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off the writer (blocking the caller until its current job ends)."""
        with self.lock:
            yield

    def close(self) -> None:
        """Run the jobs already submitted, then stop the thread (blocking)."""
        self._jobs.put(None)
        self._thread.join()

    def _deliver(self, batch: list[_Finished]) -> None:
        """On the loop: the jobs are done, then each one's `done` runs (which may submit or
        run inline again: the count already says they are finished)."""
        self._outstanding -= len(batch)
        for job, result, exc in batch:
            job.done(result, exc)
