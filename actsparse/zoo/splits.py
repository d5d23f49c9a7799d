"""Deterministic held-out splits, shared by the named data sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def check_split(dataset: str, split: str, splits: Sequence[str]) -> None:
    """Raise a ValueError naming the valid splits when ``split`` is not one of them.

    Example:
        >>> check_split("digits", "val", ("train", "test"))
        Traceback (most recent call last):
        ...
        ValueError: data set 'digits' has no split 'val'; choose one of: train, test
    """
    if split not in splits:
        raise ValueError(f"data set {dataset!r} has no split {split!r}; "
                         f"choose one of: {', '.join(splits)}")


def every_nth(items: Sequence[T], split: str, n: int) -> list[T]:
    """Every ``n``-th item (index 0, n, 2n, ...) is 'test'; the rest are 'train'.

    Example:
        >>> every_nth(list(range(7)), "test", 3), every_nth(list(range(7)), "train", 3)
        ([0, 3, 6], [1, 2, 4, 5])
    """
    if split == "test":
        return [x for i, x in enumerate(items) if i % n == 0]
    return [x for i, x in enumerate(items) if i % n != 0]
