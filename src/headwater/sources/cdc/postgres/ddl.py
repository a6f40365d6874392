"""DDL from PostgreSQL into `cdc.<source>.schema`, through an event trigger and a log table.

Logical decoding carries no DDL. With `headwater cdc --capture-ddl`, an event trigger on
`ddl_command_end` writes each DDL statement (`current_query()`, with its command tag and object)
into `public.headwater_ddl`; that insert travels through the WAL in commit order with the data
changes, and the reader turns it into a schema-topic record (`{source, databaseName, schemaName,
ddl, tableChanges}`, as Debezium's MySQL connector writes) instead of a table change. Creating an
event trigger needs a superuser: the reader creates the objects when it may, and otherwise names
the SQL to run once (`SETUP`). The function runs as its owner (SECURITY DEFINER), so any user's
DDL is logged without INSERT on the log table.
"""

from __future__ import annotations

from typing import Any

import psycopg2

from headwater.sources.cdc.errors import SourceConfigError

SCHEMA, TABLE = "public", "headwater_ddl"

SETUP = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    command_tag text,
    object_identity text,
    schema_name text,
    ddl text
);
CREATE OR REPLACE FUNCTION {SCHEMA}.headwater_capture_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE cmd record;
BEGIN
    FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF cmd.object_identity IS DISTINCT FROM '{SCHEMA}.{TABLE}' THEN
            INSERT INTO {SCHEMA}.{TABLE} (command_tag, object_identity, schema_name, ddl)
            VALUES (cmd.command_tag, cmd.object_identity, cmd.schema_name, current_query());
        END IF;
    END LOOP;
END $$;
DROP EVENT TRIGGER IF EXISTS headwater_capture_ddl;
CREATE EVENT TRIGGER headwater_capture_ddl ON ddl_command_end
    EXECUTE FUNCTION {SCHEMA}.headwater_capture_ddl();
"""


def ensure(cur: Any) -> None:
    """Make sure the trigger and the log table exist; create them when this user may."""
    cur.execute("SELECT 1 FROM pg_event_trigger WHERE evtname = 'headwater_capture_ddl'")
    if cur.fetchone() is not None:
        return
    try:
        cur.execute(SETUP)
    except psycopg2.errors.InsufficientPrivilege:
        raise SourceConfigError(
            "--capture-ddl needs an event trigger, and only a superuser may create one",
            f"run once as a superuser in this database:\n{SETUP.strip()}",
        ) from None


def schema_record(row: dict[str, Any], source: dict[str, Any], db: str) -> dict[str, Any]:
    """The schema-topic value of one captured statement."""
    return {
        "source": source,
        "databaseName": db,
        "schemaName": row.get("schema_name"),
        "ddl": row.get("ddl"),
        "commandTag": row.get("command_tag"),
        "objectIdentity": row.get("object_identity"),
        "tableChanges": [],
    }
