"""Primary keys from a real PostgreSQL's catalog, in the index's column order."""

from __future__ import annotations

from headwater.sources.cdc.config import SourceUrl
from headwater.sources.cdc.postgres.keys import CatalogKeys
from tests.sources.cdc.conftest import PgDatabase


def test_key_columns_come_in_the_primary_keys_order(pg_db: PgDatabase) -> None:
    pg_db.execute(
        'CREATE SCHEMA "Shop"',
        'CREATE TABLE "Shop"."Line Items" (a int, b text, c int, PRIMARY KEY (c, a))',
        "CREATE TABLE public.plain (id bigint PRIMARY KEY, note text)",
        "CREATE TABLE public.keyless (a int)",
    )
    keys = CatalogKeys(SourceUrl.parse(pg_db.dsn))
    try:
        assert keys("Shop", "Line Items") == ["c", "a"]
        assert keys("public", "plain") == ["id"]
        assert keys("public", "keyless") == []
        assert keys("public", "dropped_or_never_there") == []
        pg_db.execute("ALTER TABLE public.plain DROP CONSTRAINT plain_pkey")
        assert keys("public", "plain") == ["id"]  # read once per table
    finally:
        keys.close()
