"""Activation chunks on disk: written whole, read back shuffled, and an SAE trained from them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from actsparse.interpret.sae_chunks import ActivationChunks, save_chunks
from actsparse.interpret.sae_eval import fvu
from actsparse.interpret.sae_train import train_sae


def parts(n_parts: int, rows: int, d: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(rows, d, generator=gen) for _ in range(n_parts)]


def sorted_rows(x: torch.Tensor) -> torch.Tensor:
    return x[torch.argsort(x[:, 0])]


@pytest.mark.parametrize("per_file", [1, 7, 64, 1000])
def test_round_trip_keeps_every_vector(tmp_path: Path, per_file: int) -> None:
    data = parts(5, 13, 6)
    chunks = save_chunks(iter(data), tmp_path, vectors_per_file=per_file)
    assert len(chunks) == 65 and chunks.d_in == 6
    assert all(n <= per_file for n in chunks.sizes)
    back = torch.cat([chunks.load(i) for i in range(chunks.files)])
    torch.testing.assert_close(back, torch.cat(data))
    assert len(ActivationChunks(tmp_path)) == 65  # reopened from the index


def test_first_pass_of_batches_repeats_no_vector(tmp_path: Path) -> None:
    x = torch.arange(103.0).reshape(-1, 1).repeat(1, 3)
    chunks = save_chunks([x], tmp_path, vectors_per_file=10)
    batches = chunks.batches(8, torch.Generator().manual_seed(1))
    seen = torch.cat([next(batches)[:, 0] for _ in range(103 // 8)])
    assert seen.unique().numel() == seen.numel()
    assert all(next(batches).shape == (8, 3) for _ in range(30))  # and on, across passes


def test_a_failed_capture_leaves_no_index(tmp_path: Path) -> None:
    save_chunks(parts(2, 10, 4), tmp_path, vectors_per_file=8)

    def broken() -> Iterator[torch.Tensor]:
        yield torch.randn(20, 4)
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        save_chunks(broken(), tmp_path, vectors_per_file=8)
    with pytest.raises(FileNotFoundError, match="interrupted"):
        ActivationChunks(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("stream,match", [
    ([torch.randn(4, 3), torch.randn(4, 5)], "width"),
    ([torch.tensor([[float("nan"), 1.0]])], "NaN"),
    ([], "no vectors"),
])
def test_bad_streams_are_refused(tmp_path: Path, stream: list[torch.Tensor], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        save_chunks(stream, tmp_path)


def test_an_sae_trained_from_chunks_fits_as_well_as_from_memory(tmp_path: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    atoms = torch.randn(48, 16, generator=gen)
    codes = torch.rand(4096, 48, generator=gen) * (torch.rand(4096, 48, generator=gen) < 0.08)
    x = codes @ atoms
    chunks = save_chunks(x.split(500), tmp_path, vectors_per_file=700)
    kwargs = dict(n_latents=96, k=6, steps=150, batch_size=256, seed=0)
    from_disk = train_sae(chunks, **kwargs).sae  # type: ignore[arg-type]
    in_memory = train_sae(x, **kwargs).sae  # type: ignore[arg-type]
    with torch.no_grad():
        disk, memory = (fvu(x, s(x).reconstruction) for s in (from_disk, in_memory))
    assert disk < 0.25
    assert disk == pytest.approx(memory, abs=0.02)
