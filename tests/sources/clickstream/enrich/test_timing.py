"""Event time corrected for the client's clock skew."""

from __future__ import annotations

from headwater.sources.clickstream.enrich.timing import corrected_ts

RECEIVED = 1_700_000_010_000


def test_skewed_client_clock_is_corrected_by_the_sent_offset() -> None:
    # the client's clock is an hour behind; the event happened 5 s before the batch was sent
    client, sent = 1_699_996_405_000, 1_699_996_410_000
    assert corrected_ts(RECEIVED, client, sent) == RECEIVED - 5_000


def test_event_queued_offline_keeps_its_age() -> None:
    day = 86_400_000
    assert corrected_ts(RECEIVED, RECEIVED - 3 * day, RECEIVED) == RECEIVED - 3 * day


def test_missing_client_clock_uses_the_received_time() -> None:
    assert corrected_ts(RECEIVED, None, None) == RECEIVED
    assert corrected_ts(RECEIVED, RECEIVED - 1_000, None) == RECEIVED
    assert corrected_ts(RECEIVED, None, RECEIVED - 1_000) == RECEIVED


def test_nothing_is_clamped() -> None:
    # sent before it happened (a broken client): reported as it comes out, not hidden
    assert corrected_ts(RECEIVED, RECEIVED, RECEIVED - 2_000) == RECEIVED + 2_000
