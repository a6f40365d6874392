"""Producer-id allocation for idempotent producers (InitProducerId).

Ids must never repeat across restarts: a reused id would meet the sequence numbers the log
remembers for it and be refused as out of order. Ids are handed out from blocks; the end of the
current block is persisted (`producer-ids.json`, written to a temp file, fsynced and renamed)
before any id of that block is used, so a crash at worst skips the rest of a block.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

BLOCK_SIZE = 1000


class ProducerIdAllocator:
    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / "producer-ids.json"
        self._next = 0
        self._block_end = 0
        if self._path.exists():
            try:
                self._next = self._block_end = int(orjson.loads(self._path.read_bytes())["next"])
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                # A torn file cannot be trusted: jump far ahead of anything it may have held.
                self._next = self._block_end = 1 << 40

    def allocate(self) -> int:
        if self._next >= self._block_end:
            self._block_end = self._next + BLOCK_SIZE
            self._persist(self._block_end)
        pid = self._next
        self._next += 1
        return pid

    def _persist(self, value: int) -> None:
        tmp = self._path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(orjson.dumps({"next": value}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
