"""An output folder written all at once: a subcommand that fails leaves nothing half-written.

The files are written into a temporary sibling folder ``.NAME.partial-XXXX``; on success it
becomes ``NAME`` (or, when ``NAME`` already exists, its files replace theirs one by one); on
any failure, Ctrl-C included, the temporary folder and any parent folders made for it are
removed, so ``NAME`` is as it was before the run.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_out(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder to write into; move its files to ``out`` only on success.

    Example:
        >>> import tempfile
        >>> out = Path(tempfile.mkdtemp()) / "run"
        >>> with staged_out(out) as tmp:
        ...     _ = (tmp / "a.txt").write_text("whole")
        >>> sorted(p.name for p in out.parent.iterdir()), (out / "a.txt").read_text()
        (['run'], 'whole')
        >>> try:
        ...     with staged_out(out / "b") as tmp:
        ...         _ = (tmp / "half.txt").write_text("half")
        ...         raise ValueError("failed midway")
        ... except ValueError:
        ...     pass
        >>> sorted(p.name for p in out.iterdir())
        ['a.txt']
    """
    target = Path(os.path.abspath(out))
    made = _make_parents(target.parent)
    tmp = _make_temp(target)
    try:
        yield tmp
        _move_into(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in made:  # deepest first; only the ones this run made, and only if empty
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _make_parents(parent: Path) -> list[Path]:
    """Create ``parent`` and its missing ancestors; the ones made, deepest first."""
    missing = []
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
    return missing


def _make_temp(target: Path) -> Path:
    """A new empty sibling of ``target`` (mode as ``mkdir`` makes it, so the umask applies)."""
    while True:
        tmp = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue


def _move_into(tmp: Path, target: Path) -> None:
    """``tmp`` becomes ``target``; into an existing folder its entries are moved one by one."""
    if not target.exists():
        os.rename(tmp, target)
        return
    for entry in sorted(tmp.iterdir()):
        dest = target / entry.name
        if entry.is_dir() and dest.is_dir():
            _move_into(entry, dest)
        else:
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(entry, dest)
    tmp.rmdir()
