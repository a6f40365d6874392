"""Rule: topic names are spelled in `headwater.contracts.topics` only; the rest of src/ imports.

Scans every module's string constants and f-string heads (docstrings excepted: they may name
topics to explain them) for something shaped like a topic name of ours.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import headwater

SRC = Path(headwater.__file__).parent
#: A whole string that is, or an f-string that starts like, one of our topic names.
TOPIC = re.compile(
    r"^(clickstream|cdc|video|feeds|crawl|files)\.[A-Za-z0-9_.{}<>-]*$|^_headwater\."
)


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def topic_literals(root: Path) -> list[str]:
    """`path:line: text` of each topic-name literal under `root`, outside `contracts/`."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if (root / "contracts") in path.parents:
            continue
        tree = ast.parse(path.read_text(), str(path))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                text = head.value if isinstance(head, ast.Constant) else ""
                for part in node.values:  # its constant parts are visited as Constants too
                    skip.add(id(part))
            elif isinstance(node, ast.Constant) and id(node) not in skip:
                text = node.value
            else:
                continue
            if isinstance(text, str) and TOPIC.match(text):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {text!r}")
    return found


def test_no_topic_name_is_spelled_outside_the_contracts(tmp_path: Path) -> None:
    assert topic_literals(SRC) == []


def test_the_scan_finds_literals_f_strings_and_the_positions_topic(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "topics.py").write_text('EVENTS = "clickstream.events"\n')
    (tmp_path / "bad.py").write_text(
        '"""Writes to clickstream.events (a docstring may say so)."""\n'
        'A = "clickstream.events"\n'
        'B = f"cdc.{source}.schema"\n'
        'C = "_headwater.positions"\n'
        'D = ("video.segments",)\n'
        'E = "headwater.video"  # a logger name\n'
        'F = b"video.segment/1"  # a schema id, bytes\n'
        'G = "clickstream_events"  # a table name\n'
    )
    assert topic_literals(tmp_path) == [
        "bad.py:2: 'clickstream.events'",
        "bad.py:3: 'cdc.'",
        "bad.py:4: '_headwater.positions'",
        "bad.py:5: 'video.segments'",
    ]
