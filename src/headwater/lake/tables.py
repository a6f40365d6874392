"""Which topic lands in which lake table, and with what starting schema.

Every table is partitioned by event date (`event_date`, UTC) and carries the sink's own columns
`_partition` and `_offset` (where the row came from: lineage, and the exactly-once tests' proof).
A topic with a contract (clickstream) starts from its schema; any other topic starts empty and
takes the columns its JSON brings (`schema.fit`), dated by the record's broker timestamp.

Each table `T` has a dead-letter table `T_dead_letters` for records that do not fit it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from headwater.contracts import topics
from headwater.contracts.arrow import CLICK_EVENT_FIELDS

PARTITION_COLUMN = "event_date"
SINK_COLUMNS = (
    pa.field(PARTITION_COLUMN, pa.date32()),
    pa.field("_partition", pa.int32()),
    pa.field("_offset", pa.int64()),
)
DEAD_LETTER_SUFFIX = "_dead_letters"


@dataclass(frozen=True)
class TableSpec:
    """A lake table fed by one topic."""

    name: str
    topic: str
    data_fields: tuple[pa.Field, ...] = ()
    #: The timestamp column the event date comes from; None: the record's broker timestamp.
    date_from: str | None = None
    partition_column: str = PARTITION_COLUMN
    #: More columns the sink fills itself (the CDC tables' `valid_from`, `_op`, ...).
    sink_filled: frozenset[str] = frozenset()
    #: The column whose repeats are dropped (`lake.dedup`) and the arrival time its window is
    #: measured on; None: every record is a row.
    dedup_key: str | None = None
    arrival: str | None = None

    @property
    def schema(self) -> pa.Schema:
        """The schema a new table is created with."""
        return pa.schema([*self.data_fields, *SINK_COLUMNS])

    @property
    def reserved(self) -> frozenset[str]:
        """Columns the sink fills itself; JSON keys of these names are ignored."""
        return frozenset(f.name for f in SINK_COLUMNS) | self.sink_filled

    @property
    def dead_letter_name(self) -> str:
        return self.name + DEAD_LETTER_SUFFIX


#: `clickstream.events`: the enriched ClickEvent (`contracts.clickstream`), its columns derived from
#: the contract (`contracts.arrow`): nested objects as structs, free-form ones as JSON text.
CLICKSTREAM_EVENTS = TableSpec(
    name="clickstream_events",
    topic=topics.CLICKSTREAM_EVENTS,
    data_fields=CLICK_EVENT_FIELDS,
    date_from="ts",
    dedup_key="event_id",  # a client's retry repeats it (DESIGN.md: the dedup key)
    arrival="received_ts",
)

KNOWN = {CLICKSTREAM_EVENTS.topic: CLICKSTREAM_EVENTS}


def table_name(topic: str) -> str:
    """`clickstream.events` → `clickstream_events`: Delta and SQL friendly."""
    return re.sub(r"[^A-Za-z0-9_]", "_", topic).lower()


@dataclass(frozen=True)
class CdcNames:
    """The tables a change topic lands in: `cdc_<db>_<table>` and its history."""

    current: str
    history: str

    @property
    def dead_letters(self) -> str:
        return self.history + DEAD_LETTER_SUFFIX


def cdc_names(topic: str) -> CdcNames | None:
    """The CDC tables of a change topic, or None for any other topic. The source name is not
    part of the table name (DESIGN.md: `cdc_<db>_<table>`)."""
    parts = topics.parse_cdc_table(topic)  # `cdc.<source>.schema` (DDL) is an ordinary topic
    if parts is None:
        return None
    current = table_name(f"cdc_{parts.database}_{parts.table}")
    return CdcNames(current=current, history=current + "_history")


def spec_for(topic: str) -> TableSpec:
    """The contract table for a known topic, else a schema-less one named after the topic."""
    return KNOWN.get(topic) or TableSpec(name=table_name(topic), topic=topic)
