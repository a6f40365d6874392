"""Errors raised by partition storage, one class per Kafka error code.

    LogError                          base; error_code -1 (UNKNOWN_SERVER_ERROR)
    ├── CorruptRecordError            2  CORRUPT_MESSAGE: bad CRC or lengths, truncated, magic != 2
    ├── RecordTooLargeError           10 MESSAGE_TOO_LARGE: a batch is larger than max.message.bytes
    ├── InvalidRecordError            87 INVALID_RECORD: well formed, breaks a rule (count, control)
    ├── OffsetOutOfRangeError         1  OFFSET_OUT_OF_RANGE: below log start or past log end
    ├── OutOfOrderSequenceError       45 OUT_OF_ORDER_SEQUENCE_NUMBER: idempotent producer gap
    ├── InvalidProducerEpochError     47 INVALID_PRODUCER_EPOCH: a fenced (older) producer epoch
    ├── TopicExistsError              36 TOPIC_ALREADY_EXISTS
    ├── InvalidTopicError             17 INVALID_TOPIC_EXCEPTION: a name Kafka would refuse
    ├── InvalidPartitionsError        37 INVALID_PARTITIONS
    ├── InvalidConfigError            40 INVALID_CONFIG: unknown topic config name or bad value
    ├── UnknownTopicOrPartitionError  3  UNKNOWN_TOPIC_OR_PARTITION (retriable)
    └── LogStorageError               56 KAFKA_STORAGE_ERROR (retriable): a write or fsync failed

The client is at fault for every error except the last two; `retriable` says whether sending the
same request again can succeed, as Kafka's own `RetriableException` subclasses do. OS errors are
translated into `LogStorageError` at the boundary (segment writes), so callers only see this tree.
"""

from __future__ import annotations


class LogError(Exception):
    """A partition-storage error that maps onto one Kafka error code."""

    error_code: int = -1
    retriable: bool = False


class CorruptRecordError(LogError):
    """The bytes are not a valid v2 RecordBatch (CRC, lengths, truncation, magic)."""

    error_code = 2
    retriable = True  # Kafka: CorruptRecordException is retriable (the network may have mangled it)


class RecordTooLargeError(LogError):
    """A batch is larger than the topic's max.message.bytes."""

    error_code = 10


class InvalidRecordError(LogError):
    """A well-formed batch that breaks a broker rule (record count, control batch, sequence)."""

    error_code = 87


class OffsetOutOfRangeError(LogError):
    """The requested offset is below the log start offset or above the log end offset."""

    error_code = 1


class OutOfOrderSequenceError(LogError):
    """An idempotent producer's batch does not continue its last sequence number."""

    error_code = 45


class InvalidProducerEpochError(LogError):
    """An idempotent producer wrote with an epoch older than one already seen (it is fenced)."""

    error_code = 47


class TopicExistsError(LogError):
    """CreateTopics for a name that is already taken."""

    error_code = 36


class InvalidTopicError(LogError):
    """A topic name Kafka would refuse (characters, length, "." or "..", collision)."""

    error_code = 17


class InvalidPartitionsError(LogError):
    """A partition count below 1, or CreatePartitions that does not grow the topic."""

    error_code = 37


class InvalidConfigError(LogError):
    """An unknown topic config name, or a value out of its range."""

    error_code = 40


class UnknownTopicOrPartitionError(LogError):
    """No such topic or partition on this broker."""

    error_code = 3
    retriable = True


class LogStorageError(LogError):
    """The disk refused a write, truncate or fsync; the partition may need a reopen to recover."""

    error_code = 56
    retriable = True
