"""One protocol for streaming state: every tensor declared once, with how two shards combine.

A state class calls :meth:`StreamingState.add_state` for each tensor it keeps, naming the
reduction that combines two shards of data:

- ``"sum"``, ``"min"``, ``"max"``: elementwise (counts, sums, extrema, fixed-bin histograms).
  A ``grow=True`` sum may be longer on one shard than on another along its first axis (e.g. one
  row per class seen so far); the shorter one is padded with zeros.
- ``"cat"``: concatenation along ``dim``, after which the class's :meth:`StreamingState._trim`
  cuts the state back to its bounded size (a top-k buffer keeps its k largest, a reservoir its
  samples with the largest keys).

From the declarations follow :meth:`~StreamingState.reset` (every tensor back to its default),
:meth:`~StreamingState.merge` (a new state equal to measuring both shards) and
:meth:`~StreamingState.all_reduce` (every ``torch.distributed`` rank ends with the state of all
ranks' data). A subclass writes ``update`` and ``compute``. :class:`LayerStates` holds one state
per layer, created as layers are first seen, and combines them layer by layer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor

SUM, MIN, MAX, CAT = "sum", "min", "max", "cat"
_ELEMENTWISE: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    SUM: torch.add, MIN: torch.minimum, MAX: torch.maximum,
}

Shapes = dict[str, tuple[int, ...]]
S = TypeVar("S", bound="StreamingState")
T = TypeVar("T", bound="StreamingState")
L = TypeVar("L", bound="LayerStates[Any]")


@dataclass(frozen=True)
class Declared:
    """How one state tensor combines: its reduction, default, concatenation axis, growth."""

    reduce: str
    default: Tensor
    dim: int = 0
    grow: bool = False


def distributed() -> bool:
    """Whether a ``torch.distributed`` process group is up (else all_reduce is the identity).

    Example:
        >>> distributed()
        False
    """
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized())


def gather_objects(obj: Any, group: Any = None) -> list[Any]:
    """``obj`` of every rank, in rank order (``[obj]`` without a process group).

    Example:
        >>> gather_objects({"units": 3})
        [{'units': 3}]
    """
    if not distributed():
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(out, obj, group=group)
    return out


class StreamingState:
    """Base of a fixed-size, mergeable state; tensors live in ``self.state``.

    Example:
        >>> class Count(StreamingState):
        ...     def __init__(self) -> None:
        ...         self.add_state("n", torch.zeros((), dtype=torch.int64), "sum")
        ...         self.add_state("top", torch.tensor(float("-inf")), "max")
        ...     def update(self, x: Tensor) -> None:
        ...         self.state["n"] += x.numel()
        ...         self.state["top"] = torch.maximum(self.state["top"], x.max())
        ...     def compute(self) -> tuple[int, float]:
        ...         return int(self.state["n"]), float(self.state["top"])
        >>> a, b = Count(), Count()
        >>> a.update(torch.tensor([1.0, 5.0])); b.update(torch.tensor([3.0]))
        >>> a.merge(b).compute(), a.compute(), a.reset().compute()
        ((3, 5.0), (2, 5.0), (0, -inf))
    """

    state: dict[str, Tensor]
    _declared: dict[str, Declared]

    # -- declaring ------------------------------------------------------------------------------
    def add_state(self, name: str, default: Tensor, reduce: str = SUM, *, dim: int = 0,
                  grow: bool = False) -> None:
        """Declare the tensor ``name``, set it to ``default``, and say how shards combine."""
        self.declare(name, default, reduce, dim=dim, grow=grow)
        self.state[name] = default.detach().clone()

    def declare(self, name: str, default: Tensor, reduce: str = SUM, *, dim: int = 0,
                grow: bool = False) -> None:
        """Declare ``name`` without setting it (for a state handed in, e.g. read from a file)."""
        if reduce not in (SUM, MIN, MAX, CAT):
            raise ValueError(f"state {name!r}: reduce must be 'sum', 'min', 'max' or 'cat', "
                             f"got {reduce!r}")
        if grow and reduce != SUM:
            raise ValueError(f"state {name!r}: only a 'sum' state can grow (pad with zeros)")
        if not isinstance(default, Tensor):
            raise TypeError(f"state {name!r}: the default must be a tensor, got "
                            f"{type(default).__name__}")
        if "_declared" not in self.__dict__:
            self._declared = {}
        if "state" not in self.__dict__:
            self.state = {}
        self._declared[name] = Declared(reduce, default.detach().clone(), dim, grow)

    @property
    def declared(self) -> dict[str, Declared]:
        """Every declared tensor, in declaration order."""
        return dict(self._declared)

    # -- the protocol ---------------------------------------------------------------------------
    def update(self, *args: Any, **kwargs: Any) -> None:
        """Fold a batch into the state (written by each subclass)."""
        raise NotImplementedError(f"{type(self).__name__} does not define update()")

    def compute(self) -> Any:
        """The result read from the state (written by each subclass)."""
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def reset(self: S) -> S:
        """Every tensor back to its declared default; returns ``self``."""
        for name, d in self._declared.items():
            self.state[name] = d.default.clone()
        return self

    def copy(self: S) -> S:
        """An independent copy (tensors cloned)."""
        new = copy.copy(self)
        new.state = {k: v.clone() for k, v in self.state.items()}
        return new

    def merge(self: S, other: S) -> S:
        """A new state of both shards' data together (equal to measuring their union).

        Neither ``self`` nor ``other`` changes. Raises TypeError for another kind of state and
        ValueError when the two were measured with different settings or shapes.
        """
        if not isinstance(other, type(self)):
            raise TypeError(f"can only merge a {type(self).__name__}, got {type(other).__name__}")
        self._check_compatible(other)
        if list(self._declared) != list(other._declared):
            raise ValueError(f"cannot merge states declaring {list(self._declared)} and "
                             f"{list(other._declared)}")
        new = copy.copy(self)
        new.state = {}
        for name, d in self._declared.items():
            x, y = self.state[name], other.state[name]
            if d.reduce == CAT:
                new.state[name] = torch.cat([x, y], d.dim)
                continue
            shape = self._common_shape(name, [tuple(x.shape), tuple(y.shape)])
            combine = _ELEMENTWISE[d.reduce]
            new.state[name] = combine(self._aligned(name, x, shape),
                                      self._aligned(name, y, shape))
        new._trim()
        return new

    def all_reduce(self: S, group: Any = None) -> S:
        """Combine this rank's state with every other rank's, in place (``torch.distributed``).

        Afterwards every rank holds the state of all ranks' data; without a process group this
        is the identity. Elementwise states go through ``dist.all_reduce``; ``cat`` states are
        gathered in rank order and trimmed.
        """
        if distributed():
            self.reduce_across(gather_objects(self.shapes(), group), group)
        return self

    # -- for containers and subclasses ------------------------------------------------------------
    def shapes(self) -> Shapes:
        """The shape of every declared tensor (what ranks compare before reducing)."""
        return {name: tuple(self.state[name].shape) for name in self._declared}

    def reduce_across(self, rank_shapes: list[Shapes], group: Any = None) -> None:
        """all_reduce given every rank's :meth:`shapes` (one entry per rank, in rank order).

        Every rank checks all ranks' shapes the same way before the first collective, so a
        mismatch raises the same ValueError everywhere instead of hanging.
        """
        import torch.distributed as dist

        ops = {SUM: dist.ReduceOp.SUM, MIN: dist.ReduceOp.MIN, MAX: dist.ReduceOp.MAX}
        elementwise = [n for n, d in self._declared.items() if d.reduce != CAT]
        targets = {n: self._common_shape(n, [s[n] for s in rank_shapes]) for n in elementwise}
        for name in elementwise:
            tensor = self._aligned(name, self.state[name], targets[name])
            dist.all_reduce(tensor, op=ops[self._declared[name].reduce], group=group)
            self.state[name] = tensor
        concatenated = [n for n, d in self._declared.items() if d.reduce == CAT]
        if concatenated:
            parts = gather_objects({n: self.state[n] for n in concatenated}, group)
            for name in concatenated:
                self.state[name] = torch.cat([p[name] for p in parts], self._declared[name].dim)
            self._trim()

    def _check_compatible(self, other: Any) -> None:
        """Raise ValueError when ``other`` was measured with other settings (override)."""

    def _trim(self) -> None:
        """Cut ``cat`` states back to their bounded size after a concatenation (override)."""

    def _common_shape(self, name: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        """The shape every shard's tensor ``name`` is brought to before combining."""
        if all(s == shapes[0] for s in shapes):
            return shapes[0]
        if self._declared[name].grow and len({len(s) for s in shapes}) == 1:
            longest = max(s[0] for s in shapes)
            if all(s[1:] == shapes[0][1:] for s in shapes):
                return (longest, *shapes[0][1:])
        raise ValueError(f"state {name!r} has shape {shapes[0]} vs "
                         f"{next(s for s in shapes if s != shapes[0])}")

    def _aligned(self, name: str, tensor: Tensor, shape: tuple[int, ...]) -> Tensor:
        """``tensor`` (state ``name``) brought to ``shape``: a ``grow`` state padded with zeros."""
        if tuple(tensor.shape) == shape:
            return tensor
        pad = tensor.new_zeros((shape[0] - tensor.shape[0], *shape[1:]))
        return torch.cat([tensor, pad])


class LayerStates(Generic[S]):
    """One :class:`StreamingState` per layer, in the order the layers were first seen.

    ``merge`` and ``all_reduce`` need the same layers on both sides (the same model and
    layer selection); they combine the states layer by layer.

    Example:
        >>> import actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
        >>> a = actsparse.profile(net, [torch.randn(8, 4)])  # a Profile is LayerStates
        >>> b = actsparse.profile(net, [torch.randn(8, 4)])
        >>> isinstance(a, LayerStates), a.merge(b)["1"].samples
        (True, 16)
    """

    layers: dict[str, S]
    _noun = "states"  # for errors: "cannot merge states of different layers"
    _verb = "measured"  # "ranks measured different layers"

    @property
    def names(self) -> list[str]:
        return list(self.layers)

    def reset(self: L) -> L:
        """Every layer's state back to its declared default (the layers stay); returns self."""
        for layer in self.layers.values():
            layer.reset()
        return self

    def merge(self: L, other: L) -> L:
        """A new container of both shards' data (neither input changes)."""
        if not isinstance(other, type(self)):
            raise TypeError(f"can only merge a {type(self).__name__}, got {type(other).__name__}")
        self._check_compatible(other)
        if set(self.layers) != set(other.layers):
            missing = sorted(set(self.layers) ^ set(other.layers))
            raise ValueError(f"cannot merge {self._noun} of different layers; in one but not "
                             f"the other: {missing}")
        return self._with_layers({n: s.merge(other.layers[n]) for n, s in self.layers.items()})

    def all_reduce(self: L, group: Any = None) -> L:
        """Combine every rank's layers in place; all ranks must have measured the same layers."""
        if not distributed():
            return self
        mine = [(name, layer.shapes()) for name, layer in self.layers.items()]
        ranks = gather_objects(mine, group)
        names = [[name for name, _ in rank] for rank in ranks]
        if any(n != self.names for n in names):
            raise ValueError(f"ranks {self._verb} different layers: {names}")
        for i, layer in enumerate(self.layers.values()):
            layer.reduce_across([rank[i][1] for rank in ranks], group)
        return self

    def _check_compatible(self, other: Any) -> None:
        """Raise ValueError when ``other`` was made with other settings (override)."""

    def _with_layers(self: L, layers: dict[str, Any]) -> L:
        new = copy.copy(self)
        new.layers = layers
        return new
