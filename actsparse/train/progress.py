"""A rich progress bar over the steps of each epoch, showing the running loss."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class EpochBar:
    """One bar per epoch; ``start`` returns the callback to advance it by one step.

    Example:
        >>> with EpochBar(enabled=False) as bar:
        ...     advance = bar.start(1, 2, examples=10, batch_size=4)
        ...     advance(0.5)
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None

    def __enter__(self) -> EpochBar:
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            self._progress.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(kind, err, tb)
            self._progress = None

    def start(self, epoch: int, epochs: int, examples: int,
              batch_size: int) -> Callable[[float], None]:
        """Add the bar of ``epoch`` (1-based) of ``epochs``; return ``advance(loss)``."""
        progress = self._progress
        if progress is None:
            return lambda loss: None
        task = progress.add_task(f"epoch {epoch}/{epochs}", total=math.ceil(examples / batch_size),
                                 loss=float("nan"))

        def advance(loss: float) -> None:
            progress.update(task, advance=1, loss=loss)

        return advance
