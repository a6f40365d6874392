"""The lake: Delta tables, their schemas, and exactly-once commits (txn per topic-partition)."""
