"""Ratings loaders: each MovieLens file format, folders, errors, and the packaged ml-100k."""

from __future__ import annotations

from pathlib import Path

import pytest
from _movielens import write_u_data, write_u_item

from actsparse.zoo.errors import DataFormatError
from actsparse.zoo.ratings import RECBOLE, load_ratings, movielens_100k, read_items, read_ratings

try:
    RECBOLE.folder()
    HAVE_RECBOLE = True
except ImportError:
    HAVE_RECBOLE = False

# Three ratings: user 7 rates items 20 and 3, user 2 rates item 20.
FORMATS = {
    "u.data": "7\t20\t4\t881250949\n7\t3\t2\t881250950\n2\t20\t5\t881250951\n",
    "ratings.dat": "7::20::4::978300760\n7::3::2::978300761\n2::20::5::978300762\n",
    "ratings.csv": "userId,movieId,rating,timestamp\n7,20,4.0,1\n7,3,2.0,2\n2,20,5.0,3\n",
    "toy.inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                 "7\t20\t4\t1\n7\t3\t2\t2\n2\t20\t5\t3\n",
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_reads_the_same_ratings(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(FORMATS[name])
    r = read_ratings(path)
    assert (r.num_users, r.num_items, len(r)) == (2, 2, 3)
    assert r.item_ids == ["3", "20"]  # numbered in raw-id order, numerically
    # users renumbered: raw 2 -> 0, raw 7 -> 1
    assert list(zip(r.users.tolist(), r.items.tolist(), r.ratings.tolist(), strict=True)) == [
        (1, 1, 4.0), (1, 0, 2.0), (0, 1, 5.0)]


def test_folder_and_movielens_prefix(tmp_path: Path) -> None:
    (tmp_path / "ratings.dat").write_text(FORMATS["ratings.dat"])
    assert len(load_ratings(f"movielens:{tmp_path}")) == 3
    assert read_ratings(tmp_path).num_items == 2


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no ratings file in the folder"):
        read_ratings(tmp_path)
    bad = tmp_path / "u.data"
    bad.write_text("1\t2\tgood\n")
    with pytest.raises(DataFormatError, match="u.data: a rating is not a number"):
        read_ratings(bad)


@pytest.mark.skipif(not HAVE_RECBOLE, reason="recbole not installed (pip install --no-deps "
                                             "recbole==1.2.1): it ships the ml-100k files")
def test_movielens_100k_sizes_and_genres() -> None:
    r = load_ratings("movielens-100k")
    assert (r.num_users, r.num_items, len(r)) == (943, 1682, 100_000)
    assert r.ratings.min() == 1.0 and r.ratings.max() == 5.0
    assert r.genres[0] == ["Animation", "Children's", "Comedy"]  # Toy Story, item id 1
    assert r.titles[:2] == ["Toy Story", "GoldenEye"]
    assert movielens_100k().name == "movielens-100k"


def test_u_item_beside_u_data_gives_titles_and_genres(tmp_path: Path) -> None:
    spec = write_u_data(tmp_path)
    write_u_item(tmp_path)
    r = load_ratings(spec)
    by_id = dict(zip(r.item_ids, zip(r.titles, r.genres, strict=True), strict=True))
    assert by_id["3"] == ("Film 3", ["Action"]) and by_id["25"] == ("Film 25", ["Drama"])


def test_no_item_file_means_no_titles_or_genres(tmp_path: Path) -> None:
    r = load_ratings(write_u_data(tmp_path))
    assert r.titles == [] and r.genres == []


def test_movies_csv_genres_leave_out_no_genres_listed(tmp_path: Path) -> None:
    (tmp_path / "movies.csv").write_text('movieId,title,genres\n1,"Heat, The (1995)",Crime\n'
                                         "2,Blank,(no genres listed)\n")
    assert read_items(tmp_path, ["1", "2"]) == (["Heat, The (1995)", "Blank"], [["Crime"], []])
