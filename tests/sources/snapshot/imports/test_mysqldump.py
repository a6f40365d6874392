"""mysqldump import: dumps written by the real mysqldump, compared with a live snapshot of the same
table; hand-made broken dumps must name their line; mutated dumps never crash the parser."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.sources.snapshot import open_snapshot, read_position, run_snapshot
from headwater.sources.snapshot.errors import DumpParseError, SnapshotError
from headwater.sources.snapshot.imports import import_mysqldump
from headwater.sources.snapshot.imports.mysqldump import read_dump
from tests.sources.snapshot.conftest import MyDb
from tests.sources.snapshot.test_mysql import KINDS, KINDS_FIRST, KINDS_ROWS


def _dump(my: MyDb, path: Path, *options: str) -> Path:
    with path.open("wb") as out:
        subprocess.run(
            [
                "mysqldump",
                "--no-defaults",
                "-uroot",
                f"--socket={my.server.socket}",
                "--single-transaction",
                "--master-data=2",
                "--gtid",
                *options,
                my.name,
            ],
            stdout=out,
            check=True,
        )
    return path


def _table(lake: Path, name: str) -> list[dict]:
    return sorted(
        DeltaTable(str(lake / name)).to_pyarrow_table().to_pylist(), key=lambda r: r["id"]
    )


@pytest.mark.parametrize(
    "options",
    [(), ("--hex-blob",), ("--complete-insert", "--skip-extended-insert")],
    ids=["default", "hex-blob", "one-row-per-insert"],
)
def test_import_equals_a_live_snapshot(my: MyDb, tmp_path: Path, options: tuple[str, ...]) -> None:
    my.execute(
        "SET time_zone = '+00:00'",
        KINDS,
        *KINDS_ROWS,
        "CREATE TABLE empty_one (id int PRIMARY KEY)",
        "CREATE TABLE many (id int PRIMARY KEY, label varchar(20))",
        "INSERT INTO many SELECT seq, CONCAT('label ', seq) FROM seq_1_to_3000",
    )
    dump = _dump(my, tmp_path / "dump.sql", *options)
    results = import_mysqldump(dump, tmp_path / "imported")
    names = {r.lake_table: r.rows for r in results}
    prefix = f"snapshots_{my.name}_"
    assert names == {f"{prefix}kinds": 2, f"{prefix}empty_one": 0, f"{prefix}many": 3000}
    live = run_snapshot(open_snapshot(my.url(), "kinds"), tmp_path / "live")
    imported = _table(tmp_path / "imported", f"{prefix}kinds")
    assert imported == _table(tmp_path / "live", live.lake_table)
    assert imported[0] == KINDS_FIRST
    position = read_position(tmp_path / "imported", f"{prefix}kinds")
    status = my.server.execute("SHOW MASTER STATUS")[0]
    assert position is not None and position.binlog_file == status[0]
    assert position.binlog_pos == int(status[1]) and position.gtid


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.sql"
    path.write_text(text)
    return path


HEADER = """-- MariaDB dump 10.19
--
-- Host: localhost    Database: shop
-- ------------------------------------------------------

CREATE TABLE `t` (
  `id` int(11) NOT NULL,
  `day` date DEFAULT NULL,
  `note` varchar(20) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;

"""


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        (
            "INSERT INTO `t` VALUES (1,'2024-01-01','ok');\n"
            "INSERT INTO `t` VALUES (2,'2024-01-01','x\n\n",
            14,
            "never closed",
        ),
        ("INSERT INTO `t` VALUES (1,'2024-01-01','ok'),\n(2,'2024-01-01');\n", 14, "2 values"),
        (
            "INSERT INTO `t` VALUES (1,'2024-01-01','ok');\n"
            "INSERT INTO `t` VALUES (2,'2024-13-45','bad');\n",
            14,
            "2024-13-45",
        ),
        (
            "INSERT INTO `t` VALUES (1,'2024-01-01','ok') (2,'2024-01-01','ok');\n",
            13,
            "between rows",
        ),
        ("INSERT INTO `other` VALUES (1);\n", 13, "before its CREATE TABLE"),
        ("INSERT INTO `t` VALUES (1,'2024-01-01',@x);\n", 13, "cannot read the value"),
        ("INSERT INTO `t` VALUES (1,'2024-01-01','no end')\n", 13, "no terminating"),
    ],
    ids=[
        "unclosed-string",
        "short-row",
        "bad-date",
        "missing-comma",
        "unknown-table",
        "bad-token",
        "no-semicolon",
    ],
)
def test_broken_dump_names_the_line(tmp_path: Path, body: str, line: int, problem: str) -> None:
    path = _write(tmp_path, HEADER + body)
    with pytest.raises(DumpParseError, match=problem) as caught:
        import_mysqldump(path, tmp_path / "lake")
    assert caught.value.line == line, str(caught.value)
    assert f"line {line}" in caught.value.cause
    assert not (tmp_path / "lake" / "snapshots_shop_t").exists()


def test_escapes_and_literals(tmp_path: Path) -> None:
    body = (
        "INSERT INTO `t` VALUES (1,'2024-01-01','a\\'b\\\\c\\nd'),(2,NULL,'it''s'),"
        "(3,'2024-01-03',_utf8mb4 'x'),(4,'2024-01-04',0x6869);\n"
    )
    results = import_mysqldump(_write(tmp_path, HEADER + body), tmp_path / "lake")
    rows = _table(tmp_path / "lake", results[0].lake_table)
    assert [r["note"] for r in rows] == ["a'b\\c\nd", "it's", "x", "hi"]
    assert rows[1]["day"] is None


SEED = (
    HEADER
    + "INSERT INTO `t` VALUES (1,'2024-01-01','a\\'b'),(2,NULL,'x''y'),(3,'2024-01-03',0x41);\n"
).encode()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.binary(max_size=3)), max_size=4))
def test_mutated_dumps_parse_or_name_a_line(tmp_path: Path, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(SEED)
    for offset, replacement in edits:
        data[offset : offset + 1] = replacement
    path = tmp_path / "fuzz.sql"
    path.write_bytes(bytes(data))
    try:
        _, pairs = read_dump(path)
        for _ in pairs:
            pass
    except SnapshotError:
        pass


def test_unsupported_type_names_the_import_option(tmp_path: Path) -> None:
    dump = (
        HEADER.replace("`note` varchar(20)", "`note` time")
        + "INSERT INTO `t` VALUES (1,NULL,'-26:00:01');\n"
    )
    path = _write(tmp_path, dump)
    with pytest.raises(DumpParseError, match=r"'note'.*time") as caught:
        import_mysqldump(path, tmp_path / "lake")
    assert caught.value.line == 6 and caught.value.fix == "import it as text: --as-text note"
    assert not (tmp_path / "lake" / "snapshots_shop_t").exists()
    results = import_mysqldump(path, tmp_path / "lake", as_text=frozenset({"note"}))
    assert _table(tmp_path / "lake", results[0].lake_table)[0]["note"] == "-26:00:01"


def _literal(value: object) -> bytes:
    if value is None:
        return b"NULL"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, bytes):
        return b"0x" + value.hex().encode()
    escaped = str(value).encode().replace(b"\\", b"\\\\").replace(b"'", b"\\'")
    return b"'" + escaped.replace(b"\n", b"\\n").replace(b"\x00", b"\\0") + b"'"


_VALUES = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(), st.binary(min_size=1))


@given(st.lists(st.lists(_VALUES, min_size=3, max_size=3), min_size=1, max_size=20))
def test_fast_row_scanner_agrees_with_the_tokenizer(rows: list[list[object]]) -> None:
    from headwater.sources.snapshot.imports.dump_statements import Statement
    from headwater.sources.snapshot.imports.mysqldump import _fast_rows, _Parser

    body = b",\n".join(b"(" + b",".join(_literal(v) for v in row) + b")" for row in rows)
    text = b"INSERT INTO `t` VALUES " + body
    fast = _fast_rows(text, len(b"INSERT INTO `t` VALUES"))
    parser = _Parser(Path("x.sql"), Statement(text, 1))
    parser.at = 4
    slow = list(parser._rows())
    assert fast is not None
    assert [row for row, _ in fast] == [row for row, _ in slow]
    assert [opening.offset for _, opening in fast] == [opening.offset for _, opening in slow]
