"""Build and load small C kernels at run time, with a C compiler if one is there.

A kernel is one C source file shipped in the package. :func:`load_library` compiles it once
with ``cc -O3 -march=native -fopenmp -shared -fPIC`` (dropping the flags the compiler rejects),
caches the shared library under a per-user folder keyed by a hash of the source, the flags,
the compiler and the CPU, and loads it with ctypes. It returns ``None`` (after one logged
warning) when there is no compiler or the build fails, so every caller keeps a torch fallback.

Environment:
    ``ACTSPARSE_CACHE_DIR``: where built libraries go (default ``~/.cache/actsparse``, or under
    ``$XDG_CACHE_HOME``). ``ACTSPARSE_NO_NATIVE=1``: never build or load native code.
    ``CC``: the compiler (default ``cc``).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger("actsparse")

# Tried in order until one builds. -ffp-contract=off: no fused multiply-adds, so float results
# round like the torch reference; no -ffast-math for the same reason.
_BASE_FLAGS = ("-O3", "-shared", "-fPIC", "-std=gnu11", "-ffp-contract=off")
_FLAG_SETS = (
    ("-march=native", "-fopenmp"),
    ("-fopenmp",),
    ("-march=native",),
    (),
)


def _flag_sets() -> tuple[tuple[str, ...], ...]:
    """The flag sets to try; ``ACTSPARSE_NATIVE_ARCH`` (e.g. ``x86-64``, ``x86-64-v3``) builds
    for that architecture instead of ``-march=native`` (to test the kernels' narrower vector
    paths on a wider machine)."""
    arch = os.environ.get("ACTSPARSE_NATIVE_ARCH", "").strip()
    if not arch:
        return _FLAG_SETS
    return tuple(tuple(f"-march={arch}" if f == "-march=native" else f for f in fs)
                 for fs in _FLAG_SETS)


def native_disabled() -> bool:
    """True when ``ACTSPARSE_NO_NATIVE`` is set to a true value (``1``, ``true``, ``yes``).

    Example:
        >>> import os
        >>> native_disabled() == (os.environ.get("ACTSPARSE_NO_NATIVE", "") in ("1", "true", "yes"))
        True
    """
    return os.environ.get("ACTSPARSE_NO_NATIVE", "").strip().lower() in ("1", "true", "yes")


def cache_dir() -> Path:
    """The folder where built libraries are cached.

    Example:
        >>> cache_dir().name in ("actsparse", os.environ.get("ACTSPARSE_CACHE_DIR", "actsparse"))
        True
    """
    override = os.environ.get("ACTSPARSE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "actsparse"


Signatures = Mapping[str, tuple[Sequence[Any], Any]]


def load_library(
    name: str, source: str | os.PathLike[str], signatures: Signatures | None = None
) -> ctypes.CDLL | None:
    """Compile the C file ``source`` (once, cached on disk) and load it; ``None`` if impossible.

    ``name`` names the cached file and the warning. ``signatures`` maps each exported function
    to its ``(argtypes, restype)``, set on the loaded library. The result is cached for the
    process; :func:`clear_cache` forgets it (tests).

    Example:
        >>> import pathlib, tempfile
        >>> src = pathlib.Path(tempfile.mkdtemp()) / "answer.c"
        >>> _ = src.write_text("int answer(void) { return 42; }")
        >>> lib = load_library("answer", src)
        >>> lib is None or lib.answer() == 42
        True
    """
    if native_disabled():
        return None
    lib = _load_as_given(name, os.fspath(source))
    for symbol, (argtypes, restype) in (signatures or {}).items():
        function = getattr(lib, symbol, None) if lib is not None else None
        if function is not None and function.argtypes is None:
            function.argtypes = list(argtypes)
            function.restype = restype
    return lib


def clear_cache() -> None:
    """Forget the libraries loaded (or failed) in this process, e.g. after changing ``CC``."""
    _load_as_given.cache_clear()
    _load.cache_clear()
    _compiler_id.cache_clear()


@cache
def _load_as_given(name: str, source: str) -> ctypes.CDLL | None:
    """Kernels call load_library on every forward: resolve the path once, not per call."""
    return _load(name, str(Path(source).resolve()))


@cache
def _load(name: str, source: str) -> ctypes.CDLL | None:
    try:
        code = Path(source).read_bytes()
    except OSError as err:
        _give_up(name, f"cannot read {source}: {err}")
        return None
    cc = os.environ.get("CC", "cc")
    ident = _compiler_id(cc)
    if ident is None:
        _give_up(name, f"no C compiler found ({cc!r}; set CC to choose one)")
        return None
    key = hashlib.sha256(
        b"\0".join([code, repr((_BASE_FLAGS, _flag_sets())).encode(), ident.encode(), _cpu_id()])
    ).hexdigest()[:20]
    path = cache_dir() / f"{name}-{key}.so"
    if not path.exists():
        error = _build(cc, source, path)
        if error is not None:
            _give_up(name, error)
            return None
    try:
        return ctypes.CDLL(str(path))
    except OSError as err:
        _give_up(name, f"cannot load {path}: {err}")
        return None


def _build(cc: str, source: str, path: Path) -> str | None:
    """Compile to a temporary file next to ``path`` and move it in place; the error, or None."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create the cache folder {path.parent}: {err}"
    error = "no flags worked"
    for extra in _flag_sets():
        fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        cmd = [cc, *_BASE_FLAGS, *extra, source, "-o", tmp, "-lm"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as err:
            done, error = None, f"{' '.join(cmd)} failed: {err}"
        if done is not None and done.returncode == 0:
            os.replace(tmp, path)  # atomic: concurrent builders each write a whole file
            log.debug("built %s with %s", path, " ".join(cmd))
            return None
        if done is not None:
            error = f"{' '.join(cmd)} failed:\n{done.stderr.strip()[-2000:]}"
        Path(tmp).unlink(missing_ok=True)
    return error


@cache
def _compiler_id(cc: str) -> str | None:
    """The compiler's version line, or None if it cannot be run."""
    exe = shutil.which(cc)
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return f"{exe} {done.stdout.splitlines()[0] if done.stdout else ''}"


def _cpu_id() -> bytes:
    """What -march=native depends on: the machine and, on Linux, the CPU model and flags."""
    parts = [platform.machine(), platform.processor()]
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    parts.append(line.strip())
                if line.strip() == "":
                    break  # the first processor is enough
    except OSError:
        pass
    return "\n".join(parts).encode()


def _give_up(name: str, why: str) -> None:
    log.warning("actsparse: native kernel %r unavailable, using the torch path: %s", name, why)
