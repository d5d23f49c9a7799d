"""The ``--sparsity`` string, parsed into a typed spec with errors that say what to write.

Grammar (one of)::

    none | dropout:P | l1:W | hoyer:W | kl:RHO:W | kwta:DENSITY | topk:K | sc:ALPHA[:ITERS]

``sc`` is not an activation but a front end: the cnn's first convolution becomes a frozen
sparse-coding layer (:class:`~actsparse.interpret.conv_coding.SparseCodingConv2d`) whose
dictionary is learned from the training images; ``ALPHA`` is its L1 weight and ``ITERS`` its
FISTA iterations (default :data:`SC_ITERS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["none", "dropout", "l1", "hoyer", "kl", "kwta", "topk", "sc"]

SC_ITERS = 20  # FISTA iterations of sc:ALPHA: codes within ~10% of the lasso optimum on MNIST

FORMS: dict[str, str] = {
    "none": "none",
    "dropout": "dropout:P with 0 <= P < 1",
    "l1": "l1:W with W >= 0",
    "hoyer": "hoyer:W with W >= 0",
    "kl": "kl:RHO:W with 0 < RHO < 1 and W >= 0",
    "kwta": "kwta:DENSITY with 0 < DENSITY <= 1",
    "topk": "topk:K with K a whole number >= 1",
    "sc": "sc:ALPHA or sc:ALPHA:ITERS with ALPHA > 0 and ITERS a whole number >= 1",
}
PENALTIES = ("l1", "hoyer", "kl")


class SparsitySpecError(ValueError):
    """A ``--sparsity`` string that cannot be used; the message shows the accepted forms."""


@dataclass(frozen=True)
class SparsitySpec:
    """How the hidden layers of a model are made sparse.

    Attributes:
        kind: ``none``, ``dropout``, a penalty (``l1``, ``hoyer``, ``kl``), ``kwta``, ``topk``
            or ``sc`` (a sparse-coding front end).
        p: dropout probability (``dropout``).
        weight: penalty weight (``l1``, ``hoyer``, ``kl``).
        target: target mean activation RHO (``kl``).
        density: fraction of units kept per layer (``kwta``).
        k: units kept per sample (``topk``).
        alpha: L1 weight of the sparse codes (``sc``).
        iters: FISTA iterations of the sparse codes (``sc``).

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
    alpha: float = 0.0
    iters: int = 0

    @property
    def is_penalty(self) -> bool:
        """True for the specs trained with an activation penalty (l1, hoyer, kl)."""
        return self.kind in PENALTIES

    def __str__(self) -> str:
        values: dict[str, list[object]] = {
            "none": [], "dropout": [self.p], "l1": [self.weight], "hoyer": [self.weight],
            "kl": [self.target, self.weight], "kwta": [self.density], "topk": [self.k],
            "sc": [self.alpha] if self.iters == SC_ITERS else [self.alpha, self.iters],
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
        SparsitySpec(kind='kwta', p=0.0, weight=0.0, target=0.0, density=0.1, k=0, alpha=0.0,
        iters=0)
        >>> parse_sparsity("sc:0.3").iters == SC_ITERS
        True
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
    arities = (1, 2) if kind == "sc" else (FORMS[kind].split(" ")[0].count(":"),)  # sc: ITERS
    if len(args) not in arities:
        raise SparsitySpecError(
            f"sparsity {text!r} is malformed: {kind} takes {' or '.join(map(str, arities))} "
            f"value(s), got {len(args)}; write {FORMS[kind]}"
        )
    if kind == "topk":
        return SparsitySpec("topk", k=_count(text, kind, "K", args[0]))
    if kind == "sc":
        alpha = _number(text, kind, args[0])
        _check(text, kind, "ALPHA", alpha, alpha > 0.0, "> 0")
        iters = _count(text, kind, "ITERS", args[1]) if len(args) == 2 else SC_ITERS
        return SparsitySpec("sc", alpha=alpha, iters=iters)
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


def _count(text: str, kind: str, name: str, arg: str) -> int:
    try:
        k = int(arg)
    except ValueError:
        raise SparsitySpecError(
            f"sparsity {text!r}: {name} must be a whole number, got {arg!r}; write {FORMS[kind]}"
        ) from None
    if k < 1:
        raise SparsitySpecError(f"sparsity {text!r}: {name} must be >= 1, got {k}; "
                                f"write {FORMS[kind]}")
    return k


def _check(text: str, kind: str, name: str, value: float, ok: bool, rule: str) -> None:
    if not ok:
        raise SparsitySpecError(
            f"sparsity {text!r}: {name} must be {rule}, got {value:g}; write {FORMS[kind]}"
        )
