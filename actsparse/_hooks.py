"""Choosing layers, unwrapping module outputs, and hooks that are always removed.

A layer is named by its qualified name in ``model.named_modules()``; ``NAME:input`` is the
input of that module (what a sparse kernel in a Linear or Conv layer could skip). A module
called several times in one forward gets ``NAME#1``, ``NAME#2``, ... for its later calls.
The call count restarts with every top-level call of the model: ``model(x)``, and also a method
called directly (``model.forward(x)``, ``model.encode(x)``), found as the outermost running
frame of one of the model's own methods.
"""

from __future__ import annotations

import fnmatch
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

INPUT_SUFFIX = ":input"

ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Tanh, nn.Sigmoid,
    nn.Softplus, nn.Softshrink, nn.Hardshrink, nn.Threshold,
)
INPUT_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

LayerSpec = str | type[nn.Module]


def register_activation(cls: type[nn.Module]) -> type[nn.Module]:
    """Mark a module class as an activation, so that profiling finds it by default.

    Example:
        >>> @register_activation
        ... class Square(nn.Module):
        ...     def forward(self, x):
        ...         return x * x
        >>> is_activation(Square())
        True
    """
    cls._actsparse_activation = True  # type: ignore[attr-defined]
    return cls


def is_activation(module: nn.Module) -> bool:
    """True for torch activations, Hugging Face activation modules and registered classes."""
    if isinstance(module, ACTIVATION_TYPES) or getattr(module, "_actsparse_activation", False):
        return True
    return type(module).__module__.startswith("transformers.activations")


@dataclass(frozen=True)
class Target:
    """One place to measure: a module's output, or its input when ``on_input``."""

    name: str
    module_name: str
    on_input: bool


def select_layers(
    model: nn.Module, layers: LayerSpec | Sequence[LayerSpec] | None = None, inputs: bool = False
) -> list[Target]:
    """Resolve a layer selection to targets, in module order.

    ``layers=None`` takes every activation module. Otherwise each entry is a qualified name, a
    glob (``"encoder.layer.*.intermediate.*"``) optionally ending in ``:input``, or a module
    type. ``inputs=True`` adds the inputs of every Linear and Conv layer.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> [t.name for t in select_layers(net)]
        ['1']
        >>> [t.name for t in select_layers(net, ["2:input", nn.ReLU])]
        ['1', '2:input']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = [(n, m) for n, m in model.named_modules() if n != "" or len(list(m.children())) == 0]
    chosen: dict[str, Target] = {}

    def add(name: str, on_input: bool) -> None:
        key = name + INPUT_SUFFIX if on_input else name
        chosen[key] = Target(key, name, on_input)

    if layers is None:
        for name, module in modules:
            if is_activation(module):
                add(name, False)
    else:
        if not isinstance(layers, str | type | Iterable):
            raise TypeError("layers must be None, a name, a glob, a module type or a list of "
                            f"them, got {type(layers).__name__} {layers!r}")
        specs = [layers] if isinstance(layers, str | type) else list(layers)
        if not specs:
            raise ValueError("layers=[] selects no layers: pass layers=None for every "
                             "activation module, or a list of names, globs or module types")
        for spec in specs:
            matched = _match(modules, spec)
            if not matched:
                raise ValueError(_no_match_message(spec, modules))
            for name, on_input in matched:
                add(name, on_input)
    if inputs:
        for name, module in modules:
            if isinstance(module, INPUT_TYPES):
                add(name, True)
    order = {name: i for i, (name, _) in enumerate(modules)}
    targets = sorted(chosen.values(), key=lambda t: (order[t.module_name], t.on_input is False))
    if not targets:
        raise ValueError(
            f"no layers to profile in {type(model).__name__}: it has no activation modules "
            "(functional activations such as F.relu cannot be hooked). Pass layers=[...] with "
            "module names, e.g. 'fc2:input' for the input of a Linear layer, or inputs=True."
        )
    return targets


def _match(modules: list[tuple[str, nn.Module]], spec: LayerSpec) -> list[tuple[str, bool]]:
    if isinstance(spec, type):
        if not issubclass(spec, nn.Module):
            raise TypeError(f"layer type {spec.__name__} is not an nn.Module subclass")
        return [(n, False) for n, m in modules if isinstance(m, spec)]
    if not isinstance(spec, str):
        raise TypeError(f"a layer is a name, a glob or a module type, got {spec!r}")
    on_input = spec.endswith(INPUT_SUFFIX)
    pattern = spec[: -len(INPUT_SUFFIX)] if on_input else spec
    return [(n, on_input) for n, _ in modules if n == pattern or fnmatch.fnmatchcase(n, pattern)]


def _no_match_message(spec: LayerSpec, modules: list[tuple[str, nn.Module]]) -> str:
    names = [n for n, _ in modules if n]
    shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
    what = spec.__name__ if isinstance(spec, type) else repr(spec)
    return f"layer pattern {what} matches no module; module names are: {shown}"


def first_tensor(value: Any) -> Tensor | None:
    """The first tensor in a module output: a tensor, tuple/list, dict or ModelOutput."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, dict):  # includes transformers.ModelOutput
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


Observer = Callable[[str, Tensor], None]


@contextmanager
def hooked(model: nn.Module, targets: Sequence[Target], observe: Observer) -> Iterator[None]:
    """Call ``observe(layer_name, tensor)`` for every target during forwards; always unhook.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
        >>> seen = []
        >>> with hooked(net, select_layers(net), lambda name, x: seen.append((name, x.shape))):
        ...     _ = net(torch.zeros(2, 4))
        >>> seen
        [('1', torch.Size([2, 8]))]
        >>> len(net[1]._forward_hooks)
        0
    """
    by_name = dict(model.named_modules())
    calls: dict[str, int] = {}
    handles: list[torch.utils.hooks.RemovableHandle] = []
    depth = [0]  # nesting of model(...) calls in progress
    methods = _method_codes(type(model))
    outer: list[types.FrameType | None] = [None]  # the method call that the counts belong to

    def enter(_module: nn.Module, _args: Any) -> None:
        if depth[0] == 0:
            calls.clear()
            outer[0] = None
        depth[0] += 1

    def leave(_module: nn.Module, _args: Any, _out: Any) -> None:
        depth[0] = max(depth[0] - 1, 0)

    def reset_for_method_call() -> None:
        # Called without model(...): the outermost running method of the model is the call.
        frame = _outermost_method_frame(model, methods, sys._getframe(2))
        if frame is not None and frame is not outer[0]:
            calls.clear()
            outer[0] = frame  # held (not its id, which a later frame may reuse) until unhooked

    def emit(target: Target, value: Any) -> None:
        tensor = first_tensor(value)
        if tensor is None:
            return
        if depth[0] == 0:
            reset_for_method_call()
        n = calls.get(target.name, 0)
        calls[target.name] = n + 1
        observe(target.name if n == 0 else f"{target.name}#{n}", tensor)

    try:
        handles.append(model.register_forward_pre_hook(enter))
        handles.append(model.register_forward_hook(leave, always_call=True))
        for target in targets:
            module = by_name[target.module_name]
            if target.on_input:
                handles.append(
                    module.register_forward_pre_hook(lambda _m, args, t=target: emit(t, args))
                )
            else:
                handles.append(
                    module.register_forward_hook(lambda _m, _a, out, t=target: emit(t, out))
                )
        yield
    finally:
        for handle in handles:
            handle.remove()
        outer[0] = None


def _method_codes(cls: type) -> frozenset[types.CodeType]:
    """Code objects of the functions defined by ``cls`` and its bases below ``nn.Module``."""
    codes = set()
    for klass in cls.__mro__:
        if klass in (nn.Module, object):
            continue
        for value in vars(klass).values():
            if isinstance(value, types.FunctionType):
                codes.add(value.__code__)
    return frozenset(codes)


def _outermost_method_frame(
    model: nn.Module, codes: frozenset[types.CodeType], frame: types.FrameType | None
) -> types.FrameType | None:
    found = None
    while frame is not None:
        if frame.f_code in codes and frame.f_locals.get("self") is model:
            found = frame
        frame = frame.f_back
    return found


@dataclass(frozen=True)
class LayerName:
    """A parsed layer name: ``MODULE``, ``MODULE:input``, with ``#N`` for the N-th later call.

    Example:
        >>> parse_layer_name("encoder.fc2:input#1")
        LayerName(module='encoder.fc2', on_input=True, call=1)
        >>> parse_layer_name("features.1").key
        'features.1'
    """

    module: str
    on_input: bool = False
    call: int = 0

    @property
    def key(self) -> str:
        """The name without the call index (``MODULE`` or ``MODULE:input``)."""
        return self.module + INPUT_SUFFIX if self.on_input else self.module

    def __str__(self) -> str:
        return self.key if self.call == 0 else f"{self.key}#{self.call}"


def parse_layer_name(name: str) -> LayerName:
    """Split a layer name into module, input flag and call index (see :class:`LayerName`)."""
    base, sep, call = name.rpartition("#")
    if not sep or not call.isdigit():
        base, call = name, "0"
    on_input = base.endswith(INPUT_SUFFIX)
    module = base[: -len(INPUT_SUFFIX)] if on_input else base
    return LayerName(module, on_input, int(call))


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and give every module its own mode back afterwards.

    Example:
        >>> net = nn.Sequential(nn.Dropout(), nn.Linear(2, 2))
        >>> net[1].train(False)  # doctest: +ELLIPSIS
        Linear(...)
        >>> with evaluating(net):
        ...     net[0].training
        False
        >>> net[0].training, net[1].training
        (True, False)
    """
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        yield model
    finally:
        for module, mode in modes.items():
            module.training = mode
