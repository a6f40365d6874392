"""Topic names: the one place they are spelled (DESIGN.md, "Topics and records").

    clickstream.events                enriched, valid clickstream events (`contracts.clickstream`)
    clickstream.invalid               dead letters: the original payload and the reason
    clickstream.<route>               events a routing rule sends elsewhere (`clickstream.search`)
    cdc.<source>.<db>.<table>         change envelopes (`contracts.cdc`), Debezium's naming
    cdc.<source>.schema               DDL statements of a source
    cdc.<source>.transaction          BEGIN/END records of a source's transactions (optional)
    video.segments / video.frames     one record per stored segment / sampled frame
    feeds.items, crawl.pages          feed items, crawled pages
    files.<name>                      records read from a file or folder source
    _headwater.positions              source positions, compacted (`contracts.positions`)

Parts of a name that come from users (source, database, table, route, file source names) have
every character a Kafka topic may not hold, and the dot that separates the parts, replaced by `_`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

CLICKSTREAM_EVENTS = "clickstream.events"
CLICKSTREAM_INVALID = "clickstream.invalid"
VIDEO_SEGMENTS = "video.segments"
VIDEO_FRAMES = "video.frames"
FEEDS_ITEMS = "feeds.items"
CRAWL_PAGES = "crawl.pages"
POSITIONS = "_headwater.positions"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
#: `cdc.<source>.<db>.<table>`; the schema and transaction topics have three parts.
_CDC_TABLE = re.compile(r"^cdc\.([^.]+)\.([^.]+)\.([^.]+)$")


def _part(name: str) -> str:
    return _UNSAFE.sub("_", name)


def clickstream_route(route: str) -> str:
    """`clickstream.<route>`: where a routing rule sends the events it matches."""
    return f"clickstream.{_part(route)}"


def cdc_prefix() -> str:
    """`cdc.`: what every CDC topic's name starts with (for tools that look at all of them)."""
    return "cdc."


def cdc_table(source: str, database: str, table: str) -> str:
    """`cdc.<source>.<database>.<table>` (PostgreSQL: the schema in the database's place)."""
    return f"cdc.{_part(source)}.{_part(database)}.{_part(table)}"


def cdc_schema(source: str) -> str:
    """Where the DDL statements of `source` go."""
    return f"cdc.{_part(source)}.schema"


def cdc_transaction(source: str) -> str:
    """Where BEGIN/END records of `source`'s transactions go (`--transactions`)."""
    return f"cdc.{_part(source)}.transaction"


def files(name: str) -> str:
    """`files.<name>`: the records of one file or folder source."""
    return f"files.{_part(name)}"


class CdcTable(NamedTuple):
    """The parts of a change topic's name (as written, i.e. after `_` replacement)."""

    source: str
    database: str
    table: str


def parse_cdc_table(topic: str) -> CdcTable | None:
    """The parts of a `cdc.<source>.<db>.<table>` topic, or None for any other topic."""
    match = _CDC_TABLE.match(topic)
    return None if match is None else CdcTable(*match.groups())
