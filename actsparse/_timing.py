"""Interleaved repeated timing: the one way the library, the study and the benchmarks time code.

Timing candidates alternately, within one run, exposes them to the same machine noise; the
figure to quote is the median, and a speedup is the median of per-repeat ratios.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

MAX_BLOCKS = 1000  # blocks of ``repeats`` rounds that ``min_seconds`` may add, at most


@dataclass(frozen=True)
class Timings:
    """Seconds per repeat of each timed callable, in the order they were given."""

    seconds: tuple[tuple[float, ...], ...]

    @property
    def medians(self) -> list[float]:
        """Median seconds of each callable."""
        return [statistics.median(s) for s in self.seconds]

    def ratio(self, baseline: int = 0, candidate: int = 1) -> float:
        """Median over repeats of ``baseline / candidate`` (above 1: the candidate is faster)."""
        pairs = zip(self.seconds[baseline], self.seconds[candidate], strict=True)
        return statistics.median(b / c if c > 0 else float("inf") for b, c in pairs)

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": [list(s) for s in self.seconds], "medians": self.medians}


def interleaved(fns: Sequence[Callable[[], object]], repeats: int, warmup: int = 1,
                min_seconds: float = 0.0) -> Timings:
    """Time each callable ``repeats`` times, alternating between them after ``warmup`` rounds;
    with ``min_seconds``, further blocks of ``repeats`` rounds run until that much wall time
    has passed (at most :data:`MAX_BLOCKS` blocks), so a figure is not taken from a moment of
    the machine's load only.

    Example:
        >>> t = interleaved([lambda: sum(range(2000)), lambda: None], repeats=5)
        >>> len(t.seconds), len(t.seconds[0]), t.ratio(0, 1) > 1
        (2, 5, True)
        >>> len(interleaved([lambda: None], repeats=4, min_seconds=0.01).seconds[0]) % 4
        0
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if not fns:
        raise ValueError("nothing to time: fns is empty")
    if not min_seconds >= 0:
        raise ValueError(f"min_seconds must be >= 0, got {min_seconds}")
    for _ in range(warmup):
        for fn in fns:
            fn()
    seconds: list[list[float]] = [[] for _ in fns]
    start, r = time.perf_counter(), 0
    while r < repeats or (time.perf_counter() - start < min_seconds
                          and r < repeats * MAX_BLOCKS):
        for _ in range(repeats):
            order = range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)
            for i in order:  # alternate the order so neither always runs second (warm caches)
                t0 = time.perf_counter()
                fns[i]()
                seconds[i].append(time.perf_counter() - t0)
            r += 1
    return Timings(tuple(tuple(s) for s in seconds))


def in_turns(fns: Sequence[Callable[[], object]], calls: int, repeats: int, settle: int = 1,
             warmup: int = 1, pause_s: float = 0.0) -> Timings:
    """Time each callable in turns of ``calls`` timed calls, after a pause of ``pause_s`` and
    ``settle`` untimed calls, ``repeats`` rounds with the order of the turns alternating;
    ``Timings`` holds seconds per call, the ``k``-th call of one callable paired with the
    ``k``-th of the others.

    For runtimes that keep threads spinning after a call (ONNX Runtime's spin for tens of
    milliseconds): alternating single calls would hand each runtime's spin-wait to the next
    one, so each would be slowed by the others; in turns, each runs as it would alone, and
    the pause lets the threads of the runtime before go to sleep.

    Example:
        >>> t = in_turns([lambda: sum(range(2000)), lambda: None], calls=3, repeats=2)
        >>> len(t.seconds[0]), t.ratio(0, 1) > 1
        (6, True)
    """
    if calls < 1 or repeats < 1:
        raise ValueError(f"calls and repeats must be >= 1, got {calls} and {repeats}")
    if settle < 0 or not pause_s >= 0:
        raise ValueError(f"settle and pause_s must be >= 0, got {settle} and {pause_s}")
    if not fns:
        raise ValueError("nothing to time: fns is empty")
    for fn in fns:
        with _opened(fn):
            for _ in range(warmup):
                fn()
    seconds: list[list[float]] = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else range(len(fns) - 1, -1, -1)
        for i in order:
            if pause_s:
                time.sleep(pause_s)
            with _opened(fns[i]):
                for _ in range(settle):
                    fns[i]()
                for _ in range(calls):
                    t0 = time.perf_counter()
                    fns[i]()
                    seconds[i].append(time.perf_counter() - t0)
    return Timings(tuple(tuple(s) for s in seconds))


@contextlib.contextmanager
def _opened(fn: object) -> Iterator[None]:
    """``fn.open()`` ... ``fn.close()`` where ``fn`` has them (see :func:`in_turns`)."""
    opener, closer = getattr(fn, "open", None), getattr(fn, "close", None)
    if opener is not None:
        opener()
    try:
        yield
    finally:
        if closer is not None:
            closer()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Where and when a measurement was taken: date, CPU model, cores, threads, versions.

    Example:
        >>> sorted(machine())[:3]
        ['cores', 'cpu', 'date']
    """
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
