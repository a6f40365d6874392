"""new_event_id: canonical uuid4 strings, distinct, and never shared with a forked child."""

from __future__ import annotations

import os
import uuid

from headwater.sources.clickstream.parse.ids import new_event_id


def test_ids_are_distinct_canonical_uuid4s():
    ids = [new_event_id() for _ in range(1000)]  # more than one pool
    assert len(set(ids)) == 1000
    for i in ids:
        assert uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i


def test_a_forked_child_does_not_repeat_the_parents_pooled_ids():
    new_event_id()  # the pool now holds ids the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_event_id().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_id != new_event_id()
    assert uuid.UUID(child_id).version == 4
