"""What `headwater cdc` reads: one source database, passed explicitly as a value object."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from headwater.sources.cdc.errors import SourceConfigError

_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


@dataclass(frozen=True, slots=True)
class SourceUrl:
    """`postgresql://user:pw@host:port/db` or `mysql://` / `mariadb://user:pw@host:port`."""

    kind: str  # "postgresql" | "mysql"
    host: str
    port: int
    user: str
    password: str
    database: str | None

    @classmethod
    def parse(cls, url: str) -> SourceUrl:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("postgresql", "postgres"):
            kind, default_port = "postgresql", 5432
        elif scheme in ("mysql", "mariadb"):
            kind, default_port = "mysql", 3306
        else:
            raise SourceConfigError(
                f"unsupported source URL scheme {parts.scheme!r}",
                "use postgresql://user:password@host:port/database or "
                "mariadb://user:password@host:port (mysql:// works too)",
            )
        db = unquote(parts.path.lstrip("/")) or None
        if kind == "postgresql" and not db:
            raise SourceConfigError(
                "the PostgreSQL URL names no database",
                "add it: postgresql://user:password@host:port/database",
            )
        return cls(
            kind=kind,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or default_port,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=db,
        )

    def redacted(self) -> str:
        return f"{self.kind}://{self.user}@{self.host}:{self.port}/{self.database or ''}"


@dataclass(frozen=True, slots=True)
class CdcConfig:
    """One CDC reader: source name (the topic prefix and position key), database, broker."""

    name: str
    url: SourceUrl
    broker: str = "embedded"
    tables: tuple[str, ...] = ()  # "schema.table" / "db.table"; empty: every table
    tombstones: bool = False
    transactions: bool = False  # BEGIN/END records and each change's `transaction` block
    capture_ddl: bool = False  # PostgreSQL: DDL through an event trigger (postgres/ddl.py)
    signal_table: str | None = None  # "db.table": incremental snapshot requests and watermarks
    chunk_rows: int = 1024  # rows per incremental snapshot chunk
    snapshot: bool = False  # read every row (op "r") before streaming, first run only
    slot: str | None = None  # PostgreSQL replication slot; default headwater_<name>
    server_id: int = 0  # MySQL replica server id; 0: derived from the name
    save_interval_s: float = 0.2
    heartbeat_s: float = 1.0
    reconnect_max_s: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise SourceConfigError(
                f"source name {self.name!r} is not usable in topic names",
                "use 1-100 letters, digits, '_' or '-'",
            )
        for table in (*self.tables, *([self.signal_table] if self.signal_table else [])):
            if table.count(".") != 1:
                raise SourceConfigError(
                    f"table {table!r} is not qualified", "write it as schema.table (db.table)"
                )

    @property
    def slot_name(self) -> str:
        return self.slot or f"headwater_{self.name.replace('-', '_').lower()}"

    @property
    def replica_server_id(self) -> int:
        if self.server_id:
            return self.server_id
        import zlib

        return 1_000_000 + zlib.crc32(self.name.encode()) % 1_000_000_000
