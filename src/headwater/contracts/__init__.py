"""Contracts between the parts: what producers write and consumers read, defined once.

    topics.py       every topic name (constants, and functions for the parametrised ones)
    clickstream.py  the enriched clickstream event (`ClickEvent`) as typed dicts
    arrow.py        its Arrow schema, derived from those typed dicts (the lake table's columns)
    cdc.py          the Debezium-compatible change envelope: field names, op codes, value typing
    positions.py    the records of `_headwater.positions`: keys and values for CDC and video

Both ends import from here; no other module of `src/` spells a topic name
(`tests/contracts/test_no_topic_literals.py` keeps it so). Nothing here does I/O.
"""
