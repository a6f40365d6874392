"""Our rows decoder against mysql-replication's, on real binlog events of a private MariaDB.

Each rows event is decoded twice: by `RowsDecoders` from its bytes, then by the library
(`event.rows`, after our converters); every row image must encode to the same JSON bytes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.column import Column
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.event import HeartbeatLogEvent, XidEvent
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    RowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from headwater.contracts.cdc import encode
from headwater.sources.cdc.config import SourceUrl
from headwater.sources.cdc.mysql import settings
from headwater.sources.cdc.mysql.rows import (
    RowsDecoders,
    Unsupported,
    compile_rows,
    library_images,
)
from tests.sources.cdc.conftest import MyDatabase

# mysql-replication connects with pymysql's deprecated argument names.
pytestmark = pytest.mark.filterwarnings("ignore:'(passwd|db)' is deprecated:DeprecationWarning")
_server_ids = itertools.count(7100)

EVERY_TYPE = """CREATE TABLE every (
    id int PRIMARY KEY,
    ti tinyint, tiu tinyint unsigned, si smallint, siu smallint unsigned, mi mediumint,
    miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,
    f float, d double,
    d1 decimal(5,2), d2 decimal(20,6), d3 decimal(65,30), d4 decimal(10,0), d5 decimal(4,4),
    d6 decimal(18,9) unsigned,
    dt0 datetime, dt1 datetime(1), dt3 datetime(3), dt6 datetime(6),
    ts0 timestamp NULL, ts2 timestamp(2) NULL, ts6 timestamp(6) NULL,
    t0 time, t3 time(3), t5 time(5), dd date, y year,
    c char(10), cw char(100), vc varchar(100), vw varchar(300), vl varchar(20) CHARACTER SET latin1,
    bn binary(4), vb varbinary(300), tt tinytext, tx text, mt mediumtext, lt longtext,
    tb tinyblob, bl blob, mb mediumblob, lb longblob, js json,
    e enum('x','y','z'), s set('b','a','d','c'), b1 bit(1), b9 bit(9), b64 bit(64),
    pt point, u uuid, ip inet6
)"""

ROWS = [
    "(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, "
    "-9223372036854775808, 18446744073709551615, 3.14159, -2.5e-300, "
    "-999.99, 12345678901234.123456, "
    "-12345678901234567890123456789012345.123456789012345678901234567891, "
    "-9999999999, -0.0001, 999999999.999999999, "
    "'1000-01-01 00:00:00', '2024-02-29 23:59:59.9', '2024-01-01 10:00:00.5', "
    "'9999-12-31 23:59:59.999999', '1970-01-01 00:00:01', '2038-01-19 03:14:07.99', "
    "'2024-06-01 12:00:00.000001', '-838:59:59', '-00:00:01.5', '838:59:58.99999', "
    "'2024-02-29', 1901, 'abc', 'wide ✓ 🦊', '', REPEAT('é', 300), 'café', x'00ff0a00', "
    "x'000102', 'tiny', 'text 🦊', 'medium', 'long', x'ff', x'00', x'abcdef', REPEAT('z', 70000), "
    "'{\"a\": [1, 2.5, null]}', 'y', 'a,c,b', b'1', b'100000001', b'1111111111111111', "
    "ST_GeomFromText('POINT(1 2)'), '123e4567-e89b-12d3-a456-426614174000', '2001:db8::1')",
    "(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, -0.0, 0, "
    "0, -0.000001, 0, 0, 0.5, 0, "
    "'0000-00-00 00:00:00', '2024-01-01 00:00:00.0', '2024-01-01 00:00:00.010', "
    "'2000-01-01 00:00:00.000010', '0000-00-00 00:00:00', '2000-01-01 00:00:00.5', NULL, "
    "'00:00:00', '-12:30:00.125', '-00:00:00.00001', '0000-00-00', 0, '', '', '', '', '', "
    "x'', x'', '', '', '', '', '', '', '', '', '[]', '', '', b'0', b'0', b'0', "
    "NULL, NULL, NULL)",
]


def _binlog_gtid(db: MyDatabase) -> str:
    return str(db.server.execute("SELECT @@gtid_binlog_pos")[0][0] or "")


def rows_events(db: MyDatabase, gtid: str) -> Iterator[Any]:
    """The rows events of `db` after `gtid` up to the binlog's current end, read as the reader
    reads them (blocking: a non-blocking MariaDB stream reconnects and replays)."""
    file, end = db.server.execute("SHOW MASTER STATUS")[0][:2]
    stream = BinLogStreamReader(
        connection_settings=settings.connection_settings(SourceUrl.parse(db.url)),
        server_id=next(_server_ids),
        blocking=True,
        slave_heartbeat=0.2,
        is_mariadb=True,
        auto_position=gtid,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, HeartbeatLogEvent],
        enable_logging=False,
    )
    try:
        while (stream.log_file or "", stream.log_pos or 0) < (file, end):
            event = stream.fetchone()
            if isinstance(event, RowsEvent) and event.schema == db.name:
                yield event
    finally:
        stream.close()


def compare(db: MyDatabase, gtid: str) -> dict[str, int]:
    """Decode every rows event both ways; returns how many images were compared per kind."""
    decoders = RowsDecoders()
    seen = {"WriteRowsEvent": 0, "UpdateRowsEvent": 0, "DeleteRowsEvent": 0}
    for event in rows_events(db, gtid):
        ours = decoders.rows(event)
        assert ours is not None, f"{event.table}: fell back to the library"
        assert event._RowsEvent__rows is None  # ours did not make the library decode
        theirs = library_images(event)
        assert [encode(r) for r in ours] == [encode(r) for r in theirs]
        seen[type(event).__name__] += len(ours)
    return seen


def test_every_type_decodes_as_the_library_does(my_db: MyDatabase) -> None:
    my_db.execute(EVERY_TYPE)
    ((count,),) = my_db.execute(
        f"SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = '{my_db.name}'"
    )
    all_null = "(3" + ", NULL" * (count - 1) + ")"
    gtid = _binlog_gtid(my_db)
    my_db.execute(
        "SET sql_mode = ''",
        "SET time_zone = '+02:00'",
        "INSERT INTO every VALUES " + ", ".join([*ROWS, all_null]),
        # partial NULLs: some columns become NULL, others stop being NULL
        "UPDATE every SET ti = NULL, d2 = NULL, vw = 'x', lt = NULL, b64 = NULL, ts6 = NOW(6) "
        "WHERE id = 1",
        "UPDATE every SET ti = 5, d3 = 1.5, dt6 = '2020-02-02 02:02:02.2', s = 'd', js = '{}' "
        "WHERE id IN (2, 3)",
        "UPDATE every SET id = id + 10 WHERE id = 2",
        "DELETE FROM every",
    )
    seen = compare(my_db, gtid)
    assert seen == {"WriteRowsEvent": 3, "UpdateRowsEvent": 8, "DeleteRowsEvent": 3}


@pytest.mark.parametrize("precision,scale", [(1, 0), (9, 9), (10, 1), (19, 10), (30, 12), (65, 0)])
def test_random_decimals_decode_as_the_library_does(my_db: MyDatabase, precision, scale) -> None:
    my_db.execute(f"CREATE TABLE n (id int PRIMARY KEY, v decimal({precision},{scale}))")
    gtid = _binlog_gtid(my_db)
    rng = random.Random(precision * 100 + scale)
    values = []
    for i in range(300):
        digits = rng.randint(1, precision)
        text = str(rng.randrange(10**digits) * rng.choice((1, -1)))
        values.append(f"({i}, {Decimal(text).scaleb(-scale)})")
    my_db.execute("INSERT INTO n VALUES " + ", ".join(values))
    assert compare(my_db, gtid)["WriteRowsEvent"] == 300


def test_a_partial_row_image_goes_to_the_library(my_db: MyDatabase) -> None:
    my_db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int)", "INSERT INTO t VALUES (1,1,1)"
    )
    gtid = _binlog_gtid(my_db)
    my_db.execute("SET SESSION binlog_row_image = 'MINIMAL'", "UPDATE t SET a = 2 WHERE id = 1")
    (event,) = list(rows_events(my_db, gtid))
    assert RowsDecoders().rows(event) is None
    assert event.rows[0]["after_values"] == {"id": None, "a": 2, "b": None}


def test_pre_5_6_temporal_columns_go_to_the_library(my_db: MyDatabase) -> None:
    my_db.server.execute("SET GLOBAL mysql56_temporal_format = OFF")
    try:
        my_db.execute("CREATE TABLE old (id int PRIMARY KEY, at datetime, t time)")
    finally:
        my_db.server.execute("SET GLOBAL mysql56_temporal_format = ON")
    gtid = _binlog_gtid(my_db)
    my_db.execute("INSERT INTO old VALUES (1, '2024-01-01 10:00:00', '10:00:00')")
    (event,) = list(rows_events(my_db, gtid))
    assert {c.type for c in event.columns} >= {FIELD_TYPE.DATETIME, FIELD_TYPE.TIME}
    assert RowsDecoders().rows(event) is None


def test_mysql_binary_json_is_not_compiled() -> None:
    column = Column(type=FIELD_TYPE.JSON, name="doc", length_size=4, unsigned=False)
    with pytest.raises(Unsupported):
        compile_rows([column], 1)


def test_a_table_map_without_column_names_is_not_compiled() -> None:
    column = Column(type=FIELD_TYPE.LONG, name=None, unsigned=False)
    with pytest.raises(Unsupported):
        compile_rows([column], 1)
