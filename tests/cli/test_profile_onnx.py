"""`actsparse profile` on an ONNX file: onnxruntime's activations give the eager statistics."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from torch import nn

import actsparse
from actsparse.cli import main

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def test_profile_command_on_an_onnx_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU6()).eval()
    buffer = io.BytesIO()
    torch.onnx.export(net, (torch.zeros(1, 32),), buffer, dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}})
    (tmp_path / "net.onnx").write_bytes(buffer.getvalue())
    rows = torch.randn(100, 32)
    torch.save(rows, tmp_path / "rows.pt")
    status = main(["profile", "--model", str(tmp_path / "net.onnx"), "--data",
                   str(tmp_path / "rows.pt"), "--batch-size", "32", "--out", str(tmp_path / "out"),
                   "--no-progress"])
    assert status == 0
    cli = actsparse.Profile.load(tmp_path / "out")
    eager = actsparse.profile(net, [rows])
    assert len(cli.names) == len(eager.names) == 2  # the ReLU and the Clip(0, 6)
    for c_name, e_name in zip(cli.names, eager.names, strict=True):
        assert cli[c_name].samples == eager[e_name].samples == 100
        torch.testing.assert_close(cli[c_name].firing_rate(), eager[e_name].firing_rate())
        assert cli[c_name].density == pytest.approx(eager[e_name].density)
