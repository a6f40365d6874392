"""The Kafka-protocol backend (confluent-kafka / librdkafka).

Serves both the embedded headwater broker and any Kafka cluster: they differ only in the bootstrap
address. Nothing outside `headwater.transport` imports this package; `connect` picks it.
"""

from headwater.transport.kafka.admin import KafkaAdmin
from headwater.transport.kafka.config import ClientSettings
from headwater.transport.kafka.consumer import KafkaConsumer
from headwater.transport.kafka.producer import KafkaProducer

__all__ = ["ClientSettings", "KafkaAdmin", "KafkaConsumer", "KafkaProducer"]
