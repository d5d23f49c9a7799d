"""A tiny study on scikit-learn's digits, built once for the study and browser tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from study.study_settings import FAST


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """dense and k-WTA, 2 seeds, 1 epoch on 300 digits, measured on 100 test digits."""
    from actsparse.study.study import run_study

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("tiny_study")
    try:
        study = run_study("digits", 2, 1, out, variants=["dense", "kwta"], train_limit=300,
                          test_limit=100, settings=FAST, progress=False)
    finally:
        torch.set_num_threads(threads)
    return out, study
