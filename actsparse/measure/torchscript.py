"""TorchScript models: tap activation nodes of the frozen graph, since hooks never run there.

``torch.jit.freeze`` inlines submodules and folds constant branches, so activations become
top-level ``aten::relu`` (etc.) nodes. A copy of that graph returns ``(output, *activations)``;
each batch's activations go straight into the streaming state and are then dropped.
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
        ops = {f"aten::{op}" for op in ACTIVATION_OPS}
        nodes = [n for n in graph.nodes() if n.kind() in ops]
        if not nodes:
            raise ValueError(
                f"the TorchScript module {getattr(module, 'original_name', '')!s} has no "
                f"activation node ({', '.join(ACTIVATION_OPS[:6])}, ...) at the top level of its "
                "frozen graph (they may sit inside a loop or branch), so there is nothing to "
                "profile. Profile the eager nn.Module it was made from: build the model class "
                "and load scripted.state_dict() into it."
            )
        self.names = [self._name(n, i) for i, n in enumerate(nodes)]
        self.skipped: list[str] = []
        ret = graph.return_node()
        values = [ret.inputsAt(0)] + [n.output() for n in nodes]
        packed = graph.create("prim::TupleConstruct", values)
        packed.insertBefore(ret)
        packed.output().setType(torch._C.TupleType([v.type() for v in values]))
        graph.eraseOutput(0)
        graph.registerOutput(packed.output())
        self._fn = torch._C._create_function_from_graph("actsparse_taps", graph)

    @staticmethod
    def _name(node: Any, index: int) -> str:
        op = node.kind().split("::")[1]
        # tracing records "__module.features/__module.features.1": keep the innermost path
        scope = node.scopeName().split("/")[-1].replace("__module.", "").replace("__module", "")
        return f"{scope}/{op}.{index}" if scope else f"{op}.{index}"

    def __call__(self, *args: Any, **kwargs: Any) -> list[tuple[str, Tensor]]:
        out = self._fn(self.frozen._c, *args, **kwargs)
        return list(zip(self.names, out[1:], strict=True))
