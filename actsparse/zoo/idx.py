"""A tiny reader for the IDX format of (Fashion-)MNIST, gzipped or not."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

# IDX type code -> NumPy dtype (multi-byte values are big-endian)
_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
                           0x0E: ">f8"}


def read_idx(path: str | Path, limit: int | None = None) -> np.ndarray:
    """Read an IDX file; with ``limit``, only the first ``limit`` items are read from disk.

    The header is two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension.

    Example:
        >>> import tempfile, os
        >>> raw = bytes([0, 0, 0x08, 2]) + (3).to_bytes(4, "big") + (2).to_bytes(4, "big")
        >>> path = os.path.join(tempfile.mkdtemp(), "toy-idx2-ubyte")
        >>> _ = open(path, "wb").write(raw + bytes(range(6)))
        >>> read_idx(path).tolist()
        [[0, 1], [2, 3], [4, 5]]
        >>> read_idx(path, limit=1).tolist()
        [[0, 1]]
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        zero, code, ndim = f.read(2), f.read(1)[0], f.read(1)[0]
        if zero != b"\0\0" or code not in _DTYPES:
            raise ValueError(f"{path} is not an IDX file (bad magic number)")
        shape = [int.from_bytes(f.read(4), "big") for _ in range(ndim)]
        if limit is not None:
            shape[0] = min(shape[0], limit)
        dtype = np.dtype(_DTYPES[code])
        count = int(np.prod(shape))
        data = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype, count=count)
    return data.reshape(shape)
