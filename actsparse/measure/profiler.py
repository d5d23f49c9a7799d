"""Measuring: hooks that reduce activations to fixed-size state as the model runs."""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack, nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from actsparse._hooks import LayerSpec, Target, evaluating, hooked, parse_layer_name, select_layers
from actsparse._progress import track
from actsparse.measure.batches import iter_calls
from actsparse.measure.config import ProfileConfig
from actsparse.measure.identity import model_fingerprint
from actsparse.measure.layer import LayerProfile
from actsparse.measure.onnx_module import OnnxModule
from actsparse.measure.profile import Profile
from actsparse.measure.state import as_samples_units_positions, new_state
from actsparse.measure.torchscript import ScriptTaps
from actsparse.measure.update import update_state


class Profiler:
    """Context manager that profiles every forward run inside it, e.g. in your own eval loop.

    Args:
        model: any ``nn.Module``.
        layers: ``None`` for every activation module, or names, globs (``"*.act:input"``) and
            module types; see :func:`actsparse._hooks.select_layers`.
        inputs: also measure the inputs of every Linear and Conv layer.
        config: thresholds, histogram bins and batch-union sizes (:class:`ProfileConfig`).

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(inplace=True))
        >>> with actsparse.Profiler(net) as prof:
        ...     for _ in range(3):
        ...         _ = net(torch.randn(10, 4))
        >>> prof.result["1"].samples
        30
    """

    def __init__(
        self,
        model: nn.Module,
        layers: LayerSpec | Sequence[LayerSpec] | None = None,
        *,
        inputs: bool = False,
        config: ProfileConfig | None = None,
    ) -> None:
        self.model = model
        self._script: ScriptTaps | None = None
        if isinstance(model, torch.jit.ScriptModule):
            if layers is not None or inputs:
                raise TypeError(_script_module_message(model))
            self._script = ScriptTaps(model)  # hooks never run in TorchScript: tap the graph
        # ONNX models (alone or inside a wrapper) report their graph's activations themselves
        self._onnx = [(n, m) for n, m in model.named_modules() if isinstance(m, OnnxModule)]
        if self._onnx and (layers is not None or inputs):
            raise TypeError(_onnx_module_message(self._onnx[0][1]))
        self.targets: list[Target] = [] if self._script else \
            _eager_part(model) if self._onnx else select_layers(model, layers, inputs)
        self.config = config or ProfileConfig()
        self._edges = self.config.edges()
        self._layers: dict[str, LayerProfile] = {}
        self._mask: Tensor | None = None
        self._stack: ExitStack | None = None
        self.meta: dict[str, Any] = {"model": type(model).__name__}

    def __enter__(self) -> Profiler:
        self._stack = ExitStack()
        for prefix, module in self._onnx:
            observe = self._observe if not prefix else self._prefixed(prefix)
            self._stack.enter_context(module.observed(observe))
        if self.targets:
            self._stack.enter_context(hooked(self.model, self.targets, self._observe))
        return self

    def _prefixed(self, prefix: str) -> Callable[[str, Tensor], None]:
        def observe(name: str, x: Tensor) -> None:
            self._observe(f"{prefix}/{name}", x)
        return observe

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self._mask = None
        if self._script is not None and not self._layers and exc_type is None:
            raise TypeError(
                "a TorchScript module runs no hooks, so calling it inside `with Profiler(...)` "
                "measures nothing: call profiler.forward(x) there, or use "
                "actsparse.profile(scripted, batches)"
            )

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Run the model on one call and measure it (a TorchScript module through its graph taps).

        Example:
            >>> import torch
            >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
            >>> with Profiler(net) as p:
            ...     p.forward(torch.randn(2, 4))
            >>> p.result.names
            ['1']
        """
        if self._script is None:
            self.model(*args, **kwargs)
            return
        for name, x in self._script(*args, **kwargs):
            self._observe(name, x)

    def set_mask(self, mask: Tensor | None) -> None:
        """Measure only the (batch, token) positions where ``mask`` is nonzero from now on."""
        self._mask = None if mask is None or bool(mask.all()) else mask.bool()

    def unreached(self) -> list[str]:
        """Activation nodes of a TorchScript or ONNX graph that the taps cannot reach (inside
        loops), which are therefore not in the profile."""
        found = [] if self._script is None else list(self._script.skipped)
        for prefix, module in self._onnx:
            found += [f"{prefix}/{n}" if prefix else n for n in module.taps.skipped]
        return found

    def reset(self) -> None:
        """Forget what was measured so far."""
        self._layers.clear()

    def unseen(self) -> list[str]:
        """Names of the selected layers that no forward has reached yet."""
        seen = {parse_layer_name(name).key for name in self._layers}
        return [t.name for t in self.targets if t.name not in seen]

    @property
    def result(self) -> Profile:
        """The profile of everything measured so far (a snapshot: later forwards leave it)."""
        layers = {
            n: LayerProfile(lp.name, lp.on_input, lp.units, lp.spatial, lp.config,
                            {k: v.clone() for k, v in lp.state.items()})
            for n, lp in self._layers.items()
        }
        return Profile(layers, self.config, dict(self.meta))

    def _observe(self, name: str, x: Tensor) -> None:
        if not x.is_floating_point():
            return
        mask = self._mask
        if mask is not None and x.dim() >= 2 and x.shape[:2] == mask.shape:
            x = x[mask.to(x.device)]
        with torch.no_grad():
            layer = self._layers.get(name)
            xs, spatial = as_samples_units_positions(x)
            if layer is None:
                layer = LayerProfile(
                    name, parse_layer_name(name).on_input, xs.shape[1], spatial,
                    self.config, new_state(self.config, xs.shape[1], spatial),
                )
                self._layers[name] = layer
            elif xs.shape[1] != layer.units:
                raise ValueError(
                    f"layer {name!r} had {layer.units} units and now has {xs.shape[1]} "
                    f"(activation shape {tuple(x.shape)}); profile each model shape separately"
                )
            update_state(layer.state, x, self.config, self._edges)


def profile(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    layers: LayerSpec | Sequence[LayerSpec] | None = None,
    inputs: bool = False,
    config: ProfileConfig | None = None,
    input_key: int | str = 0,
    eval_mode: bool = True,
    inference_mode: bool = True,
    max_batches: int | None = None,
    progress: bool = False,
) -> Profile:
    """Run ``model`` over ``batches`` and return the sparsity profile of its layers.

    Args:
        model: any ``nn.Module``; left exactly as it came (mode, grads, parameters).
        batches: an iterable of tensors, of tuples/lists (``batch[input_key]`` is the input), or
            of dicts passed as keyword arguments (a tokenizer's output; its ``attention_mask``
            keeps padding out of the statistics).
        layers, inputs, config: see :class:`Profiler`.
        eval_mode: run in ``eval()`` (dropout off); the original modes are restored after.
        inference_mode: run under ``torch.inference_mode()``.
        max_batches: stop after this many batches.
        progress: show a progress bar.

    Example:
        >>> import torch, actsparse
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        >>> prof = actsparse.profile(net, [(torch.randn(8, 1, 10, 10), torch.zeros(8))])
        >>> layer = prof["1"]
        >>> layer.units, layer.spatial, layer.samples
        (4, (8, 8), 8)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batches, Tensor | Mapping):
        raise TypeError(
            "batches must be an iterable of batches (e.g. a DataLoader or a list of tensors), "
            f"not a single {type(batches).__name__}: wrap it in a list"
        )
    try:
        iter(batches)
    except TypeError:
        raise TypeError(
            "batches must be an iterable of batches (e.g. a DataLoader or a list of tensors), "
            f"got a {type(batches).__name__}"
        ) from None
    profiler = Profiler(model, layers, inputs=inputs, config=config)
    fingerprint = model_fingerprint(model)  # which model this is a profile of
    seen = 0
    started = time.perf_counter()
    grad_context = torch.inference_mode() if inference_mode else torch.no_grad()
    batches = itertools.islice(track(batches, "profiling", enabled=progress), max_batches)
    with evaluating(model) if eval_mode else nullcontext(model), profiler, grad_context:
        for call in iter_calls(model, batches, input_key):
            profiler.set_mask(call.mask)
            profiler.forward(*call.args, **call.kwargs)
            seen += 1
    if seen == 0:
        raise ValueError("batches is empty: there is nothing to profile")
    unseen = profiler.unseen()
    if profiler.targets and len(unseen) == len(profiler.targets) and not profiler._onnx:
        raise ValueError(_nothing_seen_message(model, unseen))
    if profiler._onnx and not profiler._layers:
        raise ValueError(f"no activation of the ONNX model {profiler._onnx[0][1].source} was "
                         "seen: the batches never called it")
    result = profiler.result
    unreached = profiler.unreached()
    if unreached:
        result.meta["unreached_layers"] = unreached
    result.meta.update(batches=seen, seconds=round(time.perf_counter() - started, 3),
                       model_fingerprint=fingerprint)
    if unseen:
        result.meta["unseen_layers"] = unseen
        warnings.warn(
            f"{len(unseen)} selected layer(s) never ran on these batches and are not in the "
            f"profile: {_shown(unseen)}", stacklevel=2,
        )
    return result


def _eager_part(model: nn.Module) -> list[Target]:
    """The activation modules of a module that also holds ONNX models (none is fine)."""
    try:
        return select_layers(model)
    except ValueError:  # only the ONNX models have activations
        return []


def _shown(names: Sequence[str], limit: int = 6) -> str:
    return ", ".join(repr(n) for n in names[:limit]) + (" ..." if len(names) > limit else "")


def _is_compiled(model: nn.Module) -> bool:
    # torch.compile(model) wraps it in an OptimizedModule; model.compile() sets the call in place
    return hasattr(model, "_orig_mod") or getattr(model, "_compiled_call_impl", None) is not None


def _script_module_message(model: nn.Module) -> str:
    return (
        f"{type(model).__name__} {getattr(model, 'original_name', '')!s} is a TorchScript module "
        "(torch.jit.script / torch.jit.trace / torch.jit.load): its activation nodes are "
        "profiled from the frozen graph, but layers= and inputs=True need Python hooks, which "
        "TorchScript never runs. Leave them out, or profile the eager nn.Module it was made "
        "from (build the model class and load its state_dict: scripted.state_dict() holds the "
        "same weights)."
    )


def _onnx_module_message(module: OnnxModule) -> str:
    return (
        f"{module.source} is an ONNX model run by onnxruntime: its activation nodes "
        f"({_shown(module.layer_names, 3)}) are profiled from the graph, but layers= and "
        "inputs=True need Python hooks, which onnxruntime never runs. Leave them out."
    )


def _nothing_seen_message(model: nn.Module, unseen: Sequence[str]) -> str:
    head = (
        f"none of the {len(unseen)} selected layer(s) of {type(model).__name__} ran during "
        f"profiling ({_shown(unseen)}), so there is nothing to report. "
    )
    if _is_compiled(model):
        return head + (
            "The model is compiled: code that torch.compile generated before profiling skips "
            "hooks added afterwards. Profile the uncompiled module (compiled._orig_mod, or the "
            "model before torch.compile / model.compile()), or call torch._dynamo.reset() first."
        )
    return head + (
        "Check that forward calls these modules (a module that is only defined, or replaced by "
        "a functional call such as F.relu, is never seen), or that the model was not compiled "
        "with torch.compile before profiling (compiled code skips hooks added afterwards)."
    )

