"""Whether the topics the collector writes can take `acks=all` writes now, as Kafka reports it.

A partition takes an `acks=all` write only with a live leader and at least the topic's
`min.insync.replicas` (capped at its replica count, as Kafka caps it) live replicas in sync.
Without them Kafka answers NOT_ENOUGH_REPLICAS, or the write waits for a leader, and librdkafka
retries silently until the delivery timeout: a request queued then is answered 202 and its
events are lost if the outage outlasts that timeout. So while a partition is in that state the
collector queues nothing and answers 503 (`blocked`).

"Live" is asked of the brokers themselves (`Admin.answering_brokers`, a request to each), not
read from the metadata alone: when two of three combined KRaft nodes are down the controller
quorum is lost, nothing updates the metadata, and it keeps naming the dead brokers as leaders
and in-sync replicas (found on the 3-node test cluster; a ZooKeeper cluster's controller does
shrink the ISR).

Cheap by construction: nothing is asked per request. The first sign of trouble (an answer's
wait running out, a failed delivery, the broker reachable again: `suspect`) starts one
background check in a worker thread (a Metadata request, and a DescribeConfigs to each broker
leading or in sync: sent at once, a dead one costs `answer_timeout_s`), repeated every
`interval_s` while the topics are not writable and ended by the first writable verdict.
`min.insync.replicas` is read at start-up (`start`) and whenever the topics are writable again,
so a changed topic config counts from the next episode (a topic's DescribeConfigs goes to the
controller, which such an outage may take away). A check that gets no answer keeps the last
verdict (an unreachable cluster is the producer's own 503, see `delivery.py`). The embedded
single-node broker's one replica leads and is in sync, and min ISR is capped at the replica
count: never blocked while it answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Coroutine, Mapping, Sequence
from typing import Any

from headwater import transport
from headwater.logs import log_event

logger = logging.getLogger("headwater.collector")

MIN_ISR = "min.insync.replicas"


def unwritable_reason(
    partitions: Mapping[str, Sequence[transport.PartitionReplicas]],
    min_isr: Mapping[str, int],
    answering: Collection[int],
) -> str | None:
    """Why some partition cannot take an `acks=all` write (the first such, by topic and
    partition), or None when every one can. `answering`: the brokers that answer now; a leader
    or an in-sync replica that does not is out of service whatever the metadata says. Kafka caps
    min ISR at the replication factor, and so does this."""
    for topic in sorted(partitions):
        for p in partitions[topic]:
            where = f"{topic}[{p.partition}]"
            needed = min(min_isr.get(topic, 1), len(p.replicas))
            if p.leader is None:
                return f"{where} has no leader (replicas {_ids(p.replicas)} out of service)"
            if p.leader not in answering:
                return f"{where}: its leader, broker {p.leader}, does not answer"
            live = [b for b in p.isr if b in answering]
            if len(live) < needed:
                return (
                    f"{where} has {len(live)} in-sync replica(s) answering ({_ids(live)} of "
                    f"{_ids(p.replicas)}), under its {MIN_ISR}={needed}: the cluster "
                    f"refuses acks=all writes"
                )
    return None


def read_min_isr(admin: transport.Admin, topics: Sequence[str], timeout_s: float) -> dict[str, int]:
    """Each topic's `min.insync.replicas` as the broker reports it (1 when it reports none)."""
    found = {}
    for topic in topics:
        value = admin.describe_topic(topic, timeout_s).config.get(MIN_ISR, "1")
        found[topic] = int(value) if value.isdigit() else 1
    return found


class WritabilityWatch:
    """The writable/unwritable state of some topics, checked in the background on suspicion.

    Used from one event loop; the blocking admin calls run in its default executor."""

    def __init__(
        self,
        admin: transport.Admin,
        topics: Sequence[str],
        *,
        interval_s: float = 1.0,
        timeout_s: float = 5.0,
        answer_timeout_s: float = 2.0,
    ) -> None:
        self.blocked: str | None = None  # why writes are refused now; None while writable
        self._admin = admin  # thread-safe: the checks' worker threads share it
        self._topics = list(dict.fromkeys(topics))
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._answer_timeout_s = answer_timeout_s
        self._checking = False
        self._min_isr: dict[str, int] = {}  # as last read; 1 for a topic not read yet
        self._tasks: set[asyncio.Task[None]] = set()  # referenced until done (the loop's are weak)

    def start(self) -> None:
        """Read the topics' min ISR in the background now, while the cluster is whole: the
        DescribeConfigs that reads it goes to the controller, which an outage may take away."""
        self._spawn(self._read_min_isr_until_read())

    def suspect(self) -> None:
        """Something took longer than it should: check in the background, unless a check runs."""
        if not self._checking:
            self._checking = True
            self._spawn(self._check_until_writable())

    def close(self) -> None:
        self._admin.close()

    async def _read_min_isr_until_read(self, attempts: int = 30) -> None:
        """`min_isr` from the broker, asked every `interval_s` until it answers (a few times:
        meanwhile, and if it never does, each topic counts as min ISR 1)."""
        loop = asyncio.get_running_loop()
        for attempt in range(attempts):
            try:
                self._min_isr = await loop.run_in_executor(None, self._read_min_isr)
                return
            except transport.TransportError as exc:
                if attempt == attempts - 1:
                    log_event(logger, "min_isr_unknown", logging.WARNING, reason=str(exc))
            await asyncio.sleep(self._interval_s)

    async def _check_until_writable(self) -> None:
        loop = asyncio.get_running_loop()
        unanswered = False
        try:
            while True:
                try:
                    reason = await loop.run_in_executor(None, self._judge)
                except transport.TransportError as exc:  # no answer: the last verdict stands
                    if not unanswered:
                        log_event(logger, "writability_unknown", logging.WARNING, reason=str(exc))
                    unanswered = True
                else:
                    if self._settle(reason):  # writable again: the topics' config may have
                        self._spawn(self._read_min_isr_until_read())  # changed meanwhile
                    if reason is None:
                        break
                await asyncio.sleep(self._interval_s)
            # At most one check an interval, however many requests pend meanwhile.
            await asyncio.sleep(self._interval_s)
        finally:
            self._checking = False

    def _settle(self, reason: str | None) -> bool:
        """Take a verdict; one log line when the state changes. True when writable again."""
        was = self.blocked
        self.blocked = reason
        if reason is not None and was is None:
            log_event(logger, "events_unwritable", logging.WARNING, reason=reason)
        elif reason is None and was is not None:
            log_event(logger, "events_writable", after=was)
            return True
        return False

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _read_min_isr(self) -> dict[str, int]:
        return read_min_isr(self._admin, self._topics, self._timeout_s)

    def _judge(self) -> str | None:
        admin = self._admin
        partitions = admin.describe_partitions(self._topics, self._timeout_s)
        involved = {b for parts in partitions.values() for p in parts for b in (*p.isr, p.leader)}
        answering = admin.answering_brokers(
            (b for b in involved if b is not None), self._answer_timeout_s
        )
        return unwritable_reason(partitions, self._min_isr, answering)


def _ids(ids: Sequence[int]) -> str:
    return ",".join(map(str, ids)) or "none"
