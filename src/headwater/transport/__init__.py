"""headwater.transport: the one client interface every headwater component uses to reach a broker.

    import headwater.transport as hwt

    transport = hwt.connect("embedded")            # or "kafka://h1:9092,h2:9092", "h1:9092"
    with transport.producer() as producer:
        producer.produce("clickstream.events", b"{...}", key=b"anon-1",
                         headers={"source": b"collector"}, on_delivery=print)
        producer.flush(10)
    with transport.consumer("lake-sink") as consumer:
        consumer.subscribe(["clickstream.events"])
        records = consumer.consume(max_records=500, timeout_s=1.0)
        consumer.commit(records)

Topics created through `Admin.create_topics` are durable by default: replication factor 3 and
`min.insync.replicas=2` on a cluster of three or more brokers (`durability`). A `--broker` value
may carry the process's zone, `kafka://h1:9092?client.rack=az1`, which consumers hand to the
cluster for fetching from a replica in that zone.

Import from here only; the submodules are private. Kafka clusters and the embedded broker share
one backend (confluent-kafka); `kinesis://region` is recognised but not available yet.
"""

from headwater.transport.base import (
    EARLIEST,
    LATEST,
    Admin,
    BrokerNode,
    ClusterDescription,
    Consumer,
    Delivery,
    GroupRecord,
    Header,
    OnAssign,
    OnDelivery,
    OnGroupComplete,
    OnRevoke,
    PartitionReplicas,
    Producer,
    ProducerRecord,
    Record,
    RecordColumns,
    TopicDescription,
    TopicPartition,
    TopicSpec,
)
from headwater.transport.connection import Transport, connect
from headwater.transport.durability import (
    DURABLE_MIN_INSYNC_REPLICAS,
    DURABLE_REPLICATION_FACTOR,
    ClusterDefaults,
)
from headwater.transport.errors import (
    BrokerUnavailableError,
    CommitError,
    DeliveryError,
    GroupDeliveryError,
    QueueFullError,
    TopicError,
    TransportConfigError,
    TransportError,
)
from headwater.transport.options import ConsumerOptions, ProducerOptions
from headwater.transport.url import BrokerUrl, parse_broker_url

__all__ = [
    "DURABLE_MIN_INSYNC_REPLICAS",
    "DURABLE_REPLICATION_FACTOR",
    "EARLIEST",
    "LATEST",
    "Admin",
    "BrokerNode",
    "BrokerUnavailableError",
    "BrokerUrl",
    "ClusterDefaults",
    "ClusterDescription",
    "CommitError",
    "Consumer",
    "ConsumerOptions",
    "Delivery",
    "DeliveryError",
    "GroupDeliveryError",
    "GroupRecord",
    "Header",
    "OnAssign",
    "OnDelivery",
    "OnGroupComplete",
    "OnRevoke",
    "PartitionReplicas",
    "Producer",
    "ProducerOptions",
    "ProducerRecord",
    "QueueFullError",
    "Record",
    "RecordColumns",
    "TopicDescription",
    "TopicError",
    "TopicPartition",
    "TopicSpec",
    "Transport",
    "TransportConfigError",
    "TransportError",
    "connect",
    "parse_broker_url",
]
