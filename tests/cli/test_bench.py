"""``actsparse bench kernels``: the sweep as JSON, and a clear error for bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actsparse.cli import main


def test_bench_kernels_command_writes_the_sweep(tmp_path: Path) -> None:
    out = tmp_path / "kernels.json"
    assert main(["bench", "kernels", "--json", str(out), "--repeats", "2",
                 "--shape", "64", "32"]) == 0
    result = json.loads(out.read_text())
    assert [c["density"] for c in result["batch1"]] == [0.5, 0.3, 0.2, 0.1, 0.05]
    assert [c["batch"] for c in result["batched"]] == [1, 8, 64]
    case = result["batch1"][0]
    assert case["speedup_x_d"] == pytest.approx(case["speedup"] * 0.5)
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "kernels", "--json", str(out), "--repeats", "0"])
    assert exit_.value.code == 2
