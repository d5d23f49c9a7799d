"""silero-vad as a zoo model: its profile equals independent counts of its activations.

The counts are taken (1) by onnxruntime on the 16 kHz branch of the shipped ONNX graph,
rebuilt by hand as a model of its own whose activations are plain outputs, counted with numpy,
and (2) by the TorchScript file the package also ships, through the graph taps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _gsc import write_tiny_gsc

import actsparse
from actsparse import zoo
from actsparse.cli import main

pytest.importorskip("silero_vad")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from actsparse.measure.torchscript import ScriptTaps  # noqa: E402
from actsparse.zoo.silero import CHUNK, CONTEXT, SILERO, layer_name  # noqa: E402

ACTS = ("Relu", "Sigmoid")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, torch.Tensor]:
    name = f"speech-commands:{write_tiny_gsc(tmp_path_factory.mktemp('gsc'), reps=1)}"
    return name, zoo.load_speech(name, "test").waves  # (N, 16000)


def _branch_session() -> tuple[ort.InferenceSession, list[str]]:
    """The If's 16 kHz branch as a model: inputs ``input`` and ``state``, its activations out."""
    model = onnx.load(str(SILERO.file("data/silero_vad.onnx")))
    if_node = next(n for n in model.graph.node if n.op_type == "If")
    branch = next(a.g for a in if_node.attribute if a.name == "then_branch")  # sr == 16000
    acts = [n for n in branch.node if n.op_type in ACTS]
    graph = onnx.helper.make_graph(
        list(branch.node), "vad16k",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["B", 576]),
         onnx.helper.make_tensor_value_info("state", onnx.TensorProto.FLOAT, [2, "B", 128])],
        list(branch.output) + [onnx.helper.make_empty_tensor_value_info(n.output[0])
                               for n in acts],
        initializer=list(branch.initializer))
    standalone = onnx.helper.make_model(graph, opset_imports=model.opset_import)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(standalone.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session, [n.name for n in acts]


def _chunks(waves: torch.Tensor) -> list[torch.Tensor]:
    calls = -(-waves.shape[1] // CHUNK)
    padded = torch.nn.functional.pad(waves, (0, calls * CHUNK - waves.shape[1]))
    return [padded[:, i * CHUNK:(i + 1) * CHUNK] for i in range(calls)]


def _numpy_counts(waves: torch.Tensor, batch: int) -> dict[str, tuple[int, int]]:
    """``layer -> (nonzero, elements)`` over every 512-sample call, batch by batch."""
    session, names = _branch_session()
    counts = {layer_name(n): [0, 0] for n in names}
    for start in range(0, len(waves), batch):
        part = waves[start:start + batch].numpy()
        context = np.zeros((len(part), CONTEXT), np.float32)
        state = np.zeros((2, len(part), 128), np.float32)
        for chunk in _chunks(torch.from_numpy(part)):
            x = np.concatenate([context, chunk.numpy()], axis=1)
            _, state, *acts = session.run(None, {"input": x, "state": state})
            context = x[:, -CONTEXT:]
            for name, a in zip(names, acts, strict=True):
                counts[layer_name(name)][0] += int(np.count_nonzero(a))
                counts[layer_name(name)][1] += a.size
    return {k: (v[0], v[1]) for k, v in counts.items()}


def test_profile_command_on_silero_vad_equals_a_numpy_count(
        clips: tuple[str, torch.Tensor], tmp_path: Path) -> None:
    name, waves = clips
    status = main(["profile", "--model", "silero-vad", "--data", name, "--batch-size", "3",
                   "--out", str(tmp_path / "vad"), "--no-progress"])
    assert status == 0
    prof = actsparse.Profile.load(tmp_path / "vad")
    counts = _numpy_counts(waves, batch=3)
    assert prof.names == list(counts)  # the 16 kHz branch only: the 8 kHz one never ran
    calls = len(waves) * 32  # 16,000 samples: 31 full chunks and a padded one
    for layer, (active, elements) in counts.items():
        got = prof[layer]
        assert got.samples == calls
        assert got.elements == elements
        assert got.density == active / elements


def test_the_torchscript_file_gives_the_same_densities(clips: tuple[str, torch.Tensor]) -> None:
    _, waves = clips
    onnx_prof = actsparse.profile(zoo.load_model("silero-vad").module, [waves])
    jit = torch.jit.load(str(SILERO.file("data/silero_vad.jit")))
    taps = ScriptTaps(jit._model)  # the 16 kHz network: forward(x, state) -> (prob, state)
    active: dict[str, int] = {}
    total: dict[str, int] = {}
    context, state = torch.zeros(len(waves), CONTEXT), torch.zeros(2, len(waves), 128)
    with torch.no_grad():
        for chunk in _chunks(waves):
            x = torch.cat([context, chunk], dim=1)
            (_, state), acts = taps.run(x, state)
            context = x[:, -CONTEXT:]
            for n, a in acts:
                active[n] = active.get(n, 0) + int(torch.count_nonzero(a))
                total[n] = total.get(n, 0) + a.numel()
    assert len(active) == len(onnx_prof.names) == 6  # 5 ReLU and the output Sigmoid
    for ts_name, layer in zip(active, onnx_prof.names, strict=True):
        assert total[ts_name] == onnx_prof[layer].elements
        # two runtimes, one set of weights: values at the edge of 0 may fall either way
        assert active[ts_name] / total[ts_name] == pytest.approx(onnx_prof[layer].density,
                                                                 abs=1e-3)
