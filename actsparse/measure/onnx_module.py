"""An ONNX model as an ``nn.Module``: onnxruntime runs it, the profiler sees its activations.

Hooks cannot run inside onnxruntime, so the module runs :class:`OnnxTaps` (the graph with its
activation nodes as extra outputs) and hands each call's activations to whoever observes it
(the :class:`~actsparse.measure.Profiler`), then drops them. Anything that takes a module
(``actsparse.profile``, a zoo wrapper that streams audio chunks through it) takes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from actsparse.measure.onnx_taps import OnnxTaps

Observer = Callable[[str, Tensor], None]

__all__ = ["OnnxModule", "Observer"]


class OnnxModule(nn.Module):
    """Run an ONNX model in onnxruntime on torch tensors; report its activations when observed.

    Args:
        model: a ``.onnx`` path, its bytes or an ``onnx.ModelProto``.
        threads: onnxruntime intra-op threads (default: ``torch.get_num_threads()``).
        rename: maps the graph's node names to the layer names reported (default: as they are).

    Positional arguments follow the graph's inputs in order, keyword arguments name them;
    numbers become arrays of the input's type. It returns the output tensor, or a tuple of them.

    Example:
        >>> from onnx import helper, TensorProto
        >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])
        >>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])
        >>> net = OnnxModule(helper.make_model(helper.make_graph(
        ...     [helper.make_node("Relu", ["x"], ["y"], name="act")], "g", [x], [y])))
        >>> seen = []
        >>> with net.observed(lambda name, a: seen.append((name, a.tolist()))):
        ...     out = net(torch.tensor([[-1.0, 3.0]]))
        >>> out.tolist(), seen
        ([[0.0, 3.0]], [('act', [[0.0, 3.0]])])
    """

    def __init__(self, model: str | Path | bytes | Any, threads: int | None = None,
                 rename: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.source = str(model) if isinstance(model, str | Path) else type(model).__name__
        self.taps = OnnxTaps(model, threads=threads or torch.get_num_threads())
        self.graph_digest = self.taps.digest  # the model's identity: it has no parameters
        self._names = {n: rename(n) if rename else n for n in self.taps.names}
        if len(set(self._names.values())) < len(self._names):
            raise ValueError("rename gives two activation nodes the same layer name")
        self._observer: Observer | None = None

    @property
    def layer_names(self) -> list[str]:
        """The names of the activation nodes that calls report."""
        return [self._names[n] for n in self.taps.names]

    @contextmanager
    def observed(self, observer: Observer) -> Iterator[OnnxModule]:
        """Within the block, each call passes ``(name, activation)`` of its taps to ``observer``."""
        previous, self._observer = self._observer, observer
        try:
            yield self
        finally:
            self._observer = previous

    def forward(self, *args: Any, **kwargs: Any) -> Tensor | tuple[Tensor, ...]:
        outputs, acts = self.taps.run(self.taps.feeds(args, kwargs))
        if self._observer is not None:
            for name, a in acts:
                self._observer(self._names[name], torch.from_numpy(a))
        tensors = tuple(torch.from_numpy(o) for o in outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    def extra_repr(self) -> str:
        return f"{self.source}, {len(self.taps.names)} activation nodes"
