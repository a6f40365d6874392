"""kcat (Debian's, librdkafka 2.0.2: a client no one here wrote) against the embedded broker."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

KCAT = shutil.which("kcat") or "/usr/bin/kcat"
pytestmark = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
DELIM = b"|~DELIM~|"


def kcat(*args: str, stdin: bytes = b"", timeout: float = 40.0) -> bytes:
    """Run kcat; fail with its stderr unless it exits 0 without reporting an error."""
    proc = subprocess.run(
        [KCAT, *args], input=stdin, capture_output=True, timeout=timeout, check=False
    )
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, f"kcat {' '.join(args)} exited {proc.returncode}:\n{err}"
    assert "ERROR" not in err and "failed" not in err.lower(), err
    return proc.stdout


def produce_lines(bootstrap: str, topic: str, data: bytes, *extra: str) -> None:
    kcat("-P", "-b", bootstrap, "-t", topic, "-p", "0", "-X", "acks=all", *extra, stdin=data)


def consume_json(bootstrap: str, topic: str, offset: str = "beginning") -> list[dict]:
    out = kcat("-C", "-q", "-b", bootstrap, "-t", topic, "-p", "0", "-o", offset, "-e", "-J")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def parse_length_prefixed(out: bytes) -> list[tuple[int, bytes]]:
    """Split kcat `-f '%o:%S:%s'` output into (offset, payload) pairs, binary safe."""
    records = []
    pos = 0
    while pos < len(out):
        colon1 = out.index(b":", pos)
        colon2 = out.index(b":", colon1 + 1)
        offset, size = int(out[pos:colon1]), int(out[colon1 + 1 : colon2])
        start = colon2 + 1
        records.append((offset, out[start : start + size]))
        pos = start + size
    return records


def test_metadata_lists_the_broker_and_a_topic(broker):
    produce_lines(broker.bootstrap, "kcat-meta", b"hello\n")
    listing = json.loads(kcat("-L", "-J", "-b", broker.bootstrap))
    assert [b["name"] for b in listing["brokers"]] == [broker.bootstrap]
    broker_id = listing["brokers"][0]["id"]
    topics = {t["topic"]: t for t in listing["topics"]}
    assert "kcat-meta" in topics, listing
    partitions = topics["kcat-meta"]["partitions"]
    assert [p["partition"] for p in partitions] == [0]
    assert partitions[0]["leader"] == broker_id
    text = kcat("-L", "-b", broker.bootstrap, "-t", "kcat-meta").decode()
    assert f"1 brokers:\n  broker {broker_id} at {broker.bootstrap}" in text, text
    assert 'topic "kcat-meta" with 1 partitions:' in text, text


@pytest.mark.parametrize("codec", CODECS)
def test_each_codec_round_trips_keyed_lines_byte_exact_in_order(broker, codec):
    topic = f"kcat-{codec}"
    lines = [f"key-{i:04d}:value {i} {codec} ".encode() + b"x" * (i % 97) for i in range(1000)]
    data = b"\n".join(lines) + b"\n"
    produce_lines(broker.bootstrap, topic, data, "-z", codec, "-K:")

    out = kcat(
        "-C",
        "-q",
        "-b",
        broker.bootstrap,
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%k:%s\n",
    )
    assert out == data

    envelopes = consume_json(broker.bootstrap, topic)
    assert [e["offset"] for e in envelopes] == list(range(1000))
    assert [f"{e['key']}:{e['payload']}".encode() for e in envelopes] == lines


def test_binary_values_split_by_a_custom_delimiter_round_trip(broker):
    rng = random.Random(20240501)
    alphabet = bytes(range(256))
    values = [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 300))) for _ in range(300)]
    values += [b"\n", b"\x00", b"\r\n\t", b"\xff" * 5000, b"|~DELIM", b"~DELIM~|"]
    values = [v for v in values if DELIM not in v]
    assert DELIM.join(values).split(DELIM) == values  # the input itself is unambiguous
    produce_lines(
        broker.bootstrap, "kcat-binary", DELIM.join(values), "-D", DELIM.decode(), "-z", "lz4"
    )

    out = kcat(
        "-C",
        "-q",
        "-b",
        broker.bootstrap,
        "-t",
        "kcat-binary",
        "-p",
        "0",
        "-o",
        "beginning",
        "-e",
        "-f",
        "%o:%S:%s",
    )
    records = parse_length_prefixed(out)
    assert [o for o, _ in records] == list(range(len(values)))
    assert [v for _, v in records] == values


def test_consuming_from_the_middle_gives_exactly_the_tail(broker):
    lines = [f"line-{i}".encode() for i in range(1000)]
    produce_lines(broker.bootstrap, "kcat-tail", b"\n".join(lines) + b"\n", "-z", "snappy")

    out = kcat(
        "-C",
        "-q",
        "-b",
        broker.bootstrap,
        "-t",
        "kcat-tail",
        "-p",
        "0",
        "-o",
        "500",
        "-e",
        "-f",
        "%o %s\n",
    )
    assert out.splitlines() == [f"{i} line-{i}".encode() for i in range(500, 1000)]
    tail = consume_json(broker.bootstrap, "kcat-tail", "-10")
    assert [e["offset"] for e in tail] == list(range(990, 1000))
    assert [e["payload"] for e in tail] == [f"line-{i}" for i in range(990, 1000)]
