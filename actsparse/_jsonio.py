"""Strict JSON: NaN and infinities become ``null``, tensors and numpy values plain numbers,
written atomically. Every JSON file the library writes goes through here."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from actsparse._atomic import write_text_atomic


def to_jsonable(value: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """``value`` as plain JSON types; non-finite floats become ``None``.

    ``default`` converts what has no JSON form (e.g. ``str``); without it, that raises
    TypeError.

    Example:
        >>> import torch
        >>> to_jsonable({"a": float("nan"), "b": torch.tensor([1.5, float("inf")]), "c": (1, 2)})
        {'a': None, 'b': [1.5, None], 'c': [1, 2]}
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, default) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, default) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value), default)
    tolist = getattr(value, "tolist", None)  # torch tensors, numpy arrays and scalars
    if callable(tolist):
        return to_jsonable(tolist(), default)
    if default is not None:
        return to_jsonable(default(value))
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(payload: Any, indent: int | None = 2, default: Callable[[Any], Any] | None = None
          ) -> str:
    """Strict JSON text of ``payload`` (see :func:`to_jsonable`)."""
    return json.dumps(to_jsonable(payload, default), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], payload: Any, indent: int | None = 2,
               default: Callable[[Any], Any] | None = None) -> Path:
    """Write ``payload`` as strict JSON to ``path``, atomically.

    Example:
        >>> import tempfile
        >>> p = write_json(Path(tempfile.mkdtemp()) / "r.json", {"x": float("inf")})
        >>> p.read_text()
        '{\\n  "x": null\\n}\\n'
    """
    return write_text_atomic(path, dumps(payload, indent, default) + "\n")
