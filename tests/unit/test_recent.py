"""The one bounded memory of keys seen lately (`shared.recent.Recent`): the verifier's duplicate
window, the downloader's and the poller's faxes announced lately."""

from __future__ import annotations

import pytest

from shared.recent import Recent


def test_a_key_is_seen_until_its_time_is_over() -> None:
    recent: Recent[str] = Recent(seconds=10)
    recent.remember("a", now=100)
    assert recent.seen("a", now=109.9)
    assert not recent.seen("a", now=110)
    assert not recent.seen("b", now=100)


def test_any_of_several_keys_seen_is_seen() -> None:
    recent: Recent[str] = Recent(seconds=10)
    recent.remember("fax:1", now=0)
    assert recent.seen("notification:9", "fax:1", now=1)
    assert not recent.seen("notification:9", "fax:2", now=1)


def test_remembering_again_renews_a_key() -> None:
    recent: Recent[str] = Recent(seconds=10)
    recent.remember("a", now=0)
    recent.remember("a", now=8)
    assert recent.seen("a", now=15)


def test_the_oldest_key_is_forgotten_first_past_the_size() -> None:
    recent: Recent[str] = Recent(size=2)
    recent.remember("a", "b", now=0)
    recent.remember("a", now=1)  # renewed: now b is the oldest
    recent.remember("c", now=2)
    assert "a" in recent
    assert "b" not in recent
    assert "c" in recent
    assert len(recent) == 2


def test_keys_past_their_time_are_dropped_so_memory_follows_the_window() -> None:
    recent: Recent[str] = Recent(seconds=10)
    recent.remember(*(str(i) for i in range(1000)), now=0)
    recent.remember("late", now=20)
    assert len(recent) == 1


def test_the_clock_is_read_when_no_time_is_given() -> None:
    now = [0.0]
    recent: Recent[int] = Recent(seconds=5, clock=lambda: now[0])
    recent.remember(1)
    now[0] = 6
    assert 1 not in recent


def test_a_recent_without_any_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        Recent()
