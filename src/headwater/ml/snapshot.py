"""A set of lake tables pinned at Delta versions, registered in a DuckDB connection by name.

A training set records the versions it read (`versions`); opening the same versions again reads
the same rows, whatever was appended since (Delta time travel). A version a vacuum has deleted
files of can no longer be read: deltalake raises, nothing is silently substituted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from deltalake import DeltaTable

from headwater.lake.maintenance import open_table
from headwater.lake.read import register as register_table


@dataclass(frozen=True)
class LakeSnapshot:
    """Tables of `lake` at fixed versions (name → version)."""

    lake: Path
    versions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def open(
        cls, lake: Path, tables: Iterable[str], pin: Mapping[str, int] | None = None
    ) -> LakeSnapshot:
        """Each table at its pinned version, or at its newest one when not pinned."""
        pin = pin or {}
        versions = {}
        for name in sorted(set(tables)):
            if name in pin:
                versions[name] = int(pin[name])
            else:
                versions[name] = open_table(lake / name).version()
        return cls(lake, versions)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make every table queryable by its name in `con`, at its pinned version."""
        for name, version in self.versions.items():
            table = DeltaTable(str(self.lake / name), version=version)
            register_table(con, name, table)
