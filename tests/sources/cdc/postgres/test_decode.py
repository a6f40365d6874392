"""wal2json format-version 2 messages (as PostgreSQL 15 + wal2json 2.5 write them) to records."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from headwater.contracts.cdc import encode, envelope
from headwater.sources.cdc.postgres.decode import Wal2JsonDecoder, lsn_to_str, str_to_lsn


class Collect:
    def __init__(self) -> None:
        self.changes: list[tuple[str, Any, Any]] = []
        self.commits: list[dict[str, Any]] = []

    def change(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.changes.append(
            (topic, key and orjson.loads(key), value and orjson.loads(value))
        )  # fmt: skip

    def commit(self, position: dict[str, Any]) -> None:
        self.commits.append(position)


BEGIN = b'{"action":"B","xid":728,"timestamp":"2026-11-26 00:57:32.375181+00","lsn":"0/1929C08"}'
COMMIT = b'{"action":"C","xid":728,"timestamp":"2026-11-26 00:57:32.375181+00","lsn":"0/1929C08"}'


def insert(columns: str, pk: str = '[{"name":"id","type":"integer"}]') -> bytes:
    return (
        b'{"action":"I","xid":728,"lsn":"0/1929A60","schema":"public","table":"t",'
        b'"columns":[' + columns.encode() + b'],"pk":' + pk.encode() + b"}"
    )


def decode(*payloads: bytes, tombstones: bool = False) -> Collect:
    sink = Collect()
    decoder = Wal2JsonDecoder("src", "app", sink, tombstones)
    for i, payload in enumerate(payloads):
        decoder.decode(payload, 0x1929C38 + i)
    return sink


def test_numeric_beyond_double_precision_stays_exact():
    sink = decode(
        BEGIN,
        insert(
            '{"name":"id","type":"integer","value":1},'
            '{"name":"n","type":"numeric","value":123456789012345678901234567890.123456789},'
            '{"name":"i","type":"numeric","value":98765432109876543210},'
            '{"name":"f","type":"double precision","value":0.1}'
        ),
    )
    after = sink.changes[0][2]["after"]
    assert after == {
        "id": 1,
        "n": "123456789012345678901234567890.123456789",
        "i": "98765432109876543210",
        "f": 0.1,
    }


@pytest.mark.parametrize(
    ("pg_type", "text", "expected"),
    [
        ("timestamp with time zone", "2024-01-01 08:00:00.123+00", "2024-01-01T08:00:00.123Z"),
        ("timestamp with time zone", "2024-01-01 10:00:00+02", "2024-01-01T08:00:00Z"),
        ("timestamp with time zone", "infinity", "infinity"),
        ("timestamp without time zone", "2024-01-01 10:00:00", "2024-01-01T10:00:00"),
        ("bytea", "\\\\x00ff10", "AP8Q"),
        ("date", "2024-02-29", "2024-02-29"),
        ("jsonb", '{\\"a\\": 1}', '{"a": 1}'),
    ],
)
def test_values_are_typed_like_debezium(pg_type: str, text: str, expected: str):
    sink = decode(
        BEGIN,
        insert(
            '{"name":"id","type":"integer","value":1},'
            f'{{"name":"v","type":"{pg_type}","value":"{text}"}}'
        ),
    )
    assert sink.changes[0][2]["after"]["v"] == expected


def test_commit_position_is_the_commit_message_lsn_to_resume_after():
    sink = decode(BEGIN, insert('{"name":"id","type":"integer","value":1}'), COMMIT)
    (position,) = sink.commits
    assert position == {"lsn": lsn_to_str(0x1929C3A), "lsn_int": 0x1929C3A, "txId": 728}
    assert str_to_lsn(position["lsn"]) == position["lsn_int"]
    assert sink.changes[0][2]["source"]["lsn"] == str_to_lsn("0/1929A60")
    assert sink.changes[0][2]["source"]["ts_ms"] == 1795654652375


def test_delete_with_default_identity_carries_the_key_and_a_tombstone_follows():
    delete = (
        b'{"action":"D","xid":1,"lsn":"0/1","schema":"public","table":"t",'
        b'"identity":[{"name":"id","type":"integer","value":7}],'
        b'"pk":[{"name":"id","type":"integer"}]}'
    )
    sink = decode(BEGIN, delete, tombstones=True)
    (topic, key, value), tombstone = sink.changes
    assert topic == "cdc.src.public.t" and key == {"id": 7}
    assert value["op"] == "d" and value["before"] == {"id": 7} and value["after"] is None
    assert tombstone == ("cdc.src.public.t", {"id": 7}, None)


def test_update_before_only_with_a_full_identity():
    cols = '[{"name":"id","type":"integer","value":1},{"name":"x","type":"text","value":"b"}]'
    old = '[{"name":"id","type":"integer","value":1},{"name":"x","type":"text","value":"a"}]'
    key_only = '[{"name":"id","type":"integer","value":1}]'
    template = (
        '{{"action":"U","xid":1,"lsn":"0/1","schema":"public","table":"t","columns":{c},'
        '"identity":{i},"pk":[{{"name":"id","type":"integer"}}]}}'
    )
    sink = decode(
        template.format(c=cols, i=old).encode(), template.format(c=cols, i=key_only).encode()
    )
    assert sink.changes[0][2]["before"] == {"id": 1, "x": "a"}
    assert sink.changes[1][2]["before"] is None


def test_truncate_has_no_key_and_no_rows():
    sink = decode(BEGIN, b'{"action":"T","xid":1,"lsn":"0/5","schema":"s","table":"t"}')
    ((topic, key, value),) = sink.changes
    assert (topic, key, value["op"], value["before"], value["after"]) == (
        "cdc.src.s.t", None, "t", None, None,
    )  # fmt: skip


def test_table_without_key_gives_keyless_records_and_one_warning(caplog):
    row = insert('{"name":"a","type":"integer","value":1}', pk="[]")
    sink = decode(BEGIN, row, row)
    assert [key for _, key, _ in sink.changes] == [None, None]
    assert [r.message for r in caplog.records].count("table_without_primary_key") == 1


def test_a_change_without_pk_takes_the_catalogs_key_in_the_same_bytes():
    asked: list[tuple[str, str]] = []

    def primary_key(schema: str, table: str) -> list[str]:
        asked.append((schema, table))
        return ["b", "a"]

    columns = '{"name":"a","type":"integer","value":1},{"name":"b","type":"text","value":"x"}'
    with_pk = insert(columns, pk='[{"name":"b","type":"text"},{"name":"a","type":"integer"}]')
    sink = Collect()
    decoder = Wal2JsonDecoder("src", "app", sink, primary_key=primary_key)
    for payload in (BEGIN, insert(columns, pk="[]"), with_pk, insert(columns, pk="[]")):
        decoder.decode(payload, 0x1929C38)
    keys = [key for _, key, _ in sink.changes]
    assert keys == [{"b": "x", "a": 1}] * 3
    assert asked == [("public", "t"), ("public", "t")]  # the caller caches (chunks.PostgresChunks)


def test_numerics_in_the_old_row_and_nulls_stay_exact_and_in_place():
    cols = (
        '[{"name":"id","type":"integer","value":1},'
        '{"name":"a","type":"numeric","value":0.1000000000000000000001},'
        '{"name":"b","type":"numeric","value":null},'
        '{"name":"t","type":"text","value":"\\"type\\":\\"numeric\\",\\"value\\":5"}]'
    )
    old = cols.replace("0.1000000000000000000001", "-7E+30").replace("null", "2.50")
    update = (
        '{"action":"U","xid":1,"lsn":"0/1","schema":"public","table":"t","columns":' + cols
        + ',"identity":' + old + ',"pk":[{"name":"id","type":"integer"}]}'
    )  # fmt: skip
    (change,) = decode(update.encode()).changes
    after, before = change[2]["after"], change[2]["before"]
    assert (after["a"], after["b"], after["t"]) == (
        "0.1000000000000000000001", None, '"type":"numeric","value":5',
    )  # fmt: skip
    assert (before["a"], before["b"]) == ("-7E+30", "2.50")


@pytest.mark.parametrize(
    ("pg_type", "value", "expected"),
    [
        ("numeric(20,6)", "12345678901234.123456", "12345678901234.123456"),
        ("numeric(5)", "12345", "12345"),
        ("timestamp(3) with time zone", '"2024-01-01 08:00:00.5+00"', "2024-01-01T08:00:00.5Z"),
        ("numeric(10,2)[]", '"{1.50,2.00}"', "{1.50,2.00}"),
    ],
)
def test_type_modifiers_do_not_change_how_a_value_is_typed(pg_type, value, expected):
    sink = decode(
        insert(
            '{"name":"id","type":"integer","value":1},'
            f'{{"name":"v","type":"{pg_type}","value":{value}}}'
        )
    )
    assert sink.changes[0][2]["after"]["v"] == expected


def test_assembled_values_are_byte_identical_to_the_envelope_encoder():
    """The decoder assembles value bytes from pieces; they must be `encode(envelope(...))`."""
    update = (
        b'{"action":"U","xid":1,"lsn":"0/1","schema":"public","table":"t",'
        b'"columns":[{"name":"id","type":"integer","value":1},'
        b'{"name":"x","type":"numeric","value":2.50}],'
        b'"identity":[{"name":"id","type":"integer","value":1},'
        b'{"name":"x","type":"numeric","value":-1E+3}],"pk":[{"name":"id","type":"integer"}]}'
    )
    delete = (
        b'{"action":"D","xid":1,"schema":"odd \\"schema","table":"t",'
        b'"identity":[{"name":"id","type":"integer","value":7}],"pk":[]}'
    )
    truncate = b'{"action":"T","xid":1,"lsn":"0/5","schema":"s","table":"t"}'
    row = insert(
        '{"name":"id","type":"integer","value":1},'
        '{"name":"n","type":"numeric(40,9)","value":123456789012345678901234567890.123456789},'
        '{"name":"z","type":"numeric","value":null},'
        '{"name":"f","type":"double precision","value":0.1},'
        '{"name":"u","type":"text","value":"h\\u00e9 \\"type\\":\\"numeric\\",\\"value\\":5"}'
    )
    sink = Collect()
    raw: list[bytes] = []
    sink.change = lambda topic, key, value: raw.append(value)  # type: ignore[method-assign]
    decoder = Wal2JsonDecoder("src", "app", sink)
    for i, payload in enumerate((BEGIN, row, update, delete, truncate, COMMIT, BEGIN, row)):
        decoder.decode(payload, 0x1929C38 + i)
    assert len(raw) == 5
    for value in raw:
        v = orjson.loads(value)
        expected = envelope(v["op"], v["before"], v["after"], v["source"], v["ts_ms"])
        assert value == encode(expected)
        assert list(v["source"]) == [
            "version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "schema",
            "table", "txId", "lsn", "xmin",
        ]  # fmt: skip
