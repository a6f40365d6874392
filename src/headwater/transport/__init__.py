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

Import from here only; the submodules are private. Kafka clusters and the embedded broker share
one backend (confluent-kafka); `kinesis://region` is recognised but not available yet.
"""

from headwater.transport.base import (
    EARLIEST,
    LATEST,
    Admin,
    Consumer,
    Delivery,
    GroupRecord,
    Header,
    OnAssign,
    OnDelivery,
    OnGroupComplete,
    OnRevoke,
    Producer,
    ProducerRecord,
    Record,
    RecordColumns,
    TopicDescription,
    TopicPartition,
    TopicSpec,
)
from headwater.transport.connection import Transport, connect
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
    "EARLIEST",
    "LATEST",
    "Admin",
    "BrokerUnavailableError",
    "BrokerUrl",
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
