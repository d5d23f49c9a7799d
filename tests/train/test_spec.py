"""Parsing --sparsity: every form, and an error that names the form for every bad string."""

from __future__ import annotations

import pytest

from actsparse.train import SparsitySpec, SparsitySpecError, parse_sparsity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", SparsitySpec()),
        ("dropout:0.5", SparsitySpec("dropout", p=0.5)),
        ("dropout:0", SparsitySpec("dropout", p=0.0)),
        ("l1:1e-4", SparsitySpec("l1", weight=1e-4)),
        ("hoyer:0.1", SparsitySpec("hoyer", weight=0.1)),
        ("kl:0.05:0.1", SparsitySpec("kl", target=0.05, weight=0.1)),
        ("kwta:0.1", SparsitySpec("kwta", density=0.1)),
        ("kwta:1", SparsitySpec("kwta", density=1.0)),
        ("topk:20", SparsitySpec("topk", k=20)),
        (" KWTA:0.25 ", SparsitySpec("kwta", density=0.25)),
        ("l1:0.123456789", SparsitySpec("l1", weight=0.123456789)),
    ],
)
def test_valid_specs_parse_and_print_back(text: str, expected: SparsitySpec) -> None:
    spec = parse_sparsity(text)
    assert spec == expected
    assert parse_sparsity(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unknown sparsity ''"),
        ("relu", "unknown sparsity 'relu'"),
        ("kwta", "kwta takes 1 value(s), got 0; write kwta:DENSITY"),
        ("kwta:0.1:2", "kwta takes 1 value(s), got 2"),
        ("kl:0.05", "kl takes 2 value(s), got 1; write kl:RHO:W"),
        ("none:1", "none takes 0 value(s), got 1"),
        ("l1:abc", "'abc' is not a number; write l1:W with W >= 0"),
        ("l1:nan", "'nan' is not finite"),
        ("l1:-0.1", "W must be >= 0, got -0.1"),
        ("hoyer:-1", "W must be >= 0, got -1"),
        ("dropout:1", "P must be in [0, 1), got 1"),
        ("dropout:-0.1", "P must be in [0, 1), got -0.1"),
        ("kwta:0", "DENSITY must be in (0, 1], got 0"),
        ("kwta:1.5", "DENSITY must be in (0, 1], got 1.5"),
        ("kwta:-0.1", "DENSITY must be in (0, 1], got -0.1"),
        ("kl:0:0.1", "RHO must be in (0, 1), got 0"),
        ("kl:0.05:-1", "W must be >= 0, got -1"),
        ("topk:0", "K must be >= 1, got 0"),
        ("topk:2.5", "K must be a whole number, got '2.5'"),
    ],
)
def test_bad_specs_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SparsitySpecError) as err:
        parse_sparsity(text)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)
