"""Fuzz the running broker with mutated Kafka requests over raw sockets.

One invariant, as h11's fuzzers: whatever arrives on a connection, the broker answers it or closes
that connection, and nothing else happens: the process stays up, logs no error (a handler that
raises is a broker bug), a fresh connection is still served, and a well-behaved confluent-kafka
client producing and reading back records the whole time gets every record back byte-exact.
The inputs come from tests/broker/test_fuzz_wire.py; one broker serves the whole module.

Each input that ever broke the broker stays below as an explicit `@example` (SQLite's fuzzcheck
habit): REGRESSIONS holds them and the fuzz tests replay them first.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kio.schema.api_versions.v0.request import ApiVersionsRequest as ApiVersionsV0
from kio.schema.api_versions.v3.request import ApiVersionsRequest as ApiVersionsV3

from tests.broker.clients import make_consumer, make_producer, wait_until
from tests.broker.test_fuzz_wire import (
    API_VERSIONS,
    bad_size_prefixes,
    correlation_ids,
    mutated_frames,
    produce_with_rewritten_batches,
    request_frame,
    unknown_apis,
    valid_requests,
)
from tests.conftest import BrokerProcess
from tests.kit.consuming import consume_until, valid_messages

UNSUPPORTED_VERSION = 35
MAX_EXAMPLES = 300

# -- talking to the broker --------------------------------------------------------------------


def exchange(bootstrap: str, payload: bytes, keep_open: bool) -> bytes:
    """Send payload on a new connection; return whatever came back before close or a timeout.

    keep_open=False half-closes right after sending (the broker answers what it can, then sees
    EOF); keep_open=True leaves the connection open and reads until it goes quiet for 100 ms.
    """
    host, port = bootstrap.rsplit(":", 1)
    received = bytearray()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        try:
            sock.sendall(payload)
            if not keep_open:
                sock.shutdown(socket.SHUT_WR)
            sock.settimeout(0.1 if keep_open else 2.0)
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionError):
            pass  # quiet connection, or the broker hung up on us: both are fine
    return bytes(received)


def read_frame(sock: socket.socket) -> bytes:
    """One size-prefixed response (without its size), or AssertionError if the broker hangs up."""
    header = _recv_exactly(sock, 4)
    (size,) = struct.unpack(">i", header)
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"connection closed after {len(data)} of {n} bytes"
        data += chunk
    return bytes(data)


def assert_broker_serves(broker: BrokerProcess) -> None:
    """The process is alive and answers ApiVersions v3 on a fresh connection."""
    assert broker.alive(), "broker process died:\n" + broker.log_text()[-4000:]
    with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
        sock.sendall(
            request_frame(
                ApiVersionsV3(client_software_name="probe", client_software_version="1"), 4242
            )
        )
        response = read_frame(sock)
    correlation_id, error = struct.unpack_from(">ih", response)
    assert (correlation_id, error) == (4242, 0)


# -- the bystander: a well-behaved client working throughout ----------------------------------


class Bystander(threading.Thread):
    """Produces 50 records per round with confluent-kafka and reads each round back byte-exact."""

    TOPIC = "bystander"

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.rounds = 0
        self.failures: list[str] = []
        self.stop_requested = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        rng = random.Random(7)
        producer = make_producer(self.bootstrap)
        consumer = make_consumer(self.bootstrap, group="bystander")
        expected_offset = 0
        delivered: list[tuple[int, bytes]] = []
        errors: list[str] = []

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                delivered.append((msg.offset(), msg.value()))

        while not self.stop_requested.is_set() and not self.failures:
            values = [
                f"{self.rounds}/{i}/".encode() + rng.randbytes(rng.randrange(300))
                for i in range(50)
            ]
            delivered.clear()
            for value in values:
                producer.produce(self.TOPIC, value, key=value[:8], on_delivery=on_delivery)
            if producer.flush(20) or errors:
                self.failures.append(f"round {self.rounds}: produce failed: {errors[:3]}")
                return
            if sorted(delivered) != list(
                zip(range(expected_offset, expected_offset + 50), values, strict=True)
            ):
                self.failures.append(f"round {self.rounds}: delivery reports {delivered[:3]}..")
                return
            if self.rounds == 0:  # the first produce created the topic
                consumer.assign([TopicPartition(self.TOPIC, 0, 0)])
            try:
                got = consume_until(
                    lambda so_far: valid_messages(consumer.consume(50 - len(so_far), 0.2), ()),
                    lambda so_far: len(so_far) >= 50,
                    20,
                    f"round {self.rounds}'s 50 records",
                )
            except AssertionError as exc:  # a consumer error, or the deadline
                self.failures.append(f"round {self.rounds}: {exc}")
                return
            read = [(m.offset(), m.value()) for m in got]
            if read != list(zip(range(expected_offset, expected_offset + 50), values, strict=True)):
                self.failures.append(
                    f"round {self.rounds}: read back {len(read)} records, "
                    f"first mismatch in {read[:2]}"
                )
                return
            expected_offset += 50
            self.rounds += 1
        consumer.close()


class LogWatcher:
    """Reads what the broker logged since the last look; errors there are broker bugs.

    A handler that raises is logged at level error (server rule 3), and an exception escaping an
    event-loop callback is printed as a plain traceback: either means an input broke something,
    even though the process survived.
    """

    def __init__(self, broker: BrokerProcess) -> None:
        self.broker = broker
        self.position = 0

    def new_errors(self) -> list[str]:
        assert self.broker.log_path is not None
        with self.broker.log_path.open("rb") as log:
            log.seek(self.position)
            text = log.read()
        complete = text[: text.rfind(b"\n") + 1]
        self.position += len(complete)
        errors = []
        for line in complete.decode(errors="replace").splitlines():
            try:
                level = json.loads(line).get("level")
            except (ValueError, AttributeError):
                errors.append(line)  # not one of the broker's JSON lines: a raw traceback
                continue
            if level in ("error", "critical"):
                errors.append(line)
        return errors

    def assert_clean(self) -> None:
        errors = self.new_errors()
        assert errors == [], "the broker logged errors:\n" + "\n".join(errors)[-4000:]


@pytest.fixture(scope="module")
def fuzz_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(data_dir=tmp_path_factory.mktemp("fuzz") / "data").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def broker_log(fuzz_broker: BrokerProcess) -> LogWatcher:
    return LogWatcher(fuzz_broker)


@pytest.fixture(scope="module")
def bystander(fuzz_broker: BrokerProcess) -> Iterator[Bystander]:
    thread = Bystander(fuzz_broker.bootstrap)
    thread.start()
    wait_until(lambda: thread.rounds >= 1 or bool(thread.failures), 30, "a first bystander round")
    yield thread
    thread.stop_requested.set()
    thread.join(30)


def check_bystander(bystander: Bystander, rounds_before: int) -> None:
    """The well-behaved client kept working while the fuzzer ran (one more full round at least)."""
    wait_until(
        lambda: bystander.rounds > rounds_before or bool(bystander.failures),
        30,
        "another bystander round",
    )
    assert bystander.failures == []


FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def fuzz(
    strategy: st.SearchStrategy[bytes],
    seeds: list[bytes],
    max_examples: int,
    broker: BrokerProcess,
    broker_log: LogWatcher,
) -> None:
    """Send every seed and `max_examples` generated inputs, checking the broker after each."""

    @settings(FUZZ_SETTINGS, max_examples=max_examples)
    @given(payload=strategy, keep_open=st.integers(0, 9).map(lambda n: n == 0))
    def send(payload: bytes, keep_open: bool) -> None:
        exchange(broker.bootstrap, payload, keep_open)
        assert_broker_serves(broker)
        broker_log.assert_clean()

    test: Callable[..., None] = send
    for seed in seeds:
        test = example(payload=seed, keep_open=False)(test)
        test = example(payload=seed, keep_open=True)(test)
    test()


# -- the tests ----------------------------------------------------------------------------------

#: Inputs that once broke the broker (keep them forever; add new ones at the end).
REGRESSIONS: list[bytes] = [
    struct.pack(">i", -1),
    struct.pack(">i", 2**31 - 1) + b"\x00" * 16,
    struct.pack(">ihhi", 8, API_VERSIONS, 99, 1),
    struct.pack(">ihhih", 10, 999, 0, 1, -1),
    struct.pack(">i", 3) + b"\x00\x12\x00",
]


def test_api_versions_of_unknown_version_gets_error_35_in_v0_layout(fuzz_broker, broker_log):
    header = struct.pack(">hhih", API_VERSIONS, 99, 123456, 4) + b"fuzz" + b"\x00"
    body = b"\x05fuzz\x041.0\x00"  # a v3-shaped body: compact strings and empty tagged fields
    with socket.create_connection((fuzz_broker.host, fuzz_broker.port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(header + body)) + header + body)
        response = read_frame(sock)
        correlation_id, error, count = struct.unpack_from(">ihi", response)
        assert (correlation_id, error) == (123456, UNSUPPORTED_VERSION)
        assert count > 0 and len(response) == 10 + 6 * count, "not the v0 layout"
        versions = {key: (lo, hi) for key, lo, hi in struct.iter_unpack(">hhh", response[10:])}
        assert versions[API_VERSIONS][0] == 0 and versions[API_VERSIONS][1] >= 3
        assert {0, 1, 3, 8, 11} <= set(versions)

        # KIP-511: the client retries on the same connection with a version from the table.
        sock.sendall(request_frame(ApiVersionsV0(), 7))
        correlation_id, error = struct.unpack_from(">ih", read_frame(sock))
        assert (correlation_id, error) == (7, 0)
    broker_log.assert_clean()


def test_valid_requests_are_answered_with_their_correlation_id(fuzz_broker, broker_log, bystander):
    rounds = bystander.rounds

    @settings(FUZZ_SETTINGS, max_examples=100)
    @given(request=valid_requests(), correlation_id=correlation_ids)
    def send(request: Any, correlation_id: int) -> None:
        with socket.create_connection((fuzz_broker.host, fuzz_broker.port), timeout=5) as sock:
            sock.sendall(request_frame(request, correlation_id))
            if getattr(request, "acks", None) == 0:
                return  # acks=0: the broker sends no response
            response = read_frame(sock)
        assert struct.unpack_from(">i", response)[0] == correlation_id
        broker_log.assert_clean()

    send()
    check_bystander(bystander, rounds)


def test_mutated_valid_requests_never_hurt_the_broker(fuzz_broker, broker_log, bystander):
    rounds = bystander.rounds
    fuzz(mutated_frames(), REGRESSIONS, MAX_EXAMPLES, fuzz_broker, broker_log)
    check_bystander(bystander, rounds)


def test_garbage_and_bad_size_prefixes_never_hurt_the_broker(fuzz_broker, broker_log, bystander):
    rounds = bystander.rounds
    garbage = st.binary(max_size=256) | bad_size_prefixes()
    fuzz(garbage, REGRESSIONS, 150, fuzz_broker, broker_log)
    check_bystander(bystander, rounds)


def test_unknown_api_keys_and_versions_never_hurt_the_broker(fuzz_broker, broker_log, bystander):
    rounds = bystander.rounds
    fuzz(unknown_apis(), REGRESSIONS, 150, fuzz_broker, broker_log)
    check_bystander(bystander, rounds)


def test_batches_rewritten_with_a_valid_crc_never_hurt_the_broker(
    fuzz_broker, broker_log, bystander
):
    rounds = bystander.rounds
    fuzz(produce_with_rewritten_batches(), [], 200, fuzz_broker, broker_log)
    check_bystander(bystander, rounds)
