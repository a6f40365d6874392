"""`headwater doctor` as a user runs it, on the embedded broker and with no broker at all."""

from __future__ import annotations

import json

import headwater.transport as hwt
from headwater.contracts.topics import CLICKSTREAM_EVENTS
from tests.kit.ports import dead_address
from tests.kit.processes import run_headwater
from tests.kit.services import BrokerProcess


def test_embedded_broker_says_what_one_node_cannot_promise_and_exits_zero(
    broker: BrokerProcess,
) -> None:
    with hwt.connect(broker.bootstrap) as transport:
        transport.admin().create_topics([hwt.TopicSpec(CLICKSTREAM_EVENTS, partitions=2)])
    done = run_headwater("doctor", "--broker", broker.bootstrap, timeout_s=60)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "embedded headwater broker: 1 broker, no racks" in out
    assert "MEDIUM    cluster: the embedded headwater broker: one node cannot replicate" in out
    assert "MEDIUM    broker: fsync policy 'interval' (log.flush.policy)" in out
    assert "headwater broker --flush always" in out
    assert f"OK        topic {CLICKSTREAM_EVENTS}: 2 partitions, all led and in sync" in out
    assert "CRITICAL" not in out and "HIGH " not in out
    assert out.rstrip().endswith("exit 0: nothing at risk")


def test_json_carries_the_exit_code(broker: BrokerProcess) -> None:
    done = run_headwater("doctor", "--broker", broker.bootstrap, "--json", timeout_s=60)
    report = json.loads(done.stdout)
    assert report["exit_code"] == done.returncode == 0
    assert report["counts"]["medium"] == 2
    assert {f["check"] for f in report["findings"]} >= {"brokers", "fsync", "acks"}


def test_unreachable_broker_exits_69_with_the_address_and_no_traceback() -> None:
    address = dead_address()
    done = run_headwater("doctor", "--broker", f"kafka://{address}", "--timeout", "1", timeout_s=60)
    assert done.returncode == 69
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"error: no broker: list topics at {address}: ")
    assert lines[1] == "fix: start one (`headwater broker`) or point --broker at a running one"
    assert "Traceback" not in done.stderr


def test_bad_broker_value_is_a_usage_error() -> None:
    done = run_headwater("doctor", "--broker", "kafka://h1:9092?zone=a", timeout_s=60)
    assert done.returncode == 2
    assert "unknown parameter 'zone' after '?'; accepted: client.rack=…" in done.stderr
