"""Transaction boundaries, as Debezium's `provide.transaction.metadata` writes them (opt-in).

With `headwater cdc --transactions`, each change's envelope carries `transaction`: `{id,
total_order, data_collection_order}` (its place in the transaction, and among the transaction's
changes of its table), and `cdc.<source>.transaction` gets a BEGIN record before a transaction's
first change and an END record after its last one, with the count of changes per table
(`data_collections`). A consumer can then apply a transaction whole: it has all of it once it holds
END and `event_count` changes with that id. Transactions with no captured change (other tables,
DDL) write nothing. Keys are `{"id": <transaction id>}`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from headwater.contracts.cdc import encode

#: `publisher.change(topic, key, value)`.
Emit = Callable[[str, bytes | None, bytes | None], None]


class TransactionTracker:
    """Numbers the changes of the current transaction and writes its BEGIN and END records."""

    def __init__(self, topic: str, emit: Emit) -> None:
        self.topic = topic
        self.emit = emit
        self._id: str | None = None
        self._ts_ms = 0
        self._per_table: Counter[str] = Counter()
        self._total = 0

    @property
    def open(self) -> bool:
        """A transaction has started and not ended."""
        return self._id is not None

    def start(self, txid: str, ts_ms: int) -> None:
        """A transaction begins (nothing is written until its first change)."""
        self._id, self._ts_ms = txid, ts_ms
        self._per_table.clear()
        self._total = 0

    def tag(self, data_collection: str) -> dict[str, object]:
        """The `transaction` block of the next change of `data_collection` (`db.table`)."""
        if self._id is None:
            raise RuntimeError("a change outside a transaction")
        if self._total == 0:
            self._record("BEGIN", None, None)
        self._total += 1
        self._per_table[data_collection] += 1
        return {
            "id": self._id,
            "total_order": self._total,
            "data_collection_order": self._per_table[data_collection],
        }

    def end(self, ts_ms: int | None = None) -> None:
        """The transaction committed: its END record, when it had changes."""
        if self._id is not None and self._total:
            collections = [
                {"data_collection": name, "event_count": n} for name, n in self._per_table.items()
            ]
            self._record("END", self._total, collections, ts_ms)
        self._id = None
        self._total = 0
        self._per_table.clear()

    def _record(
        self,
        status: str,
        count: int | None,
        collections: list[dict[str, object]] | None,
        ts_ms: int | None = None,
    ) -> None:
        value = {
            "status": status,
            "id": self._id,
            "event_count": count,
            "data_collections": collections,
            "ts_ms": self._ts_ms if ts_ms is None else ts_ms,
        }
        self.emit(self.topic, encode({"id": self._id}), encode(value))
