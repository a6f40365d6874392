"""Change data capture: every insert, update and delete of a database, streamed to the broker.

    from headwater.sources.cdc import CdcConfig, SourceUrl, run
    run(CdcConfig("shop", SourceUrl.parse("postgresql://cdc:pw@db:5432/shop")), stop_event)

Readers: PostgreSQL (logical replication, wal2json) in `postgres/`, MySQL/MariaDB (row binlog,
mysql-replication) in `mysql/`. Both hand Debezium-compatible envelopes (`contracts.cdc`) to one
`Publisher`, which stores positions (`sources.positions`) once the broker acknowledged them.
"""

from headwater.sources.cdc.config import CdcConfig, SourceUrl
from headwater.sources.cdc.errors import (
    BrokerDeliveryError,
    CdcError,
    SourceConfigError,
    SourceUnavailableError,
)
from headwater.sources.cdc.runner import run

__all__ = [
    "BrokerDeliveryError",
    "CdcConfig",
    "CdcError",
    "SourceConfigError",
    "SourceUnavailableError",
    "SourceUrl",
    "run",
]
