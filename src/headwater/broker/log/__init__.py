"""Partition storage for the embedded broker: RecordBatch segments, indexes, recovery, retention.

`LogManager` owns a data directory of topics; each `PartitionLog` is a directory of `LogSegment`s
(`<base offset>.log/.index/.timeindex`, Kafka's layout). `LogCleaner` compacts the topics whose
cleanup.policy has `compact`, in a background thread. Everything raised is a `LogError` carrying
the Kafka error code to answer with.
"""

from headwater.broker.log.batch import BATCH_HEADER_SIZE, BatchHeader, iter_batches
from headwater.broker.log.cleaner import LogCleaner
from headwater.broker.log.compaction import CleanResult
from headwater.broker.log.config import LogConfig, describe_config
from headwater.broker.log.errors import (
    CorruptRecordError,
    InvalidConfigError,
    InvalidPartitionsError,
    InvalidProducerEpochError,
    InvalidRecordError,
    InvalidTopicError,
    LogError,
    LogStorageError,
    OffsetOutOfRangeError,
    OutOfOrderSequenceError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownTopicOrPartitionError,
)
from headwater.broker.log.manager import LogManager, TopicInfo, validate_topic_name
from headwater.broker.log.partition_log import AppendResult, PartitionLog

__all__ = [
    "BATCH_HEADER_SIZE",
    "AppendResult",
    "BatchHeader",
    "CleanResult",
    "CorruptRecordError",
    "InvalidConfigError",
    "InvalidPartitionsError",
    "InvalidProducerEpochError",
    "InvalidRecordError",
    "InvalidTopicError",
    "LogCleaner",
    "LogConfig",
    "LogError",
    "LogManager",
    "LogStorageError",
    "OffsetOutOfRangeError",
    "OutOfOrderSequenceError",
    "PartitionLog",
    "RecordTooLargeError",
    "TopicExistsError",
    "TopicInfo",
    "UnknownTopicOrPartitionError",
    "describe_config",
    "iter_batches",
    "validate_topic_name",
]
