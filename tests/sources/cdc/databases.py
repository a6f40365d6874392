"""The CDC tests' database servers: the test kit's, with the `cdc` replication user's URL.

The servers themselves live in tests/kit/databases.py (shared with the snapshot tests).
"""

from __future__ import annotations

from headwater.local.mariadb import MariaDbServer as LocalMariaDb
from tests.kit.databases import PostgresServer

__all__ = ["CDC_PASSWORD", "CDC_USER", "MariaDbServer", "PostgresServer"]

CDC_USER = "cdc"
CDC_PASSWORD = "cdc-secret"


class MariaDbServer(LocalMariaDb):
    """The product's private MariaDB, with the tests' CDC user as the default URL."""

    def url(self, user: str = CDC_USER, password: str = CDC_PASSWORD) -> str:
        return super().url(user, password)
