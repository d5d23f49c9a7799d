"""Ratings data: MovieLens-100K from the ``recbole`` wheel, and the standard MovieLens files.

Raw user and item ids are re-numbered ``0 .. n-1`` in the order of their first appearance
sorted by raw id, so the same file always gives the same matrix. Genres are read where the
file set has them (RecBole's ``.item``, ml-100k's ``u.item``, ml-1m's ``movies.dat``, ml-20m's
``movies.csv``, beside the ratings), with the titles; the recommender protocol does not use them
(the study's interpretability measures do).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from actsparse.zoo.assets import PipAsset
from actsparse.zoo.errors import DataFormatError

RECBOLE = PipAsset("recbole", "recbole==1.2.1", "the MovieLens-100K data set", no_deps=True)
ML100K = "dataset_example/ml-100k/ml-100k"


@dataclass
class Ratings:
    """One row per (user, item) rating, with users and items numbered from 0.

    Attributes:
        users, items: int64 ``(N,)`` indices in ``[0, num_users)``, ``[0, num_items)``.
        ratings: float32 ``(N,)``, the explicit rating (the protocol treats every row as an
            interaction, whatever its value).
        num_users, num_items: sizes of the user-item matrix.
        name: where the data came from.
        item_ids: the raw item id of each item index (strings, as in the file).
        genres: each item's genres where known (an empty list otherwise).
        titles: each item's title where known (an empty list otherwise).

    Example:
        >>> import numpy as np
        >>> r = Ratings(np.array([0, 1]), np.array([2, 0]), np.array([4.0, 5.0]), 2, 3, "toy")
        >>> len(r), r.kind, r.num_items
        (2, 'ratings', 3)
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    num_users: int
    num_items: int
    name: str = ""
    item_ids: list[str] = field(default_factory=list)
    genres: list[list[str]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    kind = "ratings"

    def __len__(self) -> int:
        return int(self.users.shape[0])


def _number(raw: list[str]) -> tuple[np.ndarray, list[str]]:
    """Raw ids to ``0 .. n-1`` (sorted numerically where they are all integers)."""
    unique = sorted(set(raw), key=lambda s: (int(s), s) if s.isdigit() else (1 << 62, s))
    index = {s: i for i, s in enumerate(unique)}
    return np.fromiter((index[s] for s in raw), dtype=np.int64, count=len(raw)), unique


def _rows(path: Path) -> list[list[str]]:
    """The (user, item, rating) text fields of every row of a MovieLens ratings file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataFormatError(f"{path}: the ratings file is empty")
    first = lines[0]
    if "::" in first:  # ratings.dat of ml-1m / ml-10m: user::item::rating::time
        return [line.split("::")[:3] for line in lines]
    if first.startswith("user_id:token"):  # RecBole .inter: a typed header, tab-separated
        header = first.split("\t")
        cols = [next((i for i, h in enumerate(header) if h.startswith(name)), -1)
                for name in ("user_id:", "item_id:", "rating:")]
        if min(cols) < 0:
            raise DataFormatError(f"{path}: the .inter header lacks user_id, item_id or rating: "
                                  f"{first!r}")
        return [[fields[c] for c in cols] for fields in (line.split("\t") for line in lines[1:])]
    if "," in first:  # ratings.csv of ml-20m / ml-latest: userId,movieId,rating,timestamp
        rows = list(csv.reader(lines))
        return [r[:3] for r in (rows[1:] if not rows[0][0].strip().isdigit() else rows)]
    return [line.split()[:3] for line in lines]  # u.data of ml-100k: tab-separated, no header


def read_ratings(path: str | Path) -> Ratings:
    """Read ``u.data``, ``ratings.dat`` (``::``), ``ratings.csv`` (header) or RecBole ``.inter``.

    A folder is searched for one of those names.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "ratings.dat"
        >>> _ = p.write_text("1::10::5::978300760\\n2::10::3::978302109\\n1::7::4::978301968\\n")
        >>> r = read_ratings(p)
        >>> r.num_users, r.num_items, r.items.tolist(), r.item_ids
        (2, 2, [1, 1, 0], ['7', '10'])
    """
    path = Path(path).expanduser()
    if path.is_dir():
        names = ("ratings.dat", "ratings.csv", "u.data")
        found = [path / n for n in names if (path / n).is_file()] + sorted(path.glob("*.inter"))
        if not found:
            raise DataFormatError(f"{path}: no ratings file in the folder; expected one of "
                                  f"{', '.join(names)} or a RecBole *.inter")
        path = found[0]
    if not path.is_file():
        raise DataFormatError(f"{path}: no such ratings file")
    rows = _rows(path)
    bad = next((r for r in rows if len(r) < 3), None)
    if bad is not None:
        raise DataFormatError(f"{path}: a row with fewer than 3 fields (user, item, rating): {bad}")
    users, _ = _number([r[0].strip() for r in rows])
    items, item_ids = _number([r[1].strip() for r in rows])
    try:
        values = np.array([float(r[2]) for r in rows], dtype=np.float32)
    except ValueError as err:
        raise DataFormatError(f"{path}: a rating is not a number ({err})") from None
    data = Ratings(users, items, values, int(users.max()) + 1, len(item_ids), str(path), item_ids)
    meta = read_items(path.parent, item_ids)
    if meta is not None:
        data.titles, data.genres = meta
    return data


# ml-100k's u.item: id|title|release|video release|IMDb URL|19 genre flags, in this order
U_ITEM_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")


def _item_rows(folder: Path) -> dict[str, tuple[str, list[str]]] | None:
    """``{raw item id: (title, genres)}`` from the first item file found in ``folder``."""
    for name in ("u.item", "movies.dat", "movies.csv"):
        file = folder / name
        if not file.is_file():
            continue
        lines = [x for x in file.read_text(encoding="latin-1").splitlines() if x.strip()]
        if name == "u.item":
            rows = [x.split("|") for x in lines]
            return {r[0]: (r[1], [g for g, f in zip(U_ITEM_GENRES, r[5:], strict=False)
                                  if f.strip() == "1"]) for r in rows if len(r) >= 6}
        if name == "movies.dat":
            rows = [x.split("::") for x in lines]
            return {r[0]: (r[1], r[2].split("|")) for r in rows if len(r) >= 3}
        rows = list(csv.reader(lines))[1:]  # movieId,title,genres
        return {r[0]: (r[1], [g for g in r[2].split("|") if g != "(no genres listed)"])
                for r in rows if len(r) >= 3}
    inter = sorted(folder.glob("*.item"))
    if inter:
        return _recbole_items(inter[0])
    return None


def read_items(folder: str | Path, item_ids: list[str]
               ) -> tuple[list[str], list[list[str]]] | None:
    """Titles and genres of ``item_ids`` from the item file in ``folder`` (None when none).

    The item file is ml-100k's ``u.item``, ml-1m's ``movies.dat``, ml-20m's ``movies.csv`` or
    RecBole's ``.item``; an id it does not list gets its id as title and no genres.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "movies.dat").write_text("7::Heat (1995)::Action|Crime\\n")
        >>> read_items(d, ["7", "9"])
        (['Heat (1995)', '9'], [['Action', 'Crime'], []])
    """
    rows = _item_rows(Path(folder))
    if rows is None:
        return None
    return ([rows[i][0] if i in rows else i for i in item_ids],
            [list(rows[i][1]) if i in rows else [] for i in item_ids])


def _recbole_items(path: Path) -> dict[str, tuple[str, list[str]]]:
    """``{raw id: (title, genres)}`` from a RecBole ``.item`` file (``movie_title``, ``class``)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = lines[0].split("\t")
    col = next(i for i, h in enumerate(header) if h.startswith("class:"))
    title = next((i for i, h in enumerate(header) if h.startswith("movie_title:")), 0)
    return {f[0]: (f[title], f[col].split())
            for f in (line.split("\t") for line in lines[1:] if line) if len(f) > col}


def movielens_100k() -> Ratings:
    """MovieLens-100K: 100,000 ratings of 1,682 films by 943 users (from the ``recbole`` wheel).

    Only the data files are read; RecBole's code is never imported.

    Example:
        >>> r = movielens_100k()  # doctest: +SKIP
        >>> r.num_users, r.num_items, len(r), r.genres[0]  # doctest: +SKIP
        (943, 1682, 100000, ['Animation', "Children's", 'Comedy'])
    """
    data = read_ratings(RECBOLE.file(ML100K + ".inter"))
    data.name = "movielens-100k"
    items = _recbole_items(RECBOLE.file(ML100K + ".item"))
    data.genres = [list(items[i][1]) if i in items else [] for i in data.item_ids]
    data.titles = [items[i][0] if i in items else i for i in data.item_ids]
    return data


def load_ratings(spec: str | Path) -> Ratings:
    """Ratings by name: ``movielens-100k``, or ``movielens:PATH`` (a file or folder), or a path.

    Example:
        >>> load_ratings("movielens:/nonexistent/ratings.dat")
        Traceback (most recent call last):
        ...
        actsparse.zoo.errors.DataFormatError: /nonexistent/ratings.dat: no such ratings file
    """
    name = str(spec)
    if name == "movielens-100k":
        return movielens_100k()
    return read_ratings(name.removeprefix("movielens:"))


def is_ratings_name(spec: str | Path) -> bool:
    """Whether a ``--data`` name asks for ratings: ``movielens-100k`` or ``movielens:PATH``.

    Example:
        >>> is_ratings_name("movielens:ml-1m/ratings.dat"), is_ratings_name("mnist")
        (True, False)
    """
    name = str(spec)
    return name == "movielens-100k" or name.startswith("movielens:")
