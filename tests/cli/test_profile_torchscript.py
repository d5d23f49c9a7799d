"""`actsparse profile` on a TorchScript file: the same densities as the eager zoo model."""

from __future__ import annotations

from pathlib import Path

import torch

import actsparse
from actsparse import zoo
from actsparse.cli import main


def test_profile_command_on_a_traced_mnist_cnn(tmp_path: Path) -> None:
    eager = zoo.load_model("mnist-cnn").module.eval()
    traced = torch.jit.trace(eager, torch.zeros(1, 1, 28, 28))
    traced.save(str(tmp_path / "cnn.pt"))
    status = main(["profile", "--model", str(tmp_path / "cnn.pt"), "--data", "mnist",
                   "--limit", "64", "--out", str(tmp_path / "ts"), "--no-progress"])
    assert status == 0
    ts = actsparse.Profile.load(tmp_path / "ts")
    # the eager model on the very batches the command fed the file (a user file has its own
    # preprocessing, not the zoo model's)
    batches = zoo.load_model(tmp_path / "cnn.pt").batches(zoo.load_data("mnist", limit=64),
                                                          batch_size=32)
    ref = actsparse.profile(eager, batches)
    assert len(ts.names) == len(ref.names) == 3  # features.1, features.4, classifier.1
    for t_name, r_name in zip(ts.names, ref.names, strict=True):
        assert ts[t_name].samples == ref[r_name].samples == 64
        assert ts[t_name].units == ref[r_name].units
        torch.testing.assert_close(ts[t_name].firing_rate(), ref[r_name].firing_rate())
