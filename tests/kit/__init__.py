"""The one test kit: waiting on conditions, ports, subprocesses and private services.

- `waiting`: `wait_until` / `wait_for` (a condition and a deadline, never a bare sleep).
- `consuming`: `consume_until` (poll a consumer until what arrived satisfies a condition, or
  fail naming what did) and `valid_messages` (confluent-kafka's records, error events raised).
- `ports`: free ports, waiting for a port to listen, an address where nothing listens.
- `processes`: `ManagedProcess` (a subprocess with its log file: wait for its ready line or
  port, stop with SIGTERM then SIGKILL, its log attached to a failing test's report),
  `start_headwater` / `run_headwater` for `python -m headwater …`.
- `services`: the embedded broker (`BrokerProcess`) and Tansu.
- `kafka`: a private 3-node Apache Kafka cluster (KRaft, one rack per node) from the jars setup
  fetched; nodes can be killed, paused and restarted.
- `databases`: private PostgreSQL and MariaDB servers from the installed binaries.

Fixtures built on these live in tests/conftest.py (`broker`, `broker_factory`, `kafka_cluster`)
and in the conftest of each area that needs a database.
"""
