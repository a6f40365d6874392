"""Prometheus metrics of the broker: traffic by API, log end offsets, group lag.

Counters are updated on the request path (one label lookup per request, not per record); log end
offsets and lag are computed only when Prometheus scrapes, from the logs and committed offsets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from headwater.broker.state import BrokerState


class _LogCollector(Collector):
    def __init__(self, state: BrokerState) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        end = GaugeMetricFamily(
            "headwater_broker_log_end_offset",
            "Next offset to be written",
            labels=["topic", "partition"],
        )
        start = GaugeMetricFamily(
            "headwater_broker_log_start_offset", "First offset kept", labels=["topic", "partition"]
        )
        size = GaugeMetricFamily(
            "headwater_broker_log_size_bytes", "Bytes on disk", labels=["topic", "partition"]
        )
        ends: dict[tuple[str, int], int] = {}
        for name, topic in list(self._state.logs.topics.items()):
            for index, log in enumerate(topic.partitions):
                labels = [name, str(index)]
                ends[(name, index)] = log.log_end_offset
                end.add_metric(labels, log.log_end_offset)
                start.add_metric(labels, log.log_start_offset)
                size.add_metric(labels, log.size_bytes)
        lag = GaugeMetricFamily(
            "headwater_broker_group_lag",
            "Log end offset minus committed offset",
            labels=["group", "topic", "partition"],
        )
        for group, committed in self._state.groups.committed_offsets().items():
            for (topic_name, partition), offset in committed.items():
                if (topic_name, partition) in ends and offset >= 0:
                    lag.add_metric(
                        [group, topic_name, str(partition)],
                        max(ends[(topic_name, partition)] - offset, 0),
                    )
        yield from (end, start, size, lag)


class BrokerMetrics:
    def __init__(self, state: BrokerState) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("headwater_broker_requests", "Requests by API", ["api"], registry=r)
        self.bytes_in = Counter(
            "headwater_broker_request_bytes", "Request bytes by API", ["api"], registry=r
        )
        self.bytes_out = Counter(
            "headwater_broker_response_bytes", "Response bytes by API", ["api"], registry=r
        )
        self.protocol_errors = Counter(
            "headwater_broker_protocol_errors",
            "Malformed or unsupported requests",
            ["kind"],
            registry=r,
        )
        self.produce_errors = Counter(
            "headwater_broker_produce_errors", "Rejected produce batches", ["error"], registry=r
        )
        self.records_in = Counter(
            "headwater_broker_records_appended", "Records appended", ["topic"], registry=r
        )
        self.fetch_bytes = Counter(
            "headwater_broker_fetch_record_bytes", "Record bytes returned by fetches", registry=r
        )
        self.connections = Gauge(
            "headwater_broker_connections", "Open client connections", registry=r
        )
        r.register(_LogCollector(state))

    def record_append(self, topic: str, partition: int, nbytes: int, records: int) -> None:
        self.records_in.labels(topic=topic).inc(records)

    def record_fetch(self, nbytes: int) -> None:
        if nbytes:
            self.fetch_bytes.inc(nbytes)

    def forget_topic(self, topic: str) -> None:
        with contextlib.suppress(KeyError):
            self.records_in.remove(topic)
