"""The source position a snapshot is consistent with, stored in the Delta commit's custom metadata.

CDC continues from this position: PostgreSQL's exported snapshot and the WAL LSN read in the same
transaction (with the snapshot's xmin:xmax:xip list, so a reader can tell which transactions the
snapshot saw); MariaDB/MySQL's binlog file/position and GTID set read while the tables were locked,
or MariaDB's `binlog_snapshot_*` status, which is consistent with the transaction without a lock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import orjson

METADATA_KEY = "headwater.source_position"


@dataclass(frozen=True)
class Position:
    source: str  # postgresql | mysql | mysqldump | mongoexport | cql
    method: str  # how consistency was obtained (exported_snapshot, read_lock, ...)
    lsn: str | None = None
    pg_snapshot: str | None = None
    txid_snapshot: str | None = None
    binlog_file: str | None = None
    binlog_pos: int | None = None
    gtid: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, str]:
        """Custom commit metadata values must be strings: the position is one JSON string."""
        data = {k: v for k, v in asdict(self).items() if v not in (None, {})}
        return {METADATA_KEY: orjson.dumps(data).decode()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, object]) -> Position | None:
        raw = metadata.get(METADATA_KEY)
        if not isinstance(raw, str):
            return None
        return cls(**orjson.loads(raw))
