"""The one test kit: waiting on conditions, ports, subprocesses and private services.

- `waiting`: `wait_until` / `wait_for` (a condition and a deadline, never a bare sleep).
- `ports`: free ports, waiting for a port to listen, an address where nothing listens.
- `processes`: `ManagedProcess` (a subprocess with its log file: wait for its ready line or
  port, stop with SIGTERM then SIGKILL, its log attached to a failing test's report),
  `start_headwater` / `run_headwater` for `python -m headwater …`.
- `services`: the embedded broker (`BrokerProcess`) and Tansu.
- `databases`: private PostgreSQL and MariaDB servers from the installed binaries.

Fixtures built on these live in tests/conftest.py (`broker`, `broker_factory`) and in the
conftest of each area that needs a database.
"""
