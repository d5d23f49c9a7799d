"""Small MNIST-sized classifiers whose hidden activation is chosen by a sparsity spec.

``cnn`` follows the spirit of Numenta's sparse CNN (conv -> act -> pool, twice, then a hidden
fully connected layer); ``mlp`` is two hidden fully connected layers. The activation module is
injected per layer (timm's ``act_layer`` idea): ReLU, k-winners-take-all (``KWinners2d`` on
conv maps, ``KWinners`` on vectors) or ``TopK``; ``dropout:P`` adds ``nn.Dropout(P)`` after
every hidden activation. The hidden activations are named ``act1``, ``act2``, ... so that
profiling, penalties and reports address them by name.

``sc:ALPHA`` keeps ReLU everywhere but replaces the cnn's ``conv1`` by a frozen sparse-coding
front end (:class:`~actsparse.interpret.conv_coding.SparseCodingConv2d`, ``c1`` atoms of
``conv1``'s kernel size and padding): ``act1`` then sees non-negative sparse codes. Its
dictionary starts random; the training loop learns it from the training images before the
first epoch. The mlp has no front end to replace: ``sc`` with ``mlp`` is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from actsparse.induce.kwinners import KWinners, KWinners2d
from actsparse.induce.topk import TopK
from actsparse.interpret.conv_coding import SparseCodingConv2d
from actsparse.train.spec import SparsitySpec, SparsitySpecError

if TYPE_CHECKING:
    from actsparse.train.speech_models import DSCNN, GSCCNN

IMAGE_ARCHS = ("mlp", "cnn")
SPEECH_ARCHS = ("ds-cnn", "gsc-cnn")  # keyword spotting on log-mels: see speech_models
ARCHS = (*IMAGE_ARCHS, *SPEECH_ARCHS)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a ``mlp`` or ``cnn``; :func:`model_config` picks it for an input shape.

    Example:
        >>> model_config("cnn", (1, 8, 8)).padding  # 8x8 digits: 'same' 3x3 convs
        1
    """

    arch: str = "cnn"
    in_shape: tuple[int, int, int] = (1, 28, 28)
    classes: int = 10
    channels: tuple[int, ...] = (30, 60)  # 30 as Numenta's sparse CNN; 10% of each map is whole
    kernel: int = 5
    padding: int = 0  # 28x28 -> 24 -> pool 12 -> 8 -> pool 4: no padding needed
    hidden: tuple[int, ...] = (200,)  # fully connected hidden widths (10% is a whole 20 units)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**fields)


def model_config(arch: str, in_shape: tuple[int, int, int], classes: int = 10) -> ModelConfig:
    """The default configuration of ``arch`` (one of :data:`ARCHS`) for ``(C, H, W)`` inputs.

    Example:
        >>> model_config("mlp", (1, 28, 28)).hidden
        (256, 256)
        >>> model_config("ds-cnn", (1, 40, 98), 12).channels  # conv1 and 4 separable blocks
        (64, 64, 64, 64, 64)
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown model {arch!r}; choose one of: {', '.join(ARCHS)}")
    in_shape = (int(in_shape[0]), int(in_shape[1]), int(in_shape[2]))
    if arch == "mlp":
        return ModelConfig("mlp", in_shape, classes, (), 0, 0, (256, 256))
    if arch == "ds-cnn":  # DS-CNN-S of "Hello Edge": 64 channels, 3x3 depthwise kernels
        return ModelConfig("ds-cnn", in_shape, classes, (64,) * 5, 3, 1, ())
    if arch == "gsc-cnn":  # Numenta's GSC CNN: 64 and 64 channels, 5x5, fc 1000
        return ModelConfig("gsc-cnn", in_shape, classes, (64, 64), 5, 0, (1000,))
    if min(in_shape[1:]) >= 16:
        return ModelConfig("cnn", in_shape, classes)
    return ModelConfig("cnn", in_shape, classes, (30, 60), 3, 1, (100,))  # small images


def make_activation(spec: SparsitySpec, shape: tuple[int, ...], name: str) -> nn.Module:
    """The activation module for one hidden layer of output ``shape`` (``(C, H, W)`` or ``(N,)``).

    ``kwta:D`` keeps ``round(D * units)`` winners per sample (``KWinners2d`` over a whole conv
    map, ``KWinners`` on a vector); ``topk:K`` keeps the ``K`` largest of all the layer's units
    per sample (a conv map is ranked whole); the other specs use ReLU.

    Raises :class:`SparsitySpecError` when ``topk:K`` asks for more units than the layer has.

    Example:
        >>> from actsparse.train.spec import parse_sparsity
        >>> make_activation(parse_sparsity("l1:1e-4"), (16,), "act1")
        ReLU()
        >>> make_activation(parse_sparsity("topk:20"), (16,), "act1")
        Traceback (most recent call last):
        ...
        actsparse.train.spec.SparsitySpecError: sparsity 'topk:20': k=20 is larger than layer
        act1, which has 16 units per sample; choose K <= 16
    """
    units = math.prod(shape)
    if spec.kind == "kwta":
        if len(shape) == 3:
            return KWinners2d(shape[0], spec.density)
        return KWinners(units, spec.density)
    if spec.kind == "topk":
        if spec.k > units:
            raise SparsitySpecError(
                f"sparsity '{spec}': k={spec.k} is larger than layer {name}, which has {units} "
                f"units per sample; choose K <= {units}"
            )
        if len(shape) == 3:  # a conv map: the top k of all its C*H*W entries, per sample
            return nn.Sequential(nn.Flatten(1), TopK(spec.k), nn.Unflatten(1, shape))
        return TopK(spec.k)
    return nn.ReLU()


def _front_end(spec: SparsitySpec, cin: int, c1: int, k: int, pad: int) -> nn.Module:
    """The cnn's first layer: a ``Conv2d``, or for ``sc`` a sparse-coding layer like it."""
    if spec.kind != "sc":
        return nn.Conv2d(cin, c1, k, padding=pad)
    return SparseCodingConv2d(cin, c1, k, alpha=spec.alpha, n_iter=spec.iters, padding=pad)


def _dropout(spec: SparsitySpec) -> nn.Module:
    return nn.Dropout(spec.p) if spec.kind == "dropout" else nn.Identity()


class CNN(nn.Module):
    """conv -> act -> pool -> conv -> act -> pool -> fc -> act -> fc.

    Shape:
        input ``(B, C, H, W)``, output ``(B, classes)`` logits.

    Example:
        >>> import torch
        >>> from actsparse.train.spec import parse_sparsity
        >>> net = CNN(model_config("cnn", (1, 28, 28)), parse_sparsity("none"))
        >>> tuple(net(torch.zeros(2, 1, 28, 28)).shape), net.hidden_layers
        ((2, 10), ['act1', 'act2', 'act3'])
    """

    def __init__(self, config: ModelConfig, spec: SparsitySpec) -> None:
        super().__init__()
        (cin, h, w), (c1, c2) = config.in_shape, config.channels
        k, pad = config.kernel, config.padding
        h1, w1 = h + 2 * pad - k + 1, w + 2 * pad - k + 1
        h2, w2 = h1 // 2 + 2 * pad - k + 1, w1 // 2 + 2 * pad - k + 1
        if h2 < 2 or w2 < 2:
            raise ValueError(f"cnn: input {config.in_shape} is too small for kernel {k} with "
                             f"padding {pad}")
        flat = c2 * (h2 // 2) * (w2 // 2)
        self.conv1 = _front_end(spec, cin, c1, k, pad)
        self.act1 = make_activation(spec, (c1, h1, w1), "act1")
        self.drop1 = _dropout(spec)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(c1, c2, k, padding=pad)
        self.act2 = make_activation(spec, (c2, h2, w2), "act2")
        self.drop2 = _dropout(spec)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(flat, config.hidden[0])
        self.act3 = make_activation(spec, (config.hidden[0],), "act3")
        self.drop3 = _dropout(spec)
        self.fc2 = nn.Linear(config.hidden[0], config.classes)
        self.hidden_layers = ["act1", "act2", "act3"]

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.drop1(self.act1(self.conv1(x))))  # (B, C1, H1/2, W1/2)
        x = self.pool2(self.drop2(self.act2(self.conv2(x))))  # (B, C2, H2/2, W2/2)
        x = self.drop3(self.act3(self.fc1(x.flatten(1))))  # (B, hidden)
        return self.fc2(x)  # (B, classes)


class MLP(nn.Module):
    """flatten -> fc -> act -> fc -> act -> fc.

    Shape:
        input ``(B, C, H, W)``, output ``(B, classes)`` logits.

    Example:
        >>> import torch
        >>> from actsparse.train.spec import parse_sparsity
        >>> net = MLP(model_config("mlp", (1, 8, 8)), parse_sparsity("dropout:0.2"))
        >>> tuple(net(torch.zeros(2, 1, 8, 8)).shape), net.hidden_layers
        ((2, 10), ['act1', 'act2'])
    """

    def __init__(self, config: ModelConfig, spec: SparsitySpec) -> None:
        super().__init__()
        if spec.kind == "sc":
            raise SparsitySpecError(
                f"sparsity '{spec}' replaces the cnn's first convolution with a sparse-coding "
                "front end; the mlp has none: use --model cnn (TrainConfig(model='cnn'))")
        if len(config.hidden) != 2:
            raise ValueError(f"mlp: expected 2 hidden widths, got {config.hidden}")
        h1, h2 = config.hidden
        self.fc1 = nn.Linear(math.prod(config.in_shape), h1)
        self.act1 = make_activation(spec, (h1,), "act1")
        self.drop1 = _dropout(spec)
        self.fc2 = nn.Linear(h1, h2)
        self.act2 = make_activation(spec, (h2,), "act2")
        self.drop2 = _dropout(spec)
        self.fc3 = nn.Linear(h2, config.classes)
        self.hidden_layers = ["act1", "act2"]

    def forward(self, x: Tensor) -> Tensor:
        x = self.drop1(self.act1(self.fc1(x.flatten(1))))  # (B, H1)
        x = self.drop2(self.act2(self.fc2(x)))  # (B, H2)
        return self.fc3(x)  # (B, classes)


def build_model(config: ModelConfig, spec: SparsitySpec) -> CNN | MLP | DSCNN | GSCCNN:
    """The model ``config.arch`` with the hidden activations that ``spec`` asks for.

    Every model names its hidden activations in a ``hidden_layers`` list.

    Example:
        >>> from actsparse.train.spec import parse_sparsity
        >>> type(build_model(model_config("mlp", (1, 8, 8)), parse_sparsity("none"))).__name__
        'MLP'
        >>> type(build_model(model_config("ds-cnn", (1, 40, 98)), parse_sparsity("none"))).__name__
        'DSCNN'
    """
    if config.arch == "cnn":
        return CNN(config, spec)
    if config.arch == "mlp":
        return MLP(config, spec)
    if config.arch in SPEECH_ARCHS:
        from actsparse.train import speech_models  # it builds on this module's activations
        cls = speech_models.DSCNN if config.arch == "ds-cnn" else speech_models.GSCCNN
        return cls(config, spec)
    raise ValueError(f"unknown model {config.arch!r}; choose one of: {', '.join(ARCHS)}")


__all__ = ["ARCHS", "CNN", "IMAGE_ARCHS", "MLP", "SPEECH_ARCHS", "ModelConfig", "build_model",
           "make_activation", "model_config"]
