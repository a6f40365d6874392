"""EventIdDeduplicator: ids seen within the window are duplicates; memory stays bounded."""

from __future__ import annotations

import pytest

from headwater.sources.clickstream.parse import EventIdDeduplicator

WINDOW_MS = 600_000
BUCKET_MS = WINDOW_MS // 8


def test_second_sighting_within_the_window_is_a_duplicate():
    dedup = EventIdDeduplicator(600, 1000)
    assert dedup.seen_or_add("a", 0) is False
    assert dedup.seen_or_add("a", 1) is True
    assert dedup.seen_or_add("b", 1) is False
    assert dedup.seen_or_add("a", WINDOW_MS - 1) is True


def test_id_is_remembered_at_least_the_window_and_at_most_one_bucket_more():
    for added in (0, BUCKET_MS - 1):  # at the start and at the end of a bucket
        dedup = EventIdDeduplicator(600, 1000)
        dedup.seen_or_add("a", added)
        assert "a" in dedup
        dedup.seen_or_add("tick", added + WINDOW_MS)
        assert "a" in dedup, "forgotten before the window passed"
        dedup.seen_or_add("tick2", (added // BUCKET_MS + 1) * BUCKET_MS + WINDOW_MS)
        assert "a" not in dedup, "remembered past the window plus one bucket"
        assert dedup.seen_or_add("a", added + 2 * WINDOW_MS) is False


def test_seeing_an_id_again_does_not_extend_its_window():
    dedup = EventIdDeduplicator(600, 1000)
    dedup.seen_or_add("a", 0)
    assert dedup.seen_or_add("a", WINDOW_MS - 1) is True
    assert dedup.seen_or_add("a", WINDOW_MS + BUCKET_MS) is False


def test_memory_is_bounded_by_max_ids_forgetting_the_oldest_first():
    dedup = EventIdDeduplicator(600, 100)
    for i in range(250):
        assert dedup.seen_or_add(f"id{i}", i * 1000) is False
    assert len(dedup) == 100
    assert "id149" not in dedup and "id150" in dedup and "id249" in dedup


def test_bound_holds_within_one_bucket_and_its_list_is_compacted():
    dedup = EventIdDeduplicator(600, 10)
    for i in range(100_000):
        dedup.seen_or_add(str(i), 5)
    assert len(dedup) == 10
    assert all(str(i) in dedup for i in range(99_990, 100_000))
    assert sum(len(ids) for _, ids in dedup._buckets) < 3000  # not 100,000


def test_forget_lets_a_retry_through():
    dedup = EventIdDeduplicator(600, 1000)
    dedup.seen_or_add("a", 0)
    dedup.forget("a")
    dedup.forget("never-seen")
    assert dedup.seen_or_add("a", 10) is False
    assert dedup.seen_or_add("a", 20) is True


def test_forgotten_and_re_added_id_expires_from_its_new_bucket():
    dedup = EventIdDeduplicator(600, 1000)
    dedup.seen_or_add("a", 0)
    dedup.forget("a")
    dedup.seen_or_add("a", 3 * BUCKET_MS)
    dedup.seen_or_add("tick", WINDOW_MS + BUCKET_MS)  # the first bucket expires
    assert "a" in dedup


def test_a_clock_going_back_keeps_adding_to_the_newest_bucket():
    dedup = EventIdDeduplicator(600, 1000)
    dedup.seen_or_add("late", 10 * BUCKET_MS)
    assert dedup.seen_or_add("early", 0) is False
    assert dedup.seen_or_add("early", 5) is True
    dedup.seen_or_add("tick", 10 * BUCKET_MS + WINDOW_MS)
    assert "early" in dedup  # counted from the newest bucket, not expired early
    dedup.seen_or_add("tick", 12 * BUCKET_MS + WINDOW_MS)
    assert "early" not in dedup


@pytest.mark.parametrize(("window_s", "max_ids"), [(0, 10), (10, 0), (-1, 10)])
def test_nonsense_settings_are_refused(window_s, max_ids):
    with pytest.raises(ValueError):
        EventIdDeduplicator(window_s, max_ids)
