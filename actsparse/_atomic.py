"""Atomic text writes: readers see the old file or the whole new one, never a partial one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and ``os.replace``.

    Creates the parent folder; the file is world-readable (0644), and nothing is left behind
    when writing fails.

    Example:
        >>> import tempfile
        >>> p = write_text_atomic(Path(tempfile.mkdtemp()) / "a" / "x.txt", "hi")
        >>> p.read_text(), sorted(q.name for q in p.parent.iterdir())
        ('hi', ['x.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; reports and JSON are meant to be shared
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target
