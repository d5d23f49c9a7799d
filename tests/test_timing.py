"""actsparse._timing.interleaved: alternation, and min_seconds adding whole blocks of rounds."""

from __future__ import annotations

import types

import pytest

from actsparse import _timing
from actsparse._timing import in_turns


class _Clock:
    """A fake ``time`` module whose clock moves only when a timed callable says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(_timing, "time", types.SimpleNamespace(perf_counter=fake.perf_counter))
    return fake


def test_min_seconds_adds_blocks_of_repeats_until_that_much_time_passed(clock: _Clock) -> None:
    order: list[str] = []

    def fn(name: str, seconds: float) -> object:
        return lambda: (order.append(name), clock.step(seconds))

    fns = [fn("a", 0.1), fn("b", 0.05)]
    t = _timing.interleaved(fns, repeats=3, warmup=0)
    assert [len(s) for s in t.seconds] == [3, 3]
    assert t.seconds[0] == pytest.approx((0.1,) * 3) and t.ratio(0, 1) == pytest.approx(2.0)
    assert order[:4] == ["a", "b", "b", "a"]  # the order alternates round by round
    # 0.15 s a round: 3 rounds (0.45 s) are short of 1 s, 9 rounds (1.35 s) are not
    t = _timing.interleaved(fns, repeats=3, warmup=0, min_seconds=1.0)
    assert [len(s) for s in t.seconds] == [9, 9]
    assert t.ratio(0, 1) == pytest.approx(2.0) and t.medians == pytest.approx([0.1, 0.05])


def test_min_seconds_is_capped(clock: _Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_timing, "MAX_BLOCKS", 4)
    t = _timing.interleaved([lambda: clock.step(1.0)], repeats=2, warmup=1, min_seconds=1e9)
    assert len(t.seconds[0]) == 2 * 4


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="repeats"):
        _timing.interleaved([lambda: None], repeats=0)
    with pytest.raises(ValueError, match="min_seconds"):
        _timing.interleaved([lambda: None], repeats=1, min_seconds=-1.0)
    with pytest.raises(ValueError, match="nothing to time"):
        _timing.interleaved([], repeats=1)


def test_in_turns_runs_each_in_turns_after_untimed_settling_calls() -> None:
    log: list[str] = []
    fns = [lambda: log.append("a"), lambda: log.append("b")]
    t = in_turns(fns, calls=3, repeats=2, settle=1, warmup=1)
    assert [len(s) for s in t.seconds] == [6, 6]
    # warm-up a b; round 0: a's turn then b's; round 1: the other way round
    assert "".join(log) == "ab" + "aaaa" + "bbbb" + "bbbb" + "aaaa"


def test_in_turns_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="calls and repeats"):
        in_turns([lambda: None], calls=0, repeats=1)
    with pytest.raises(ValueError, match="settle and pause_s"):
        in_turns([lambda: None], calls=1, repeats=1, settle=-1)
    with pytest.raises(ValueError, match="empty"):
        in_turns([], calls=1, repeats=1)


class _Session:
    """A runtime that exists only between open() and close(), logging all three."""

    def __init__(self, log: list[str]) -> None:
        self.log, self.live = log, False

    def open(self) -> None:
        self.live = True
        self.log.append("[")

    def close(self) -> None:
        self.live = False
        self.log.append("]")

    def __call__(self) -> None:
        assert self.live, "called while closed"
        self.log.append("s")


def test_in_turns_opens_a_runtime_for_its_own_turns_only() -> None:
    log: list[str] = []
    session = _Session(log)
    t = in_turns([lambda: log.append("a"), session], calls=2, repeats=2, settle=1, warmup=1)
    assert [len(s) for s in t.seconds] == [2 * 2, 2 * 2]
    assert "".join(log) == "a" + "[s]" + "aaa" + "[sss]" + "[sss]" + "aaa"
    assert not session.live
