"""TorchScript models: tap activation nodes of the frozen graph, since hooks never run there.

``torch.jit.freeze`` inlines submodules and folds constant branches, so activations become
``aten::relu`` (etc.) nodes of one graph. A copy of that graph returns
``(output, *activations)``; each batch's activations go straight into the streaming state and
are then dropped. An activation inside a branch (``prim::If``, e.g. on the sample rate) is
returned through its If: the branch that ran gives it, the other an empty tensor, which is
left out. Activations inside loops (``prim::Loop``) are not reached; :attr:`ScriptTaps.skipped`
names them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["ACTIVATION_OPS", "ScriptTaps"]

ACTIVATION_OPS = ("relu", "relu_", "gelu", "sigmoid", "hardtanh", "hardtanh_", "silu", "silu_",
                  "tanh", "relu6", "leaky_relu", "leaky_relu_", "elu", "hardswish", "mish")


class ScriptTaps:
    """Run a TorchScript module and return its activation tensors by name.

    Layer names are the op and its order in the graph (``"relu.0"``), led by the submodule
    scope where tracing recorded one (``"features.1/relu.0"``).

    Example:
        >>> import torch
        >>> net = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()))
        >>> taps = ScriptTaps(net)
        >>> [(name, tuple(t.shape)) for name, t in taps(torch.randn(2, 4))]
        [('relu.0', (2, 3))]
    """

    def __init__(self, module: torch.jit.ScriptModule) -> None:
        was_training = module.training  # freeze needs eval(); the module leaves as it came
        try:
            self.frozen = torch.jit.freeze(module.eval())
        finally:
            module.train(was_training)
        graph = self.frozen.graph.copy()
        torch._C._jit_pass_constant_propagation(graph)  # drops `if inplace:` branches
        self.skipped: list[str] = []
        empty = _empty_constant(graph)  # what a branch returns for the other branch's taps
        taps = self._tap_block(graph.block(), empty)
        if not taps:
            where = (f" ({len(self.skipped)} sit inside loops, which are not reached: "
                     f"{', '.join(self.skipped[:3])})") if self.skipped else ""
            raise ValueError(
                f"the TorchScript module {getattr(module, 'original_name', '')!s} has no "
                f"activation node ({', '.join(ACTIVATION_OPS[:6])}, ...) in its frozen graph "
                f"outside loops{where}, so there is nothing to profile. Profile the eager "
                "nn.Module it was made from: build the model class and load "
                "scripted.state_dict() into it."
            )
        self.names = [self._name(n, i) for i, (n, _) in enumerate(taps)]
        ret = graph.return_node()
        values = [ret.inputsAt(0)] + [v for _, v in taps]
        packed = graph.create("prim::TupleConstruct", values)
        packed.insertBefore(ret)
        packed.output().setType(torch._C.TupleType([v.type() for v in values]))
        graph.eraseOutput(0)
        graph.registerOutput(packed.output())
        self._fn = torch._C._create_function_from_graph("actsparse_taps", graph)

    def _tap_block(self, block: Any, empty: Any) -> list[tuple[Any, Any]]:
        """``(activation node, value)`` pairs whose values are visible in ``block``'s scope.

        An activation inside a ``prim::If`` becomes an extra output of the If: its own block
        returns it, the other block returns ``empty``. Loops are skipped (and named).
        """
        ops = {f"aten::{op}" for op in ACTIVATION_OPS}
        found: list[tuple[Any, Any]] = []
        for node in list(block.nodes()):
            if node.kind() in ops:
                found.append((node, node.output()))
            elif node.kind() == "prim::If":
                blocks = list(node.blocks())
                per_block = [self._tap_block(b, empty) for b in blocks]
                for i, b in enumerate(blocks):
                    for j, taps in enumerate(per_block):
                        for _, value in taps:
                            b.registerOutput(value if i == j else empty)
                for taps in per_block:
                    for act, _ in taps:
                        out = node.addOutput()
                        out.setType(torch._C.TensorType.get())
                        found.append((act, out))
            elif node.kind() == "prim::Loop":
                self.skipped += [f"loop/{n.kind().split('::')[1]}" for n in _nodes_below(node)
                                 if n.kind() in ops]
        return found

    @staticmethod
    def _name(node: Any, index: int) -> str:
        op = node.kind().split("::")[1]
        # tracing records "__module.features/__module.features.1": keep the innermost path
        scope = node.scopeName().split("/")[-1].replace("__module.", "").replace("__module", "")
        return f"{scope}/{op}.{index}" if scope else f"{op}.{index}"

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
        """Positional arguments for the graph function, which has lost forward's defaults."""
        params = self.frozen.forward.schema.arguments[1:]  # after self
        kwargs = dict(kwargs)
        bound = list(args)
        for param in params[len(args):]:
            if param.name in kwargs:
                bound.append(kwargs.pop(param.name))
            elif param.has_default_value():
                bound.append(param.default_value)
            else:
                raise TypeError(f"forward() is missing its argument {param.name!r}")
        if kwargs:
            raise TypeError(f"forward() got an unexpected argument {next(iter(kwargs))!r}")
        return bound

    def __call__(self, *args: Any, **kwargs: Any) -> list[tuple[str, Tensor]]:
        return self.run(*args, **kwargs)[1]

    def run(self, *args: Any, **kwargs: Any) -> tuple[Any, list[tuple[str, Tensor]]]:
        """The module's output, and ``(name, activation)`` of every tap that ran (a branch
        not taken gives none)."""
        out = self._fn(self.frozen._c, *self._bind(args, kwargs))
        acts = [(n, t) for n, t in zip(self.names, out[1:], strict=True) if t.numel()]
        return out[0], acts


def _empty_constant(graph: Any) -> Any:
    """An empty tensor constant at the top of ``graph``."""
    node = graph.create("prim::Constant")
    node.t_("value", torch.empty(0))
    node.output().inferTypeFrom(torch.empty(0))
    first = next(iter(graph.nodes()), None)
    if first is None:
        node.insertBefore(graph.return_node())
    else:
        node.insertBefore(first)
    return node.output()


def _nodes_below(node: Any) -> list[Any]:
    """Every node in the blocks of ``node``, at any depth."""
    found = []
    for block in node.blocks():
        for inner in block.nodes():
            found.append(inner)
            found += _nodes_below(inner)
    return found
