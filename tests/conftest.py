"""Fixtures shared across test folders: the packaged language models (loaded once), one thread."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

from actsparse import zoo

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hugging Face hub


@pytest.fixture(scope="session")
def minilm() -> zoo.ZooModel:
    """all-MiniLM-L6-v2 (~4 s to load)."""
    return zoo.load_model("minilm")


@pytest.fixture(scope="session")
def smollm2() -> zoo.ZooModel:
    """SmolLM2-135M-Instruct (~30 s to load on 2 cores): use it only in slow tests."""
    return zoo.load_model("smollm2")


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny models run far faster on one thread than on two contended cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
