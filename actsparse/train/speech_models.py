"""Keyword-spotting networks on log-mel spectrograms ``(B, 1, 40, 98)``: ``ds-cnn``, ``gsc-cnn``.

``ds-cnn`` is the DS-CNN-S of Zhang et al. 2017 ("Hello Edge: Keyword Spotting on
Microcontrollers"): a 10x4 convolution with stride 2 to 64 channels, four depthwise-separable
blocks (3x3 depthwise, 1x1 pointwise, each followed by BatchNorm and the activation), global
average pooling and a linear classifier. The paper's input is time x frequency; here the mel
bands are rows and the frames columns, so its 10 (frames) x 4 (bands) kernel is ``(4, 10)``.

``gsc-cnn`` has the shape of Numenta's Google Speech Commands CNN ("How Can We Be So Dense?",
Ahmad & Scheinkman 2019): conv 5x5 to 64 -> BatchNorm -> max-pool 2 -> activation, twice, then
a hidden fully connected layer of 1000 units and the classifier. Its BatchNorms have no affine
parameters, as in Numenta's code.

The activation of each hidden layer comes from the sparsity spec, as for the image models
(:func:`~actsparse.train.models.make_activation`); the layers are named ``act1``, ``act2``, ...
``sc`` (a sparse-coding front end) is the image cnn's only and is refused here.
"""

from __future__ import annotations

from torch import Tensor, nn

from actsparse.train.models import ModelConfig, make_activation
from actsparse.train.spec import SparsitySpec, SparsitySpecError


def _refuse_sc(spec: SparsitySpec, arch: str) -> None:
    if spec.kind == "sc":
        raise SparsitySpecError(
            f"sparsity '{spec}' replaces the image cnn's first convolution with a sparse-coding "
            f"front end; {arch} has none: use another --sparsity, or --model cnn on images")


def _hidden(spec: SparsitySpec, shape: tuple[int, ...], name: str) -> tuple[nn.Module, nn.Module]:
    """A hidden layer's activation from the spec, and the dropout after it (or nothing)."""
    drop = nn.Dropout(spec.p) if spec.kind == "dropout" else nn.Identity()
    return make_activation(spec, shape, name), drop


class DSCNN(nn.Module):
    """conv(4x10, stride 2) -> BN -> act, 4 x [depthwise 3x3 -> BN -> act -> 1x1 -> BN -> act],
    average pool, linear.

    Shape:
        input ``(B, 1, H, W)`` (40 mel bands x 98 frames), output ``(B, classes)`` logits.

    Example:
        >>> import torch
        >>> from actsparse.train.models import model_config
        >>> from actsparse.train.spec import parse_sparsity
        >>> net = DSCNN(model_config("ds-cnn", (1, 40, 98), 12), parse_sparsity("kwta:0.1"))
        >>> tuple(net(torch.zeros(2, 1, 40, 98)).shape), len(net.hidden_layers)
        ((2, 12), 9)
    """

    def __init__(self, config: ModelConfig, spec: SparsitySpec) -> None:
        super().__init__()
        _refuse_sc(spec, "ds-cnn")
        (cin, h, w), c = config.in_shape, config.channels[0]
        if any(ch != c for ch in config.channels):
            raise ValueError(f"ds-cnn: every block has the same width, got {config.channels}")
        h1, w1 = (h + 2 * 1 - 4) // 2 + 1, (w + 2 * 4 - 10) // 2 + 1  # 40x98 -> 20x49
        if h1 < 1 or w1 < 1:
            raise ValueError(f"ds-cnn: input {config.in_shape} is too small for a 4x10 kernel")
        shape = (c, h1, w1)
        self.conv1 = nn.Sequential(nn.Conv2d(cin, c, (4, 10), stride=2, padding=(1, 4),
                                             bias=False), nn.BatchNorm2d(c))
        self.act1, self.drop1 = _hidden(spec, shape, "act1")
        self.hidden_layers = ["act1"]
        k = config.kernel
        for b in range(1, len(config.channels)):  # blocks: act(2b) depthwise, act(2b+1) 1x1
            depthwise = nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False)
            pointwise = nn.Conv2d(c, c, 1, bias=False)
            for i, conv in ((2 * b, depthwise), (2 * b + 1, pointwise)):
                act, drop = _hidden(spec, shape, f"act{i}")
                self.add_module(f"conv{i}", nn.Sequential(conv, nn.BatchNorm2d(c)))
                self.add_module(f"act{i}", act)
                self.add_module(f"drop{i}", drop)
                self.hidden_layers.append(f"act{i}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, config.classes)

    def forward(self, x: Tensor) -> Tensor:
        # submodules looked up by name at each call: a module swapped in (export, accelerate)
        # is the one that runs
        for i in range(1, len(self.hidden_layers) + 1):
            conv, act, drop = (getattr(self, f"{p}{i}") for p in ("conv", "act", "drop"))
            x = drop(act(conv(x)))  # (B, C, H/2, W/2)
        return self.fc(self.pool(x).flatten(1))  # (B, classes)


class GSCCNN(nn.Module):
    """conv 5x5 -> BN -> pool -> act, twice, then fc 1000 -> act -> fc.

    Shape:
        input ``(B, 1, H, W)`` (40 mel bands x 98 frames), output ``(B, classes)`` logits.

    Example:
        >>> import torch
        >>> from actsparse.train.models import model_config
        >>> from actsparse.train.spec import parse_sparsity
        >>> net = GSCCNN(model_config("gsc-cnn", (1, 40, 98), 12), parse_sparsity("none"))
        >>> tuple(net(torch.zeros(2, 1, 40, 98)).shape), net.hidden_layers
        ((2, 12), ['act1', 'act2', 'act3'])
    """

    def __init__(self, config: ModelConfig, spec: SparsitySpec) -> None:
        super().__init__()
        _refuse_sc(spec, "gsc-cnn")
        (cin, h, w), (c1, c2), k = config.in_shape, config.channels, config.kernel
        h1, w1 = (h - k + 1) // 2, (w - k + 1) // 2  # 40x98 -> 36x94 -> pool 18x47
        h2, w2 = (h1 - k + 1) // 2, (w1 - k + 1) // 2  # -> 14x43 -> pool 7x21
        if h2 < 1 or w2 < 1:
            raise ValueError(f"gsc-cnn: input {config.in_shape} is too small for kernel {k}")
        self.conv1 = nn.Conv2d(cin, c1, k)
        self.bn1 = nn.BatchNorm2d(c1, affine=False)
        self.pool1 = nn.MaxPool2d(2)
        self.act1, self.drop1 = _hidden(spec, (c1, h1, w1), "act1")
        self.conv2 = nn.Conv2d(c1, c2, k)
        self.bn2 = nn.BatchNorm2d(c2, affine=False)
        self.pool2 = nn.MaxPool2d(2)
        self.act2, self.drop2 = _hidden(spec, (c2, h2, w2), "act2")
        self.fc1 = nn.Linear(c2 * h2 * w2, config.hidden[0])
        self.act3, self.drop3 = _hidden(spec, (config.hidden[0],), "act3")
        self.fc2 = nn.Linear(config.hidden[0], config.classes)
        self.hidden_layers = ["act1", "act2", "act3"]

    def forward(self, x: Tensor) -> Tensor:
        x = self.drop1(self.act1(self.pool1(self.bn1(self.conv1(x)))))  # (B, C1, H1, W1)
        x = self.drop2(self.act2(self.pool2(self.bn2(self.conv2(x)))))  # (B, C2, H2, W2)
        x = self.drop3(self.act3(self.fc1(x.flatten(1))))  # (B, 1000)
        return self.fc2(x)  # (B, classes)


__all__ = ["DSCNN", "GSCCNN"]
