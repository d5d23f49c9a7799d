"""ONNX models: expose the activation nodes of the graph as extra outputs, run onnxruntime.

A copy of the model returns ``(*outputs, *activations)``. Activations inside ``If`` branches
are reached too: each branch returns its own taps and an empty tensor in place of the other
branch's, so a call yields the activations of the branch that ran. Activations inside ``Loop``
and ``Scan`` bodies are not reached (their body outputs are loop-carried or stacked values);
:attr:`OnnxTaps.skipped` names them. ``onnx`` and ``onnxruntime`` are the ``onnx`` extra and
load only here.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ACTIVATION_OPS", "OnnxTaps", "load_onnx"]

ACTIVATION_OPS = ("Relu", "Sigmoid", "Tanh", "Gelu", "LeakyRelu", "HardSwish", "HardSigmoid",
                  "Elu", "Selu", "Celu", "Softplus", "PRelu", "Mish", "ThresholdedRelu")
CLIP = "Clip"  # a Clip with a lower bound of 0 is a ReLU6 (or a ReLU capped elsewhere)
LOOPS = ("Loop", "Scan")
CONVS = ("Conv", "ConvTranspose", "ConvInteger", "QLinearConv")
# ops that keep a tensor's layout: a chain of them between a Conv and an activation keeps the
# activation channels-first
SAME_LAYOUT = (*ACTIVATION_OPS, CLIP, "BatchNormalization", "InstanceNormalization", "Add",
               "Sub", "Mul", "Div", "Cast", "Identity", "Dropout", "Neg", "Abs", "Sqrt", "Pow")
TAP_PREFIX = "actsparse_tap"


def load_onnx(model: str | Path | bytes | Any) -> Any:
    """An ``onnx.ModelProto`` from a path, serialized bytes or a ModelProto (copied).

    Example:
        >>> from onnx import helper, TensorProto
        >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
        >>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
        >>> proto = helper.make_model(helper.make_graph(
        ...     [helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]))
        >>> load_onnx(proto.SerializeToString()).graph.node[0].op_type
        'Relu'
    """
    onnx = _import("onnx")
    if isinstance(model, str | Path):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file {path} does not exist")
        return onnx.load(str(path))
    if isinstance(model, bytes):
        return onnx.load_from_string(model)
    if isinstance(model, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        return copy
    raise TypeError(f"expected an ONNX path, bytes or onnx.ModelProto, got {type(model).__name__}")


class OnnxTaps:
    """Run an ONNX model in onnxruntime and return its outputs and activation tensors.

    Layer names are the node names (``"/encoder/0/activation/Relu"``), or the op and its order
    in the graph (``"Relu.0"``) where a node has no name. A rank-3 activation next to a Conv
    (through ops that keep the layout) is ``(N, C, L)``, channels first as ONNX convolutions
    are: it is returned as ``(N, C, L, 1)``, so that its channels count as units and ``L`` as
    positions, as for a 2-d convolution (a rank-3 tensor elsewhere is ``(N, T, D)``).

    Args:
        model: a ``.onnx`` path, its bytes or an ``onnx.ModelProto`` (left unchanged).
        threads: onnxruntime intra-op threads (``None``: onnxruntime's choice).

    Example:
        >>> from onnx import helper, TensorProto
        >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
        >>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
        >>> proto = helper.make_model(helper.make_graph(
        ...     [helper.make_node("Relu", ["x"], ["y"], name="act")], "g", [x], [y]))
        >>> taps = OnnxTaps(proto, threads=1)
        >>> outputs, acts = taps.run({"x": np.array([[-1.0, 0.0, 2.0]], np.float32)})
        >>> [(name, a.tolist()) for name, a in acts]
        [('act', [[0.0, 0.0, 2.0]])]
    """

    def __init__(self, model: str | Path | bytes | Any, threads: int | None = None) -> None:
        onnx = _import("onnx")
        ort = _import("onnxruntime")
        proto = load_onnx(model)
        self.digest = hashlib.sha256(proto.SerializeToString()).hexdigest()[:16]
        with contextlib.suppress(Exception):  # inference helps (tap ranks, dtypes); not needed
            proto = onnx.shape_inference.infer_shapes(proto)
        graph = proto.graph
        initializers = {t.name for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in initializers]
        self.input_types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
        self.output_names = [o.name for o in graph.output]
        self.skipped: list[str] = []
        self._counter = _Counter()
        taps = _tap_graph(graph, self._counter, self.skipped, top=True)
        if not taps:
            where = f" ({len(self.skipped)} inside Loop/Scan bodies, which are not reached)" \
                if self.skipped else ""
            raise ValueError(
                f"the ONNX model has no activation node ({', '.join(ACTIVATION_OPS[:6])}, Clip "
                f"from 0, ...) outside Loop/Scan bodies{where}, so there is nothing to profile"
            )
        self.names = [name for name, _ in taps]
        self.channels_first = set(self._counter.channels_first)
        for _, value in taps:
            graph.output.append(onnx.helper.make_empty_tensor_value_info(value))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no notes on unused initializers
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(proto.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])

    def feeds(self, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, np.ndarray]:
        """The graph inputs for a call: positional arguments in input order, then by name.

        Tensors and numbers are converted to arrays of the input's element type.

        Example:
            >>> from onnx import helper, TensorProto
            >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
            >>> k = helper.make_tensor_value_info("k", TensorProto.INT64, [])
            >>> y = helper.make_empty_tensor_value_info("y")
            >>> proto = helper.make_model(helper.make_graph(
            ...     [helper.make_node("Relu", ["x"], ["y"])], "g", [x, k], [y]))
            >>> {n: a.dtype.name for n, a in OnnxTaps(proto).feeds([[1.0]], {"k": 3}).items()}
            {'x': 'float32', 'k': 'int64'}
        """
        onnx = _import("onnx")
        if len(args) > len(self.input_names):
            raise TypeError(f"the ONNX model takes {len(self.input_names)} inputs "
                            f"({', '.join(self.input_names)}), got {len(args)} arguments")
        named = dict(zip(self.input_names, args, strict=False))
        unknown = set(kwargs) - set(self.input_names)
        if unknown:
            raise TypeError(f"the ONNX model has no input {sorted(unknown)[0]!r}; its inputs "
                            f"are {', '.join(self.input_names)}")
        named.update(kwargs)
        missing = [n for n in self.input_names if n not in named]
        if missing:
            raise TypeError(
                f"the ONNX model takes the inputs {', '.join(self.input_names)} and was not "
                f"given {', '.join(missing)}: call it with every input (in Python, batches of "
                "dicts {input name: tensor}); for silero-vad's file use --model silero-vad")
        feeds = {}
        for name, value in named.items():
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            elem = self.input_types.get(name, 0)
            dtype = onnx.helper.tensor_dtype_to_np_dtype(elem) if elem else None
            feeds[name] = np.asarray(value, dtype=dtype)
        return feeds

    def run(self, feeds: dict[str, np.ndarray]) -> tuple[list[np.ndarray],
                                                         list[tuple[str, np.ndarray]]]:
        """Run once: the model's outputs, and ``(name, activation)`` of every tap that ran."""
        values = self.session.run(None, feeds)
        n = len(self.output_names)
        acts = [(name, a[..., None] if a.ndim == 3 and name in self.channels_first else a)
                for name, a in zip(self.names, values[n:], strict=True) if a.size]
        return list(values[:n]), acts


class _Counter:
    """Unique names for the values the taps add, and per-op indices for unnamed nodes."""

    def __init__(self) -> None:
        self.values = 0
        self.ops: dict[str, int] = {}
        self.channels_first: set[str] = set()

    def value(self) -> str:
        self.values += 1
        return f"{TAP_PREFIX}_{self.values}"

    def layer(self, node: Any) -> str:
        index = self.ops.get(node.op_type, 0)
        self.ops[node.op_type] = index + 1
        name = node.name or f"{node.op_type}.{index}"
        return name.replace("#", "_").replace(":", "_")  # '#' and ':' mean call and input


def _tap_graph(graph: Any, counter: _Counter, skipped: list[str], top: bool = False
               ) -> list[tuple[str, str]]:
    """Add taps to ``graph`` (and its If branches); return ``(layer name, value name)`` pairs
    whose values are visible in ``graph``'s scope."""
    onnx = _import("onnx")
    constants = _constants(graph)
    consumers: dict[str, list[Any]] = {}
    producers: dict[str, Any] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
        for name in node.output:
            producers[name] = node
    taps: list[tuple[str, str]] = []
    extra: list[Any] = []  # Identity nodes that copy a tap out under its own name
    for node in list(graph.node):
        if node.op_type in ACTIVATION_OPS or (node.op_type == CLIP and _clips_at_zero(
                node, constants)):
            silu = _silu_product(node, consumers)
            value = silu.output[0] if silu is not None else node.output[0]
            name = counter.layer(silu if silu is not None else node)
            if _next_to_conv(node, producers, consumers):
                counter.channels_first.add(name)
            copy = counter.value()
            extra.append(onnx.helper.make_node("Identity", [value], [copy]))
            taps.append((name, copy))
        elif node.op_type == "If":
            taps += _tap_if(node, counter, skipped)
        elif node.op_type in LOOPS:
            skipped += [f"{node.name or node.op_type}/{n.name or n.op_type}"
                        for n in _nodes_below(node) if n.op_type in ACTIVATION_OPS]
    graph.node.extend(extra)
    if not top:  # a branch returns its taps as outputs
        types = _value_types(graph)
        for _, value in taps:
            graph.output.append(types.get(value) or onnx.helper.make_empty_tensor_value_info(value))
    return taps


def _tap_if(node: Any, counter: _Counter, skipped: list[str]) -> list[tuple[str, str]]:
    """Tap both branches of an If node; each branch returns empties for the other's taps."""
    branches = {a.name: a.g for a in node.attribute if a.name in ("then_branch", "else_branch")}
    then_g, else_g = branches["then_branch"], branches["else_branch"]
    n_then, n_else = len(then_g.output), len(else_g.output)
    then_taps = _tap_graph(then_g, counter, skipped)
    else_taps = _tap_graph(else_g, counter, skipped)
    # then_g: [original, then taps]; append empties for the else taps, and the other way round
    _append_empties(then_g, [else_g.output[n_else + i] for i in range(len(else_taps))], counter,
                    before=None)
    _append_empties(else_g, [then_g.output[n_then + i] for i in range(len(then_taps))], counter,
                    before=n_else)
    outs = []
    for name, _ in then_taps + else_taps:
        out = counter.value()
        node.output.append(out)
        outs.append((name, out))
    return outs


def _append_empties(graph: Any, like: list[Any], counter: _Counter, before: int | None) -> None:
    """Add outputs to ``graph`` holding empty tensors of the dtype and rank of ``like``,
    at the end or at position ``before`` (the then-branch taps come first in both)."""
    onnx = _import("onnx")
    made = []
    for info in like:
        ttype = info.type.tensor_type
        elem = ttype.elem_type or onnx.TensorProto.FLOAT
        rank = len(ttype.shape.dim) if ttype.HasField("shape") else 1
        name = counter.value()
        dims = [0] * max(rank, 1)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(elem)
        tensor = onnx.numpy_helper.from_array(np.zeros(dims, dtype=dtype), name)
        graph.node.append(onnx.helper.make_node("Constant", [], [name], value=tensor))
        out = onnx.ValueInfoProto()
        out.CopyFrom(info)
        out.name = name
        made.append(out)
    if before is None:
        graph.output.extend(made)
        return
    outputs = list(graph.output)
    del graph.output[:]
    graph.output.extend(outputs[:before] + made + outputs[before:])


def _value_types(graph: Any) -> dict[str, Any]:
    """Type information of the values tapped in ``graph``, keyed by their copies' names."""
    onnx = _import("onnx")
    known = {v.name: v for v in list(graph.value_info) + list(graph.output)}
    types = {}
    for node in graph.node:
        if node.op_type == "Identity" and node.output[0].startswith(TAP_PREFIX):
            info = known.get(node.input[0])
            if info is not None and info.type.HasField("tensor_type"):
                copy = onnx.ValueInfoProto()
                copy.CopyFrom(info)
                copy.name = node.output[0]
                types[node.output[0]] = copy
        elif node.op_type == "If":  # its tap outputs take their type from the branch
            branch = next(a.g for a in node.attribute if a.name == "then_branch")
            for out, info in zip(node.output, branch.output, strict=False):
                if out.startswith(TAP_PREFIX):
                    copy = onnx.ValueInfoProto()
                    copy.CopyFrom(info)
                    copy.name = out
                    types[out] = copy
    return types


def _next_to_conv(node: Any, producers: dict[str, Any], consumers: dict[str, list[Any]],
                  depth: int = 6) -> bool:
    """Whether a Conv feeds ``node`` or is fed by it through ops that keep the layout."""
    back, ahead = [node], [node]
    for _ in range(depth):
        back = [producers[v] for n in back for v in n.input[:1] if v in producers]
        ahead = [c for n in ahead for v in n.output for c in consumers.get(v, [])]
        if any(n.op_type in CONVS for n in back + ahead):
            return True
        back = [n for n in back if n.op_type in SAME_LAYOUT]
        ahead = [n for n in ahead if n.op_type in SAME_LAYOUT]
        if not back and not ahead:
            return False
    return False


def _constants(graph: Any) -> dict[str, np.ndarray]:
    """Values known in ``graph``: its initializers and Constant nodes."""
    onnx = _import("onnx")
    found = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    found[node.output[0]] = onnx.numpy_helper.to_array(attr.t)
    return found


def _clips_at_zero(node: Any, constants: dict[str, np.ndarray]) -> bool:
    """Whether a Clip node's lower bound is 0 (input 1 from opset 11, attribute ``min`` before)."""
    for attr in node.attribute:
        if attr.name == "min":
            return attr.f == 0.0
    if len(node.input) < 2 or not node.input[1] or node.input[1] not in constants:
        return False
    low = constants[node.input[1]]
    return low.size == 1 and float(low.reshape(-1)[0]) == 0.0


def _silu_product(node: Any, consumers: dict[str, list[Any]]) -> Any:
    """The Mul node of ``x * Sigmoid(x)`` (SiLU / Swish as exported) whose Sigmoid is ``node``,
    or None: the product, not the gate, is the activation."""
    if node.op_type != "Sigmoid":
        return None
    for user in consumers.get(node.output[0], []):
        if user.op_type == "Mul" and node.input[0] in user.input:
            return user
    return None


def _nodes_below(node: Any) -> list[Any]:
    """Every node in the subgraphs of ``node``, at any depth."""
    found = []
    for attr in node.attribute:
        graphs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
        for graph in graphs:
            for inner in graph.node:
                found.append(inner)
                found += _nodes_below(inner)
    return found


def _import(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError as err:
        raise ImportError(f"profiling ONNX models needs {name}: pip install 'actsparse[onnx]'"
                          ) from err
