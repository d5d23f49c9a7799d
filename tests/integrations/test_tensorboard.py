"""log_profile writes event files whose tags and values are the profile's."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import actsparse
from actsparse.integrations.tensorboard import log_profile


def _profile() -> actsparse.Profile:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 8), torch.nn.ReLU())
    with torch.no_grad():
        net[3].bias[:2] = -100.0  # two dead units in layer 4
    return actsparse.profile(net, [torch.randn(16, 1, 8, 8)])


def test_event_file_has_the_profile_values(tmp_path: Path) -> None:
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    prof = _profile()
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as writer:
        log_profile(writer, prof, step=0)
        tags = log_profile(writer, prof, step=5, prefix="sp")
    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    for layer in ("1", "4"):
        for key in ("density", "zero_fraction", "near_zero_0.001", "near_zero_0.01",
                    "near_zero_0.1", "dead_fraction"):
            assert f"actsparse/{layer}/{key}" in scalars
            assert f"sp/{layer}/{key}" in scalars
    assert set(tags) == {t for t in scalars if t.startswith("sp/")}
    density = acc.Scalars("sp/4/density")
    assert [e.step for e in density] == [5]
    assert density[0].value == pytest.approx(prof["4"].density, rel=1e-6)
    dead = prof["4"].dead_units().tolist()
    assert {0, 1} <= set(dead)
    assert acc.Scalars("sp/4/dead_fraction")[0].value == pytest.approx(len(dead) / 8)
    assert acc.Scalars("sp/1/near_zero_0.01")[0].value == pytest.approx(prof["1"].near_zero(1e-2))
    assert "sp/1/firing_rate" in acc.Tags()["histograms"]


def test_a_folder_gets_its_own_writer(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    log_profile(tmp_path / "run", _profile(), step=1, histograms=False)
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))


def test_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be an actsparse Profile"):
        log_profile(tmp_path, {"density": 0.5})  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install actsparse\[tensorboard\]"):
        log_profile(tmp_path, _profile())
