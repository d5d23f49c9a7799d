"""The profile page (write_report): a single self-contained, escaped, well-formed HTML file."""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import actsparse
from actsparse.measure.profile import Profile
from actsparse.report import write_report

PLOTS_WITHOUT_CONV = 5  # density, firing rates, dead units, population density, union

Parse = Callable[[str], Any]


def test_report_is_one_self_contained_file(conv_profile: Profile, tmp_path: Path,
                                           well_formed: Parse) -> None:
    out = write_report(conv_profile, tmp_path)
    assert out == tmp_path / "report.html"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    page = out.read_text(encoding="utf-8")
    assert re.search(r"https?://", page) is None
    checker = well_formed(page)
    assert all(link.startswith("data:image/png;base64,") for link in checker.links)
    assert len(checker.images) == PLOTS_WITHOUT_CONV + 1  # + spatial maps of the conv layers
    for name in conv_profile.names:
        assert f'<td class="name">{html.escape(name)}</td>' in page


def test_dense_model_has_no_spatial_plot(tmp_path: Path, well_formed: Parse) -> None:
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.SiLU())
    prof = actsparse.profile(net, [torch.randn(32, 4)])
    checker = well_formed(write_report(prof, tmp_path / "r.html").read_text())
    assert len(checker.images) == PLOTS_WITHOUT_CONV


def test_layer_names_and_metadata_are_escaped(tmp_path: Path, well_formed: Parse) -> None:
    net = nn.Sequential(nn.Linear(4, 8))
    net.add_module('a<b>&"c$', nn.ReLU())
    prof = actsparse.profile(net, [torch.randn(16, 4)])
    prof.meta["data"] = "<script>alert(1)</script>"
    page = write_report(prof, tmp_path / "r.html", title="<i>mine</i>").read_text()
    assert "<script>" not in page and "<i>mine" not in page
    assert "a&lt;b&gt;&amp;&quot;c$" in page
    checker = well_formed(page)
    assert 'a<b>&"c$' in "".join(checker.text)
    assert "<script>alert(1)</script>" in "".join(checker.text)


def test_missing_folders_are_created(conv_profile: Profile, tmp_path: Path) -> None:
    target = tmp_path / "not" / "yet" / "there" / "sparsity.html"
    assert write_report(conv_profile, target) == target
    assert target.is_file()
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind


def test_nan_statistics_render(tmp_path: Path, well_formed: Parse) -> None:
    class Never(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 0.0

    class NotANumber(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * float("nan")

    actsparse.register_activation(Never)
    actsparse.register_activation(NotANumber)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), Never(), NotANumber(), nn.Flatten(), nn.ReLU())
    prof = actsparse.profile(net, [torch.randn(3, 1, 6, 6)])  # 3 samples: union@8 is NaN
    page = write_report(prof, tmp_path).read_text()
    checker = well_formed(page)
    assert len(checker.images) == PLOTS_WITHOUT_CONV + 1
    assert "nan" not in "".join(checker.text).lower().replace("nan / inf", "")


def test_layer_that_saw_no_data_renders(tmp_path: Path, well_formed: Parse) -> None:
    from actsparse.measure.layer import LayerProfile
    from actsparse.measure.state import new_state

    config = actsparse.ProfileConfig()
    empty = LayerProfile("empty", False, 4, (5, 5), config, new_state(config, 4, (5, 5)))
    prof = Profile({"empty": empty}, config, {"model": "Nothing"})
    well_formed(write_report(prof, tmp_path).read_text())


def test_missing_matplotlib_says_what_to_install(
    conv_profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=re.escape("pip install actsparse[report]")):
        write_report(conv_profile, tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Profile"):
        write_report({"layers": []}, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no layers"):
        write_report(Profile({}, actsparse.ProfileConfig()), tmp_path)
