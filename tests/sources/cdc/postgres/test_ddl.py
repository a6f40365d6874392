"""`headwater cdc --capture-ddl` on PostgreSQL: DDL reaches `cdc.<source>.schema` in order with the
data changes, through the event trigger; without the privilege to create it, the fix is named."""

from __future__ import annotations

from headwater.sources.cdc.postgres import ddl
from tests.sources.cdc.conftest import PgDatabase
from tests.sources.cdc.databases import PostgresServer
from tests.sources.cdc.support import count_at_least, read_changes, run_cdc, start_cdc


def test_ddl_goes_to_the_schema_topic(pg_db: PgDatabase, postgres: PostgresServer, broker,
                                      tmp_path) -> None:  # fmt: skip
    postgres.execute(ddl.SETUP, db=pg_db.name)  # once, as a superuser
    pg_db.execute("CREATE TABLE t (id int PRIMARY KEY)")
    cdc = start_cdc(tmp_path, pg_db.dsn, broker.bootstrap, "--name", "pgddl", "--capture-ddl",
                    ready="replication_started")  # fmt: skip
    try:
        pg_db.execute(
            "INSERT INTO t VALUES (1)",
            "ALTER TABLE t ADD COLUMN label text DEFAULT 'x'",
            "INSERT INTO t VALUES (2, 'y')",
        )
        changes = read_changes(broker.bootstrap, "cdc.pgddl.public.t", count_at_least(2))
        schema = read_changes(broker.bootstrap, "cdc.pgddl.schema", count_at_least(1))
    finally:
        assert cdc.stop() == 0
    assert [c.value["after"] for c in changes] == [{"id": 1}, {"id": 2, "label": "y"}]
    [record] = schema
    assert record.value["ddl"] == "ALTER TABLE t ADD COLUMN label text DEFAULT 'x'"
    assert record.value["commandTag"] == "ALTER TABLE"
    assert record.value["objectIdentity"] == "public.t"
    assert record.key == {"databaseName": pg_db.name}
    # Ordered with the data: the DDL's LSN lies between the two inserts'.
    lsns = [c.value["source"]["lsn"] for c in changes]
    assert lsns[0] < record.value["source"]["lsn"] < lsns[1]


def test_without_the_trigger_and_no_superuser_the_sql_to_run_is_named(pg_db: PgDatabase, broker):
    result = run_cdc(pg_db.dsn, broker.bootstrap, "--name", "noddl", "--capture-ddl")
    assert result.returncode != 0
    assert "only a superuser" in result.stderr
    assert "CREATE EVENT TRIGGER headwater_capture_ddl" in result.stderr
    assert "Traceback" not in result.stderr
