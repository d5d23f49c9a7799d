"""A tiny MovieLens ratings file for the recommender tests."""

from __future__ import annotations

import random
from pathlib import Path


def write_u_data(folder: Path, users: int = 40, per_user: int = 12) -> str:
    """A tiny ml-100k ``u.data``: three groups of users, each rating its own 10 of 30 films."""
    rng = random.Random(0)
    rows = [f"{u}\t{(u % 3) * 10 + rng.randrange(10) + 1}\t{rng.randint(1, 5)}\t0\n"
            for u in range(1, users + 1) for _ in range(per_user)]
    path = folder / "u.data"
    path.write_text("".join(rows))
    return f"movielens:{path}"


GROUP_GENRES = ("Action", "Comedy", "Drama")  # the genre of each group's 10 films


def write_u_item(folder: Path, films: int = 30) -> Path:
    """ml-100k's ``u.item`` for :func:`write_u_data`'s films: film ``f`` is titled ``Film f`` and
    has the genre of its group (films 1-10 Action, 11-20 Comedy, 21-30 Drama)."""
    from actsparse.zoo.ratings import U_ITEM_GENRES

    rows = []
    for f in range(1, films + 1):
        genre = GROUP_GENRES[((f - 1) // 10) % len(GROUP_GENRES)]
        flags = "|".join("1" if g == genre else "0" for g in U_ITEM_GENRES)
        rows.append(f"{f}|Film {f}|01-Jan-1995||http://example.org/{f}|{flags}\n")
    path = folder / "u.item"
    path.write_text("".join(rows), encoding="latin-1")
    return path
