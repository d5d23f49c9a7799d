"""Progress bars: rich when it is installed (the ``cli`` extra), otherwise a plain line or nothing.

Two shapes cover every use: :func:`track` wraps an iterable (profiling, interpreting), and
:class:`Bars` holds one or more bars advanced by hand with live fields such as the loss
(training epochs, SAE steps). Without rich, :func:`track` shows nothing and :class:`Bars`
prints one plain line to stderr when a bar finishes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")


def rich_available() -> bool:
    """True when ``rich`` can be imported.

    Example:
        >>> isinstance(rich_available(), bool)
        True
    """
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def track(items: Iterable[T], description: str, total: int | None = None,
          enabled: bool = True) -> Iterable[T]:
    """``items`` unchanged, with a transient progress bar while they are consumed.

    ``total`` defaults to ``len(items)`` when it has one. Without rich (or with
    ``enabled=False``) the items come back as they are and nothing is shown.

    Example:
        >>> list(track(range(3), "counting", enabled=False))
        [0, 1, 2]
    """
    if not enabled or not rich_available():
        return items
    from rich.progress import track as rich_track

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    return rich_track(items, description=description, total=total, transient=True)


class Bars:
    """A group of progress bars, each with a description, a total and live ``fields``.

    ``fields`` is a format string over the keyword values given to :meth:`add` and
    :meth:`update`, e.g. ``"loss {loss:.4f}"``. Without rich (or when not ``enabled``) nothing
    is drawn; without rich an enabled group prints ``description: done/total fields`` to stderr
    when a bar reaches its total.

    Example:
        >>> with Bars("loss {loss:.2f}", enabled=False) as bars:
        ...     task = bars.add("epoch 1/1", total=2, loss=float("nan"))
        ...     bars.update(task, advance=1, loss=0.5)
    """

    def __init__(self, fields: str = "", enabled: bool = True) -> None:
        self.fields = fields
        self.enabled = enabled
        self._rich: Any = None
        self._plain: list[dict[str, Any]] = []

    def __enter__(self) -> Bars:
        if self.enabled and rich_available():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn()]
            if self.fields:  # "{loss:.4f}" -> "{task.fields[loss]:.4f}", rich's spelling
                columns.append(TextColumn(re.sub(r"\{(\w+)", r"{task.fields[\1]", self.fields)))
            self._rich = Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn())
            self._rich.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.__exit__(kind, err, tb)
            self._rich = None

    def add(self, description: str, total: int, **values: Any) -> int:
        """Start a bar; return its id for :meth:`update`."""
        if self._rich is not None:
            return int(self._rich.add_task(description, total=total, **values))
        self._plain.append({"description": description, "total": total, "done": 0,
                            "values": dict(values), "shown": False})
        return len(self._plain) - 1

    def update(self, task: int, *, advance: int | None = None, completed: int | None = None,
               **values: Any) -> None:
        """Move bar ``task`` on by ``advance`` steps or to ``completed``; set field values."""
        if self._rich is not None:
            self._rich.update(task, advance=advance, completed=completed, **values)
            return
        bar = self._plain[task]
        bar["done"] = completed if completed is not None else bar["done"] + (advance or 0)
        bar["values"].update(values)
        if self.enabled and not bar["shown"] and bar["done"] >= bar["total"]:
            bar["shown"] = True
            fields = self.fields.format(**bar["values"]) if self.fields else ""
            line = f"{bar['description']}: {bar['done']}/{bar['total']} {fields}".rstrip()
            print(line, file=sys.stderr, flush=True)

