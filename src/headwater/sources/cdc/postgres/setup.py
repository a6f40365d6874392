"""Check a PostgreSQL database is ready for logical replication, and create or reuse the slot.

Every problem becomes a `SourceConfigError` naming the cause and the fix, or, when the server
cannot be reached, a `SourceUnavailableError`. The slot uses the wal2json output plugin; its
confirmed flush LSN is the database's copy of our position (`_headwater.positions` is the other).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from headwater.logs import log_event
from headwater.sources.cdc.config import CdcConfig, SourceUrl
from headwater.sources.cdc.errors import CdcError, SourceConfigError, SourceUnavailableError
from headwater.sources.cdc.postgres import ddl
from headwater.sources.cdc.postgres.decode import lsn_to_str, str_to_lsn

log = logging.getLogger("headwater.cdc.postgres")
PLUGIN = "wal2json"


def translate(exc: psycopg2.Error, url: SourceUrl) -> CdcError:
    """A driver error as one of ours, with the fix for the causes we know."""
    text = str(exc).strip()
    where = f"{url.host}:{url.port}"
    if "password authentication failed" in text or "no password supplied" in text:
        return SourceConfigError(
            f"PostgreSQL at {where} refused user {url.user!r}: wrong password or unknown user",
            "check the user and password in the source URL",
        )
    if "no pg_hba.conf entry" in text:
        return SourceConfigError(
            f"PostgreSQL at {where} does not allow {url.user!r} to connect: {text}",
            "add a pg_hba.conf line for this user and host (`host replication <user> ...` "
            "for the replication connection) and reload PostgreSQL",
        )
    if "does not exist" in text and "database" in text:
        return SourceConfigError(f"PostgreSQL at {where}: {text}", "fix the database in the URL")
    if "must be superuser or replication role" in text or "permission denied to start" in text:
        return SourceConfigError(
            f"user {url.user!r} may not use replication on {where}",
            f"ALTER ROLE {url.user} REPLICATION;",
        )
    if "is active for PID" in text:
        return SourceUnavailableError(
            f"replication slot in use on {where} ({text}): another reader, or the session of "
            "one that just died; retrying until it is free"
        )
    if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
        return SourceUnavailableError(f"PostgreSQL at {where} is unreachable: {text}")
    return SourceConfigError(f"PostgreSQL at {where}: {text}")


def dsn(url: SourceUrl) -> str:
    return psycopg2.extensions.make_dsn(
        host=url.host,
        port=url.port,
        user=url.user,
        password=url.password,
        dbname=url.database,
        connect_timeout=10,
        application_name="headwater-cdc",
        options="-c TimeZone=UTC",
    )


@dataclass(frozen=True, slots=True)
class SlotState:
    name: str
    created: bool
    confirmed_flush_lsn: int | None
    needs_snapshot: bool = False  # the reader creates the slot with an exported snapshot


def prepare(config: CdcConfig, stored_lsn: int | None) -> SlotState:
    """Run every start-up check and create the slot on first use; raise with a fix on failure."""
    url = config.url
    try:
        conn = psycopg2.connect(dsn(url))
    except psycopg2.Error as exc:
        raise translate(exc, url) from None
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            _check_wal_level(cur)
            _check_role(cur, url.user)
            _check_tables(cur, config.tables)
            if config.capture_ddl:
                ddl.ensure(cur)
            return _slot(cur, config, stored_lsn)
    except psycopg2.Error as exc:
        raise translate(exc, url) from None
    finally:
        conn.close()


def _check_wal_level(cur: psycopg2.extensions.cursor) -> None:
    cur.execute("SHOW wal_level")
    (level,) = cur.fetchone()
    if level != "logical":
        raise SourceConfigError(
            f"wal_level is {level!r}; logical decoding needs 'logical'",
            "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL "
            "(or set wal_level = logical in postgresql.conf)",
        )


def _check_role(cur: psycopg2.extensions.cursor, user: str) -> None:
    cur.execute("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
    row = cur.fetchone()
    if not row or not row[0]:
        raise SourceConfigError(
            f"user {user!r} has no REPLICATION attribute", f"ALTER ROLE {user} REPLICATION;"
        )


def _check_tables(cur: psycopg2.extensions.cursor, tables: tuple[str, ...]) -> None:
    """Name tables whose updates and deletes wal2json cannot capture, and those without full
    `before` images."""
    cur.execute(
        """
        SELECT n.nspname, c.relname, c.relreplident,
               EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%'
        """
    )
    wanted = set(tables)
    found = set()
    unkeyed, partial = [], []
    for schema, table, ident, has_pk in cur.fetchall():
        name = f"{schema}.{table}"
        if wanted and name not in wanted:
            continue
        found.add(name)
        if ident == "n" or (ident == "d" and not has_pk):
            unkeyed.append(name)
        elif ident != "f":
            partial.append(name)
    missing = wanted - found
    if missing:
        raise SourceConfigError(
            f"no such table: {', '.join(sorted(missing))}", "check --table (schema.table)"
        )
    if unkeyed:
        raise SourceConfigError(
            f"tables without a primary key or replica identity: {', '.join(unkeyed)}; their "
            "updates and deletes would be dropped by the decoder",
            "; ".join(f"ALTER TABLE {t} REPLICA IDENTITY FULL" for t in unkeyed)
            + " (or add a primary key, or leave the table out with --table)",
        )
    if partial:
        log_event(
            log,
            "replica_identity_not_full",
            logging.WARNING,
            tables=partial,
            effect="updates carry no `before`, deletes only the key columns",
            fix="; ".join(f"ALTER TABLE {t} REPLICA IDENTITY FULL" for t in partial),
        )


def _slot(cur: psycopg2.extensions.cursor, config: CdcConfig, stored_lsn: int | None) -> SlotState:
    name = config.slot_name
    cur.execute(
        "SELECT plugin, database, confirmed_flush_lsn::text FROM pg_replication_slots "
        "WHERE slot_name = %s",
        (name,),
    )
    row = cur.fetchone()
    if row is not None and config.snapshot and stored_lsn is None:
        # No position stored: a snapshot that used this slot never finished. Start over.
        cur.execute("SELECT pg_drop_replication_slot(%s)", (name,))
        log_event(log, "unfinished_snapshot_slot_dropped", slot=name)
        row = None
    if row is None and config.snapshot and stored_lsn is None:
        return SlotState(name, False, None, needs_snapshot=True)
    if row is not None:
        plugin, database, confirmed = row
        if plugin != PLUGIN or database != config.url.database:
            raise SourceConfigError(
                f"replication slot {name!r} belongs to plugin {plugin!r} on database "
                f"{database!r}, not {PLUGIN!r} on {config.url.database!r}",
                "choose another slot with --slot, or drop this one: "
                f"SELECT pg_drop_replication_slot('{name}');",
            )
        return SlotState(name, False, str_to_lsn(confirmed) if confirmed else None)
    if stored_lsn is not None:
        raise SourceConfigError(
            f"replication slot {name!r} is gone, but source {config.name!r} stored position "
            f"{lsn_to_str(stored_lsn)}: changes after it may have been removed from the WAL",
            "take a new snapshot, then start again with --reset-position (creates a new slot "
            "and streams from now on)",
        )
    try:
        cur.execute(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, %s)", (name, PLUGIN)
        )
    except psycopg2.errors.UndefinedFile:
        raise SourceConfigError(
            f"the {PLUGIN} output plugin is not installed on the PostgreSQL server",
            "install it on the database host (Debian: apt-get install postgresql-15-wal2json)",
        ) from None
    except psycopg2.errors.ConfigurationLimitExceeded as exc:
        raise SourceConfigError(
            f"cannot create replication slot {name!r}: {str(exc).strip()}",
            "raise max_replication_slots (restart needed) or drop an unused slot",
        ) from None
    (lsn,) = cur.fetchone()
    log_event(log, "slot_created", slot=name, lsn=lsn)
    return SlotState(name, True, str_to_lsn(lsn))
