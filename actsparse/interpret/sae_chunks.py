"""Activation vectors on disk, in safetensors chunks, for training an SAE on more than fits in
memory.

:func:`save_chunks` writes a stream of ``(n, d)`` tensors (e.g. from
:func:`~actsparse.interpret.capture.stream_activations`) as files of ``vectors_per_file``
vectors each; :class:`ActivationChunks` reads them back as shuffled training batches, holding
at most two files in memory: files are visited in a random order, and each batch mixes the
vectors of the current file with those left over from the previous one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch
from torch import Tensor

from actsparse._atomic import write_text_atomic

__all__ = ["ActivationChunks", "save_chunks"]

INDEX = "chunks.json"


def save_chunks(stream: Iterable[Tensor], folder: str | os.PathLike[str], *,
                vectors_per_file: int = 65_536) -> ActivationChunks:
    """Write the vectors of ``stream`` to ``folder`` as safetensors files; return the reader.

    Each file is written whole or not at all; the index ``chunks.json`` is written last, so a
    folder without it is an interrupted capture.

    Example:
        >>> import tempfile
        >>> chunks = save_chunks((torch.randn(300, 8) for _ in range(3)), tempfile.mkdtemp(),
        ...                      vectors_per_file=256)
        >>> len(chunks), chunks.d_in, chunks.files
        (900, 8, 4)
    """
    from safetensors.torch import save_file

    if vectors_per_file < 1:
        raise ValueError(f"vectors_per_file must be at least 1, got {vectors_per_file}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX).unlink(missing_ok=True)  # a capture that fails now leaves no index behind
    sizes: list[int] = []
    pending: list[Tensor] = []
    held = 0
    d_in: int | None = None

    def flush(rows: Tensor) -> None:
        name = out / f"chunk{len(sizes):05d}.safetensors"
        tmp = name.with_suffix(".tmp")
        try:
            save_file({"vectors": rows.contiguous()}, str(tmp))
            os.replace(tmp, name)
        finally:
            tmp.unlink(missing_ok=True)
        sizes.append(rows.shape[0])

    for part in stream:
        part = _check_part(part, d_in)
        d_in = part.shape[1]
        pending.append(part)
        held += part.shape[0]
        while held >= vectors_per_file:
            rows = torch.cat(pending)
            flush(rows[:vectors_per_file])
            pending, held = [rows[vectors_per_file:]], held - vectors_per_file
    if held:
        flush(torch.cat(pending))
    if d_in is None:
        raise ValueError("the stream gave no vectors: nothing to save")
    write_text_atomic(out / INDEX, json.dumps({"d_in": d_in, "sizes": sizes}))
    return ActivationChunks(out)


class ActivationChunks:
    """Vectors saved by :func:`save_chunks`, read back one file at a time.

    Example:
        >>> import tempfile
        >>> chunks = save_chunks([torch.arange(40.0).reshape(10, 4)], tempfile.mkdtemp(),
        ...                      vectors_per_file=4)
        >>> batches = chunks.batches(3, torch.Generator().manual_seed(0))
        >>> [tuple(next(batches).shape) for _ in range(4)]
        [(3, 4), (3, 4), (3, 4), (3, 4)]
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        index = self.folder / INDEX
        if not index.is_file():
            raise FileNotFoundError(f"{self.folder} has no {INDEX}: not a folder written by "
                                    "save_chunks, or its capture was interrupted")
        meta = json.loads(index.read_text(encoding="utf-8"))
        self.d_in: int = int(meta["d_in"])
        self.sizes: list[int] = [int(n) for n in meta["sizes"]]
        self.files = len(self.sizes)

    def __len__(self) -> int:
        return sum(self.sizes)

    def load(self, i: int) -> Tensor:
        """The vectors of file ``i``, ``(n_i, d_in)`` float32."""
        from safetensors.torch import load_file

        rows: Tensor = load_file(str(self.folder / f"chunk{i:05d}.safetensors"))["vectors"]
        return rows.float()

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """About ``n`` vectors drawn evenly from every file (for statistics: scale, median)."""
        parts = []
        for i, size in enumerate(self.sizes):
            take = max(1, round(n * size / len(self)))
            rows = self.load(i)
            parts.append(rows[torch.randperm(size, generator=generator)[:take]])
        return torch.cat(parts)[:n]

    def batches(self, batch: int, generator: torch.Generator) -> Iterator[Tensor]:
        """Shuffled ``(batch, d_in)`` batches, for ever; two files in memory at most."""
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        left = torch.empty(0, self.d_in)
        while True:
            for i in torch.randperm(self.files, generator=generator).tolist():
                rows = torch.cat([left, self.load(i)])
                rows = rows[torch.randperm(rows.shape[0], generator=generator)]
                full = rows.shape[0] // batch * batch
                for start in range(0, full, batch):
                    yield rows[start:start + batch]
                left = rows[full:]


def _check_part(part: Tensor, d_in: int | None) -> Tensor:
    if not isinstance(part, Tensor) or not part.is_floating_point() or part.dim() != 2:
        raise TypeError("each item of the stream must be a floating-point (n, d) tensor")
    if d_in is not None and part.shape[1] != d_in:
        raise ValueError(f"the stream changed width from {d_in} to {part.shape[1]}")
    if not bool(torch.isfinite(part).all()):
        raise ValueError("the stream has NaN or inf vectors")
    return part.detach().float().cpu()
