"""`LogCleaner`: the background thread that compacts topics whose cleanup.policy has `compact`.

Kafka runs LogCleaner threads beside the request path; so does this broker, with one thread.
Every `backoff_ms` (Kafka's log.cleaner.backoff.ms) it visits each compacted partition: it rolls
an active segment older than segment.ms (so a quiet topic's last records become cleanable) and
runs a compaction pass (`compaction.clean`) where the dirty ratio or an expired tombstone asks
for one. Produce and fetch wait for the partition lock only while cleaned segments are swapped
in (renames and unlinks), never while records are read or copied.

`clean_now()` asks for a pass at once and waits for it (tests, benchmarks, an operator). A
partition whose pass fails with a storage error is retried on the next pass; one that fails
with anything else is logged with its traceback and left alone until the broker restarts, as
Kafka marks such a partition uncleanable, so one bad log never stops the others.

Crash behaviour: nothing is changed in place. A pass killed at any point leaves `.cleaned` files
(deleted on the next open) or a committed `.swap` (finished on the next open); see `loader`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from headwater.broker.log.compaction import CleaningAborted, CleanResult, clean, needs_cleaning
from headwater.broker.log.errors import LogError
from headwater.broker.log.manager import LogManager
from headwater.broker.log.partition_log import PartitionLog
from headwater.logs import log_event

logger = logging.getLogger("headwater.broker.log")

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class LogCleaner:
    """Compacts the compacted topics of one `LogManager`, in a daemon thread or on request."""

    def __init__(
        self, logs: LogManager, *, backoff_ms: int = 15_000, clock: Clock = wall_clock_ms
    ) -> None:
        self._logs = logs
        self._backoff_s = backoff_ms / 1000
        self._clock = clock
        self._uncleanable: set[str] = set()  # partition directories a bug made us give up on
        self._wake = threading.Condition()
        self._requested = 0  # clean_now() calls so far
        self._completed = 0  # the highest request number a finished pass covered
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="log-cleaner", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Abandon the pass under way between two batches (a swap already started finishes;
        groups swapped in stay cleaned) and end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def clean_now(self, timeout_s: float = 60.0) -> bool:
        """Run a full pass as soon as the thread is free; True once one started after this call
        has finished, False on timeout (or when the cleaner is not running)."""
        with self._wake:
            if self._thread is None or self._stopping:
                return False
            self._requested += 1
            wanted = self._requested
            self._wake.notify_all()
            return self._wake.wait_for(
                lambda: self._completed >= wanted or self._stopping, timeout_s
            ) and (self._completed >= wanted)

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(
                    lambda: self._stopping or self._requested > self._completed, self._backoff_s
                )
                if self._stopping:
                    return
                covers = self._requested
            self.run_once()
            with self._wake:
                self._completed = covers
                self._wake.notify_all()

    # -- one pass ----------------------------------------------------------------------------

    def run_once(self) -> list[CleanResult]:
        """Visit every compacted partition once; returns what was cleaned."""
        results = []
        for log in self._compacted_partitions():
            if self._stopping:
                break
            result = self.clean_partition(log)
            if result is not None:
                results.append(result)
        return results

    def clean_partition(self, log: PartitionLog) -> CleanResult | None:
        """Roll a quiet active segment, then compact if due; errors are logged, not raised."""
        key = str(log.directory)
        if key in self._uncleanable or log.closed:
            return None
        try:
            now_ms = self._clock()
            log.roll_if_quiet(now_ms)
            if needs_cleaning(log, now_ms):
                return clean(log, now_ms, stop=lambda: self._stopping)
        except CleaningAborted:
            return None
        except (LogError, OSError) as exc:
            if not log.closed:  # a topic deleted meanwhile is not a failure
                log_event(
                    logger,
                    "log_cleaning_failed",
                    logging.WARNING,
                    topic=log.topic,
                    partition=log.partition,
                    error=str(exc),
                )
        except Exception:
            self._uncleanable.add(key)
            log_event(
                logger,
                "log_cleaner_error",
                logging.ERROR,
                exc_info=True,
                topic=log.topic,
                partition=log.partition,
                action="partition left uncompacted until the broker restarts",
            )
        return None

    def _compacted_partitions(self) -> list[PartitionLog]:
        return [
            partition
            for topic in list(self._logs.topics.values())
            if topic.config.compacted
            for partition in list(topic.partitions)
        ]
