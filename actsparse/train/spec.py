"""The ``--sparsity`` string, parsed into a typed spec with errors that say what to write.

Grammar (one of)::

    none | dropout:P | l1:W | hoyer:W | kl:RHO:W | kwta:DENSITY | topk:K
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["none", "dropout", "l1", "hoyer", "kl", "kwta", "topk"]

FORMS: dict[str, str] = {
    "none": "none",
    "dropout": "dropout:P with 0 <= P < 1",
    "l1": "l1:W with W >= 0",
    "hoyer": "hoyer:W with W >= 0",
    "kl": "kl:RHO:W with 0 < RHO < 1 and W >= 0",
    "kwta": "kwta:DENSITY with 0 < DENSITY <= 1",
    "topk": "topk:K with K a whole number >= 1",
}
PENALTIES = ("l1", "hoyer", "kl")


class SparsitySpecError(ValueError):
    """A ``--sparsity`` string that cannot be used; the message shows the accepted forms."""


@dataclass(frozen=True)
class SparsitySpec:
    """How the hidden layers of a model are made sparse.

    Attributes:
        kind: ``none``, ``dropout``, a penalty (``l1``, ``hoyer``, ``kl``), ``kwta`` or ``topk``.
        p: dropout probability (``dropout``).
        weight: penalty weight (``l1``, ``hoyer``, ``kl``).
        target: target mean activation RHO (``kl``).
        density: fraction of units kept per layer (``kwta``).
        k: units kept per sample (``topk``).

    Example:
        >>> spec = parse_sparsity("kl:0.05:0.1")
        >>> spec.kind, spec.target, spec.weight, spec.is_penalty
        ('kl', 0.05, 0.1, True)
        >>> str(spec)
        'kl:0.05:0.1'
    """

    kind: Kind = "none"
    p: float = 0.0
    weight: float = 0.0
    target: float = 0.0
    density: float = 1.0
    k: int = 0

    @property
    def is_penalty(self) -> bool:
        """True for the specs trained with an activation penalty (l1, hoyer, kl)."""
        return self.kind in PENALTIES

    def __str__(self) -> str:
        values: dict[str, list[object]] = {
            "none": [], "dropout": [self.p], "l1": [self.weight], "hoyer": [self.weight],
            "kl": [self.target, self.weight], "kwta": [self.density], "topk": [self.k],
        }
        return ":".join([self.kind, *(_short(v) for v in values[self.kind])])


def _short(value: object) -> str:
    """``0.1`` and ``1e-05`` as written, with every digit kept (``str(spec)`` parses back)."""
    if not isinstance(value, float):
        return str(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def parse_sparsity(text: str) -> SparsitySpec:
    """Parse a ``--sparsity`` string such as ``"kwta:0.1"`` or ``"l1:1e-4"``.

    Raises :class:`SparsitySpecError` (a ``ValueError``) naming the accepted form when the
    string is malformed, of an unknown kind, or has a value out of range.

    Example:
        >>> parse_sparsity("kwta:0.1")
        SparsitySpec(kind='kwta', p=0.0, weight=0.0, target=0.0, density=0.1, k=0)
        >>> parse_sparsity("dropout:1.5")
        Traceback (most recent call last):
        ...
        actsparse.train.spec.SparsitySpecError: sparsity 'dropout:1.5': P must be in [0, 1), got
        1.5; write dropout:P with 0 <= P < 1
    """
    if not isinstance(text, str):
        raise SparsitySpecError(f"sparsity must be a string such as 'kwta:0.1', got {text!r}")
    kind, *args = text.strip().lower().split(":")
    if kind not in FORMS:
        raise SparsitySpecError(
            f"unknown sparsity {text!r}; use one of: {', '.join(FORMS.values())}"
        )
    arity = FORMS[kind].split(" ")[0].count(":")
    if len(args) != arity:
        raise SparsitySpecError(
            f"sparsity {text!r} is malformed: {kind} takes {arity} value(s), got {len(args)}; "
            f"write {FORMS[kind]}"
        )
    if kind == "topk":
        return SparsitySpec("topk", k=_count(text, args[0]))
    nums = [_number(text, kind, a) for a in args]
    if kind == "none":
        return SparsitySpec()
    if kind == "dropout":
        _check(text, kind, "P", nums[0], 0.0 <= nums[0] < 1.0, "in [0, 1)")
        return SparsitySpec("dropout", p=nums[0])
    if kind == "kwta":
        _check(text, kind, "DENSITY", nums[0], 0.0 < nums[0] <= 1.0, "in (0, 1]")
        return SparsitySpec("kwta", density=nums[0])
    if kind == "kl":
        _check(text, kind, "RHO", nums[0], 0.0 < nums[0] < 1.0, "in (0, 1)")
        _check(text, kind, "W", nums[1], nums[1] >= 0.0, ">= 0")
        return SparsitySpec("kl", target=nums[0], weight=nums[1])
    _check(text, kind, "W", nums[0], nums[0] >= 0.0, ">= 0")
    return SparsitySpec(kind, weight=nums[0])  # type: ignore[arg-type]  # l1 or hoyer


def _number(text: str, kind: str, arg: str) -> float:
    try:
        value = float(arg)
    except ValueError:
        raise SparsitySpecError(
            f"sparsity {text!r}: {arg!r} is not a number; write {FORMS[kind]}"
        ) from None
    if not math.isfinite(value):
        raise SparsitySpecError(f"sparsity {text!r}: {arg!r} is not finite; write {FORMS[kind]}")
    return value


def _count(text: str, arg: str) -> int:
    try:
        k = int(arg)
    except ValueError:
        raise SparsitySpecError(
            f"sparsity {text!r}: K must be a whole number, got {arg!r}; write {FORMS['topk']}"
        ) from None
    if k < 1:
        raise SparsitySpecError(f"sparsity {text!r}: K must be >= 1, got {k}; "
                                f"write {FORMS['topk']}")
    return k


def _check(text: str, kind: str, name: str, value: float, ok: bool, rule: str) -> None:
    if not ok:
        raise SparsitySpecError(
            f"sparsity {text!r}: {name} must be {rule}, got {value:g}; write {FORMS[kind]}"
        )
