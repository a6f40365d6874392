"""Hand changes to the broker and learn, in commit order, which source positions are durable.

Rules:
1. Changes arrive grouped in transactions: `change()` adds to the open transaction, `commit()`
   closes it with the position a reader would resume *after* it.
2. A transaction is acknowledged when the broker acknowledged each of its changes. Positions
   advance only over a prefix of acknowledged transactions, never past an unacknowledged one,
   so a stored position never skips a change that could still be lost.
3. The acknowledged position is written to `_headwater.positions` at most every
   `save_interval_s`; when the broker acknowledged that record, `on_durable(position)` runs and the
   reader may tell the database (PostgreSQL flush LSN) that everything up to there is safe.
4. A failed delivery is fatal: the next call raises `BrokerDeliveryError` and nothing after the
   failure becomes durable; a restart resumes from the last durable position (at least once).
5. Changes are handed to the producer in groups (`Producer.produce_group`: plain tuples, one
   callback a group, not a `Delivery` a record): a group is sent at `commit()`, `poll()`,
   `flush()` and when it reaches `_GROUP_MAX` records, so a change never waits for more than the
   reader's next poll. A transaction is acknowledged when each of its groups is.
6. The first change to a topic calls `ensure_topic(topic)` before it is queued (once a topic per
   publisher): the runner creates the topic durably there instead of leaving it to the broker's
   auto-creation (`headwater.sources.topics`).

Delivery reports run inside `change()`, `commit()` and `poll()` on the caller's thread.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

from headwater import transport
from headwater.contracts.positions import CdcPosition as Position
from headwater.logs import log_event
from headwater.sources.cdc.errors import BrokerDeliveryError
from headwater.sources.positions import CdcPositionWriter

log = logging.getLogger("headwater.cdc")

#: A commit serves delivery reports when the last poll is older than this, so positions advance
#: however big the transactions and however rarely the reader polls.
_POLL_INTERVAL_S = 0.02
#: Records of one transaction sent to the producer at once (rule 5).
_GROUP_MAX = 2048


class _Transaction:
    __slots__ = ("closed", "failed", "pending", "position")

    def __init__(self) -> None:
        self.pending = 0
        self.closed = False
        self.failed: transport.DeliveryError | None = None
        self.position: Position | None = None

    def group_done(self, error: transport.DeliveryError | None) -> None:
        self.pending -= 1
        if error is not None and self.failed is None:
            self.failed = error


class Publisher:
    """Produces changes of one source and tracks which of its positions the broker holds."""

    def __init__(
        self,
        producer: transport.Producer,
        source: str,
        connector: str,
        on_durable: Callable[[Position], None] | None = None,
        save_interval_s: float = 0.2,
        headers: dict[str, bytes] | None = None,
        ensure_topic: Callable[[str], None] | None = None,
    ) -> None:
        self._producer = producer
        self._ensure_topic = ensure_topic
        self._topics: set[str] = set()  # ensured (rule 6)
        self._positions = CdcPositionWriter(producer, source, connector)
        self._on_durable = on_durable
        self._save_interval_s = save_interval_s
        self._headers = [("source", source.encode()), *(headers or {}).items()]
        self._queue: collections.deque[_Transaction] = collections.deque()
        self._open: _Transaction | None = None
        self._acked: Position | None = None  # all its changes acknowledged
        self._saving: Position | None = None  # produced to the positions topic, not yet acked
        self.durable: Position | None = None  # stored in the positions topic
        self._last_save = 0.0
        self._last_poll = 0.0
        self.changes = 0
        self._group: list[transport.GroupRecord] = []  # changes of `_open` not yet produced
        self._carried: Callable[[], Position | None] | None = None

    def carry(self, state: Callable[[], Position | None] | None) -> None:
        """Store `state()` (e.g. an incremental snapshot's progress) in every position committed
        from now on: it becomes durable exactly with the changes it describes."""
        self._carried = state

    def set_on_durable(self, on_durable: Callable[[Position], None] | None) -> None:
        self._on_durable = on_durable

    def change(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """Queue one change record of the open transaction."""
        if topic not in self._topics:
            if self._ensure_topic is not None:
                self._ensure_topic(topic)
            self._topics.add(topic)
        if self._open is None:
            self._open = _Transaction()
            self._queue.append(self._open)
        group = self._group
        group.append((topic, value, key, self._headers))
        self.changes += 1
        if len(group) >= _GROUP_MAX:
            self._send_group()

    def commit(self, position: Position) -> None:
        """Close the open transaction (or mark a position with no changes, e.g. a heartbeat)."""
        if self._group:
            self._send_group()
        txn = self._open
        if txn is None:
            txn = _Transaction()
            self._queue.append(txn)
        if self._carried is not None:
            state = self._carried()
            if state:
                position = {**position, **state}
        txn.position = position
        txn.closed = True
        self._open = None
        if time.monotonic() - self._last_poll >= _POLL_INTERVAL_S:
            self.poll(0)

    def poll(self, timeout_s: float = 0.0) -> None:
        """Serve delivery reports, advance the acknowledged position, save it when due."""
        if self._group:
            self._send_group()
        self._producer.poll(timeout_s)
        self._last_poll = time.monotonic()
        self._advance()
        if self._acked is not None and self._acked is not self._saving:
            now = time.monotonic()
            if now - self._last_save >= self._save_interval_s:
                self._save(self._acked)
                self._last_save = now

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait for every queued change and save the last acknowledged position; True if durable."""
        if self._group:
            self._send_group()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
            self._advance()
            if self._acked is not None and self._acked is not self._saving:
                self._save(self._acked)
            self._producer.flush(min(1.0, max(0.0, deadline - time.monotonic())))
            if not self._queue and (self._acked is None or self.durable is self._acked):
                return True
        return False

    @property
    def unacknowledged(self) -> int:
        """Transactions produced but not yet fully acknowledged (or still open)."""
        return len(self._queue)

    def _send_group(self) -> None:
        txn = self._open
        assert txn is not None  # a change opened it
        group, self._group = self._group, []
        # If this raises, the transaction stays pending: it never counts as acknowledged.
        txn.pending += 1
        self._producer.produce_group(group, txn.group_done)

    def _advance(self) -> None:
        queue = self._queue
        while queue:
            head = queue[0]
            if head.failed is not None:
                raise BrokerDeliveryError(
                    f"the broker did not store a change: {head.failed}",
                    "check the broker; restart `headwater cdc`, it resumes from the last "
                    "stored position",
                )
            if not head.closed or head.pending > 0:
                return
            queue.popleft()
            self._acked = head.position

    def _save(self, position: Position) -> None:
        self._saving = position
        self._positions.save(position, self._stored)

    def _stored(self, position: Position) -> None:
        self.durable = position
        log_event(log, "position_stored", level=logging.DEBUG, position=position)
        if self._on_durable is not None:
            self._on_durable(position)
