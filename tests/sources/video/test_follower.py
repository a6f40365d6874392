"""The follower state machine: every sequence out once, gaps named, reload timing, stalls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from headwater.sources.video.follower import Follower, Gap, Restart
from headwater.sources.video.playlist import MediaPlaylist, MediaSegment


def window(first: int, count: int, target: float = 2.0, **kw: object) -> MediaPlaylist:
    segments = tuple(MediaSegment(s, f"{s}.ts", target) for s in range(first, first + count))
    return MediaPlaylist(target, first, segments, **kw)  # type: ignore[arg-type]


def sequences(items: tuple[object, ...]) -> list[int]:
    out: list[int] = []
    for item in items:
        assert not isinstance(item, Restart)
        out.extend(item.sequences if isinstance(item, Gap) else [item.sequence])  # type: ignore[attr-defined]
    return out


def test_first_load_fetches_the_whole_window_then_only_new_segments() -> None:
    f = Follower()
    step = f.on_playlist(window(5, 3), now=0.0)
    assert sequences(step.items) == [5, 6, 7]
    step = f.on_playlist(window(6, 3), now=2.0)
    assert sequences(step.items) == [8]
    assert f.next_sequence == 9


def test_segments_that_left_the_window_become_one_gap_with_their_numbers() -> None:
    f = Follower()
    f.on_playlist(window(0, 3), now=0.0)  # 0..2
    step = f.on_playlist(window(7, 3), now=20.0)  # 3..6 left unseen
    assert step.items[0] == Gap(3, 6, "left_playlist")
    assert sequences(step.items) == [3, 4, 5, 6, 7, 8, 9]


def test_resume_from_a_stored_position_repeats_nothing() -> None:
    f = Follower(next_sequence=8)
    step = f.on_playlist(window(6, 4), now=0.0)
    assert sequences(step.items) == [8, 9]


def test_resume_after_the_window_moved_on_reports_the_gap() -> None:
    step = Follower(next_sequence=2).on_playlist(window(6, 3), now=0.0)
    assert step.items[0] == Gap(2, 5, "left_playlist")


def test_gap_tagged_segments_are_gaps_and_adjacent_ones_merge() -> None:
    segments = tuple(MediaSegment(s, f"{s}.ts", 2.0, gap=s in (1, 2)) for s in range(4))
    step = Follower().on_playlist(MediaPlaylist(2.0, 0, segments), now=0.0)
    assert [type(i).__name__ for i in step.items] == ["MediaSegment", "Gap", "MediaSegment"]
    assert step.items[1] == Gap(1, 2, "gap_tag")


def test_reload_after_target_duration_when_changed_half_when_unchanged() -> None:
    f = Follower()
    assert f.on_playlist(window(0, 3, target=4.0), now=0.0).reload_in_s == 4.0
    assert f.on_playlist(window(0, 3, target=4.0), now=4.0).reload_in_s == 2.0
    assert f.on_playlist(window(1, 3, target=4.0), now=6.0).reload_in_s == 4.0


def test_stall_reported_once_then_backoff_then_recovery() -> None:
    f = Follower(stall_after=3.0, max_backoff_s=8.0)
    f.on_playlist(window(0, 3), now=0.0)
    now, stalls, delays = 0.0, 0, []
    for _ in range(12):
        now += 1.0
        step = f.on_playlist(window(0, 3), now=now)
        stalls += step.stalled
        delays.append(step.reload_in_s)
    assert stalls == 1 and f.stalled
    assert delays[0] == 1.0 and max(delays) == 8.0  # half the target, then growing to the cap
    assert delays == sorted(delays)
    step = f.on_playlist(window(1, 3), now=now + 1)
    assert step.recovered and not f.stalled and sequences(step.items) == [3]


def test_endlist_stops_reloading_after_the_last_segment() -> None:
    f = Follower()
    step = f.on_playlist(window(0, 2, ended=True), now=0.0)
    assert sequences(step.items) == [0, 1] and step.reload_in_s is None and f.ended


def test_errors_back_off_exponentially_to_the_cap_and_reset_on_success() -> None:
    f = Follower(error_backoff_s=0.5, max_backoff_s=4.0)
    assert [f.on_error() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    f.on_playlist(window(0, 1), now=0.0)
    assert f.on_error() == 0.5


def test_an_older_copy_of_the_playlist_changes_nothing_and_is_reported() -> None:
    f = Follower()
    f.on_playlist(window(5, 5), now=0.0)  # 5..9
    step = f.on_playlist(window(3, 5), now=2.0)  # 3..7: a lagging cache, same URIs
    assert step.items == () and "before our position 10" in (step.problem or "")
    assert "older copy" in (step.problem or "") and f.next_sequence == 10 and f.epoch == 0
    assert sequences(f.on_playlist(window(7, 5), now=4.0).items) == [10, 11]


def test_a_numbering_restart_starts_a_new_epoch_and_keeps_following() -> None:
    f = Follower()
    f.on_playlist(window(30, 8), now=0.0)  # 30..37, position 38
    step = f.on_playlist(window(0, 2), now=2.0)  # the encoder restarted with -start_number 0
    restart = step.items[0]
    assert isinstance(restart, Restart) and step.problem is None
    assert (restart.epoch, restart.first, restart.previous_next) == (1, 0, 38)
    assert "more than a window" in restart.reason
    assert sequences(step.items[1:]) == [0, 1] and f.epoch == 1 and f.next_sequence == 2
    assert sequences(f.on_playlist(window(0, 3), now=4.0).items) == [2]


def test_a_resumed_follower_whose_origin_restarted_meanwhile_starts_a_new_epoch() -> None:
    f = Follower(next_sequence=100, epoch=2)  # the stored position
    step = f.on_playlist(window(0, 3), now=0.0)
    assert isinstance(step.items[0], Restart) and step.items[0].epoch == 3
    assert sequences(step.items[1:]) == [0, 1, 2] and f.epoch == 3


def test_a_small_drop_is_a_restart_when_a_known_sequence_has_another_uri() -> None:
    f = Follower()
    f.on_playlist(window(5, 3), now=0.0)  # 5..7 as 5.ts, 6.ts, 7.ts
    fresh = tuple(MediaSegment(s, f"run2-{s}.ts", 2.0) for s in (5, 6))
    step = f.on_playlist(MediaPlaylist(2.0, 5, fresh), now=2.0)
    assert isinstance(step.items[0], Restart) and "'run2-5.ts', was '5.ts'" in step.items[0].reason
    assert sequences(step.items[1:]) == [5, 6] and f.epoch == 1


def test_a_small_drop_is_a_restart_when_the_discontinuity_sequence_went_up() -> None:
    f = Follower()
    f.on_playlist(window(5, 3, discontinuity_sequence=4), now=0.0)
    step = f.on_playlist(window(5, 2, discontinuity_sequence=5), now=2.0)
    assert isinstance(step.items[0], Restart) and "discontinuity sequence 5" in step.items[0].reason


def test_a_small_drop_is_a_restart_when_its_program_date_times_are_newer() -> None:
    def timed(first: int, count: int, start: datetime) -> MediaPlaylist:
        segments = tuple(
            MediaSegment(s, f"{s}.ts", 2.0, program_date_time=start + timedelta(seconds=2 * i))
            for i, s in enumerate(range(first, first + count))
        )
        return MediaPlaylist(2.0, first, segments)

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    f = Follower()
    f.on_playlist(timed(5, 3, t0), now=0.0)  # up to t0 + 4 s
    older = f.on_playlist(timed(4, 3, t0 - timedelta(seconds=2)), now=1.0)  # a cache's copy
    assert older.items == () and older.problem
    step = f.on_playlist(timed(5, 2, t0 + timedelta(seconds=60)), now=2.0)
    assert isinstance(step.items[0], Restart) and "program date-times" in step.items[0].reason
