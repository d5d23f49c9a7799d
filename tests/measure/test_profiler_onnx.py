"""ONNX models through onnxruntime: the same statistics as eager hooks and as numpy counts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import actsparse
from actsparse.measure.identity import model_fingerprint
from actsparse.measure.onnx_module import OnnxModule

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
helper, TensorProto = onnx.helper, onnx.TensorProto


class _Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 4, 6)
        self.out = nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(self.act(self.conv(x)), 2)  # (B, 4, 4, 4)
        return self.out(self.fc(x.flatten(1)))  # (B, 6)


def _batches(n: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(5, 1, 10, 10, generator=gen) for _ in range(n)]


def _export(net: nn.Module, example: torch.Tensor, path: Path) -> Path:
    buffer = io.BytesIO()
    torch.onnx.export(net, (example,), buffer, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}})
    path.write_bytes(buffer.getvalue())
    return path


def test_an_exported_cnn_gives_the_eager_statistics(tmp_path: Path) -> None:
    net = _Cnn().eval()
    batches = _batches()
    model = OnnxModule(_export(net, batches[0], tmp_path / "cnn.onnx"), threads=1)
    eager = actsparse.profile(net, batches, layers=["act", "out"])
    ort = actsparse.profile(model, batches)
    assert len(ort.names) == 2
    for o_name, e_name in zip(ort.names, ["act", "out"], strict=True):
        o, e = ort[o_name], eager[e_name]
        assert (o.units, o.spatial, o.samples, o.elements) == (e.units, e.spatial, e.samples,
                                                                e.elements)
        torch.testing.assert_close(o.firing_rate(), e.firing_rate())
        assert o.density == pytest.approx(e.density)
        assert o.summary()["max"] == pytest.approx(e.summary()["max"], rel=1e-5)


def _branchy() -> object:
    """``y = Relu(x)`` if ``flag`` else ``Clip(x, 0, 6)`` then, nested, ``Sigmoid(x) * x``."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    flag = helper.make_tensor_value_info("flag", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])

    def branch(name: str, nodes: list, out: str) -> object:
        return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(
            out, TensorProto.FLOAT, ["N", 4])])

    silu = branch("silu", [helper.make_node("Sigmoid", ["x"], ["g"], name="gate"),
                           helper.make_node("Mul", ["x", "g"], ["s"], name="swish")], "s")
    plain = branch("plain", [helper.make_node("Neg", ["x"], ["n"])], "n")
    low = helper.make_tensor("low", TensorProto.FLOAT, [], [0.0])
    high = helper.make_tensor("high", TensorProto.FLOAT, [], [6.0])
    then_g = branch("relu", [helper.make_node("Relu", ["x"], ["r"], name="relu")], "r")
    else_g = helper.make_graph(
        [helper.make_node("Clip", ["x", "low", "high"], ["c"], name="relu6"),
         helper.make_node("Not", ["flag"], ["nf"]),
         helper.make_node("If", ["nf"], ["c2"], then_branch=silu, else_branch=plain,
                          name="inner"),
         helper.make_node("Add", ["c", "c2"], ["e"])],
        "clip", [], [helper.make_tensor_value_info("e", TensorProto.FLOAT, ["N", 4])],
        initializer=[low, high])
    outer = helper.make_node("If", ["flag"], ["y"], then_branch=then_g, else_branch=else_g,
                             name="outer")
    graph = helper.make_graph([outer], "branchy", [x, flag], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_activations_inside_if_branches_match_numpy_counts() -> None:
    model = OnnxModule(_branchy(), threads=1)
    assert model.layer_names == ["relu", "relu6", "swish"]
    gen = np.random.default_rng(0)
    xs = [gen.normal(size=(6, 4)).astype(np.float32) * 4 for _ in range(4)]
    flags = [True, False, True, False]
    batches = [{"x": torch.from_numpy(x), "flag": torch.tensor(f)}
               for x, f in zip(xs, flags, strict=True)]
    prof = actsparse.profile(model, batches)
    taken = [x for x, f in zip(xs, flags, strict=True) if f]
    clipped = [x for x, f in zip(xs, flags, strict=True) if not f]
    relu = np.concatenate([np.maximum(x, 0) for x in taken])
    relu6 = np.concatenate([np.clip(x, 0, 6) for x in clipped])
    swish = np.concatenate([x / (1 + np.exp(-x)) for x in clipped])  # the inner If's then
    assert prof.names == ["relu", "relu6", "swish"]
    for name, ref in [("relu", relu), ("relu6", relu6), ("swish", swish)]:
        layer = prof[name]
        assert layer.samples == ref.shape[0] == 12
        np.testing.assert_allclose(layer.firing_rate().numpy(), (ref != 0).mean(0), atol=1e-12)
        assert layer.summary()["max"] == pytest.approx(float(ref.max()), rel=1e-5)
    out = model(torch.from_numpy(xs[0]), torch.tensor(True))  # outputs stay the model's own
    np.testing.assert_allclose(out.numpy(), np.maximum(xs[0], 0))


def _loop_model() -> object:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Relu", ["v_in"], ["v_out"], name="inside")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["N", 3])])
    trip = helper.make_tensor("trip", TensorProto.INT64, [], [2])
    nodes = [helper.make_node("Tanh", ["x"], ["t"], name="top"),
             helper.make_node("Loop", ["trip", "", "t"], ["y"], body=body, name="loop")]
    graph = helper.make_graph(nodes, "looped", [x], [y], initializer=[trip])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_activations_inside_loops_are_named_as_unreached() -> None:
    model = OnnxModule(_loop_model(), threads=1)
    assert model.layer_names == ["top"] and model.taps.skipped == ["loop/inside"]
    prof = actsparse.profile(model, [torch.randn(4, 3)])
    assert prof.names == ["top"] and prof.meta["unreached_layers"] == ["loop/inside"]


def test_a_wrapper_around_an_onnx_model_is_profiled_under_its_attribute_name() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = OnnxModule(_loop_model(), threads=1)
            self.act = nn.ReLU()  # an eager activation beside it is hooked as usual

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.inner(self.inner(x)) - 0.5)

    x = torch.randn(4, 3)
    prof = actsparse.profile(Twice(), [x])
    assert prof.names == ["inner/top", "act"]
    assert prof["act"].samples == 4
    assert prof["inner/top"].samples == 8  # both calls
    second = np.tanh(np.maximum(np.tanh(x.numpy()), 0))  # the loop's relu feeds the 2nd call
    both = np.concatenate([np.tanh(x.numpy()), second])
    np.testing.assert_allclose(prof["inner/top"].firing_rate().numpy(), (both != 0).mean(0))


def test_no_activation_node_and_layers_argument_are_explained() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    plain = helper.make_model(helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "g",
                                                [x], [y]))
    with pytest.raises(ValueError, match="no activation node"):
        OnnxModule(plain)
    with pytest.raises(TypeError, match="onnxruntime never runs"):
        actsparse.profile(OnnxModule(_loop_model()), [torch.randn(2, 3)], layers=["top"])
    with pytest.raises(TypeError, match="takes 1 inputs"):
        OnnxModule(_loop_model())(torch.randn(2, 3), torch.randn(2, 3))


def test_a_conv1d_activation_counts_its_channels_as_units(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Conv1d(2, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 6, 3),
                        nn.Tanh()).eval()
    x = torch.randn(7, 2, 8)
    model = OnnxModule(_export(net, x, tmp_path / "c1d.onnx"), threads=1)
    prof = actsparse.profile(model, [x])
    conv_act, fc_act = (prof[n] for n in prof.names)
    with torch.no_grad():
        ref = net[1](net[0](x))  # (7, 5, 6): channels first
    assert (conv_act.units, conv_act.spatial, conv_act.samples) == (5, (6, 1), 7)
    torch.testing.assert_close(conv_act.firing_rate(), (ref != 0).double().mean((0, 2)))
    assert (fc_act.units, fc_act.spatial) == (3, ())  # a rank-2 tensor stays (N, D)


def test_a_rank3_activation_away_from_convs_is_read_as_tokens(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU()).eval()
    x = torch.randn(3, 5, 4)  # (batch, tokens, features)
    model = OnnxModule(_export(net, x, tmp_path / "tok.onnx"), threads=1)
    ort, eager = actsparse.profile(model, [x]), actsparse.profile(net, [x])
    (name,) = ort.names
    assert (ort[name].units, ort[name].samples) == (eager["1"].units, eager["1"].samples) == (6, 15)
    torch.testing.assert_close(ort[name].firing_rate(), eager["1"].firing_rate())


def test_two_onnx_models_have_their_own_fingerprints() -> None:
    relu, looped = OnnxModule(_branchy()), OnnxModule(_loop_model())
    prof = actsparse.profile(looped, [torch.randn(2, 3)])
    assert prof.meta["model_fingerprint"] == model_fingerprint(OnnxModule(_loop_model()))
    assert model_fingerprint(relu) != model_fingerprint(looped)


def test_an_input_left_out_is_named() -> None:
    with pytest.raises(TypeError, match="takes the inputs x, flag and was not given flag"):
        OnnxModule(_branchy())(torch.randn(2, 4))
