"""Access rules as plain functions: allow-lists, maintainers, and the per-user question limit."""

from __future__ import annotations

from bot.access import RateLimiter, Verdict, chat_allowed, is_maintainer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_empty_allow_list_allows_every_chat():
    assert chat_allowed(frozenset(), -100)
    assert chat_allowed(frozenset({-100}), -100)
    assert not chat_allowed(frozenset({-100}), -200)


def test_maintainers_are_listed_users_only():
    assert is_maintainer(frozenset({7}), 7)
    assert not is_maintainer(frozenset({7}), 8)
    assert not is_maintainer(frozenset({7}), None)


def test_rate_limit_notices_once_then_stays_silent_until_the_window_passes():
    clock = Clock()
    limiter = RateLimiter(limit=3, window=60, clock=clock)
    assert [limiter.check(1) for _ in range(3)] == [Verdict.ANSWER] * 3
    assert limiter.check(1) == Verdict.NOTICE
    assert limiter.check(1) == Verdict.SILENT
    assert limiter.check(2) == Verdict.ANSWER  # other users are unaffected
    assert limiter.retry_in(1) == 60
    clock.now += 61
    assert limiter.check(1) == Verdict.ANSWER


def test_zero_limit_means_unlimited():
    limiter = RateLimiter(limit=0)
    assert all(limiter.check(1) == Verdict.ANSWER for _ in range(100))
