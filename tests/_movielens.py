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
