"""Placing MagnitudeThreshold modules on a model without changing its existing state_dict keys.

A threshold on layer ``NAME`` (its output) or ``NAME:input`` (its input) becomes a child module
of ``NAME``, called ``output_threshold`` or ``input_threshold``, applied by a forward hook (or
pre-hook) of ``NAME``:

    model.layers.0.mlp.down_proj                    Linear, unchanged (weight, bias)
    model.layers.0.mlp.down_proj.input_threshold    MagnitudeThreshold (buffer ``threshold``)

So every original parameter keeps its key, ``print(model)`` and ``named_modules()`` show where
the thresholds are, the profiler measures them by default (they are registered activations),
and ``state_dict`` gains only ``...input_threshold.threshold`` keys. A checkpoint of the
original model loads into the thresholded one with ``strict=True`` (the thresholds keep their
values). The hooks are module-level functions that look the child up by name, so the model
survives ``copy.deepcopy`` and pickling with its thresholds working.

Later code that swaps a Linear for a sparse-input kernel finds the thresholds with
:func:`inserted_thresholds` and carries ``input_threshold`` over to the new module.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import INPUT_SUFFIX, parse_layer_name
from actsparse.induce.magnitude import MagnitudeThreshold

INPUT_NAME = "input_threshold"
OUTPUT_NAME = "output_threshold"


def insert_threshold(model: nn.Module, layer: str, threshold: float | Tensor) -> MagnitudeThreshold:
    """Threshold the output of module ``layer``, or its input when ``layer`` ends in ``:input``.

    If a threshold is already there, its value is replaced. Returns the threshold module.

    Example:
        >>> import torch
        >>> from actsparse.induce.insert import insert_threshold, remove_threshold
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
        >>> insert_threshold(net, "2:input", 0.1)
        MagnitudeThreshold(threshold=0.1)
        >>> net[2]
        Linear(
          in_features=8, out_features=2, bias=True
          (input_threshold): MagnitudeThreshold(threshold=0.1)
        )
        >>> sorted(net.state_dict())[-3:]
        ['2.bias', '2.input_threshold.threshold', '2.weight']
        >>> remove_threshold(net, "2:input")
        >>> sorted(net.state_dict())[-2:]
        ['2.bias', '2.weight']
    """
    host, on_input = _host(model, layer)
    child = INPUT_NAME if on_input else OUTPUT_NAME
    existing = host._modules.get(child)
    if existing is not None:
        if not isinstance(existing, MagnitudeThreshold):
            raise ValueError(f"layer {layer!r} already has a child module named {child!r} "
                             f"({type(existing).__name__}); cannot place a threshold there")
        existing.set_threshold(threshold)
        return existing
    if isinstance(host, nn.Sequential | nn.ModuleList | nn.ModuleDict):
        raise ValueError(f"layer {layer!r} is a {type(host).__name__}, which would run an added "
                         "child as one of its own steps; threshold one of its modules instead")
    module = MagnitudeThreshold(threshold).to(_device(host) or _device(model) or "cpu")
    host.add_module(child, module)
    if on_input:
        host.register_forward_pre_hook(_threshold_input, prepend=True, with_kwargs=True)
    else:
        host.register_forward_hook(_threshold_output, prepend=True)
    return module


def remove_threshold(model: nn.Module, layer: str) -> None:
    """Take the threshold off ``layer`` (``NAME`` or ``NAME:input``); no-op if there is none."""
    host, on_input = _host(model, layer)
    child, hook = (INPUT_NAME, _threshold_input) if on_input else (OUTPUT_NAME, _threshold_output)
    if not isinstance(host._modules.get(child), MagnitudeThreshold):
        return
    hooks = host._forward_pre_hooks if on_input else host._forward_hooks
    extras = ([host._forward_pre_hooks_with_kwargs] if on_input
              else [host._forward_hooks_with_kwargs, host._forward_hooks_always_called])
    for key in [k for k, fn in hooks.items() if fn is hook]:
        del hooks[key]
        for extra in extras:
            extra.pop(key, None)
    delattr(host, child)


def inserted_thresholds(model: nn.Module) -> dict[str, MagnitudeThreshold]:
    """Every inserted threshold, keyed by layer: ``NAME`` (output) or ``NAME:input``.

    Example:
        >>> import torch
        >>> from actsparse.induce.insert import insert_threshold, inserted_thresholds
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))
        >>> _ = insert_threshold(net, "1", 0.2), insert_threshold(net, "2:input", 0.3)
        >>> inserted_thresholds(net)
        {'1': MagnitudeThreshold(threshold=0.2), '2:input': MagnitudeThreshold(threshold=0.3)}
    """
    found: dict[str, MagnitudeThreshold] = {}
    for name, module in model.named_modules():
        for child, suffix in ((OUTPUT_NAME, ""), (INPUT_NAME, INPUT_SUFFIX)):
            thr = module._modules.get(child)
            if isinstance(thr, MagnitudeThreshold):
                found[name + suffix] = thr
    return found


def threshold_module_name(layer: str) -> str:
    """The qualified name of the threshold module placed on ``layer``.

    Example:
        >>> threshold_module_name("model.layers.0.mlp.down_proj:input")
        'model.layers.0.mlp.down_proj.input_threshold'
        >>> threshold_module_name("encoder.act")
        'encoder.act.output_threshold'
    """
    parsed = parse_layer_name(layer)
    child = INPUT_NAME if parsed.on_input else OUTPUT_NAME
    return f"{parsed.module}.{child}" if parsed.module else child


def _device(module: nn.Module) -> torch.device | None:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return None


def _host(model: nn.Module, layer: str) -> tuple[nn.Module, bool]:
    parsed = parse_layer_name(layer)
    if parsed.call:
        raise ValueError(f"layer {layer!r}: a threshold applies to every call of a module; "
                         f"name it {parsed.key!r}, without '#{parsed.call}'")
    try:
        return model.get_submodule(parsed.module), parsed.on_input
    except AttributeError:
        raise ValueError(f"model {type(model).__name__} has no module {parsed.module!r} "
                         f"(from layer {layer!r})") from None


def _threshold_input(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    thr = module._modules[INPUT_NAME]
    assert thr is not None
    if args and isinstance(args[0], Tensor):
        return (thr(args[0]), *args[1:]), kwargs
    if not args and isinstance(kwargs.get("input"), Tensor):
        return args, {**kwargs, "input": thr(kwargs["input"])}
    raise TypeError(f"{type(module).__name__} with an input threshold was called without a "
                    "tensor as its first argument")


def _threshold_output(module: nn.Module, _args: tuple[Any, ...], output: Any) -> Tensor:
    thr = module._modules[OUTPUT_NAME]
    assert thr is not None
    if not isinstance(output, Tensor):
        raise TypeError(f"{type(module).__name__} returns {type(output).__name__}, not a tensor: "
                        "an output threshold needs a module that returns one tensor (threshold "
                        "its activation module, or the input of the next Linear layer)")
    return thr(output)
