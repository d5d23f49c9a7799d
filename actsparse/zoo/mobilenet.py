"""MobileNetV2 (Sandler et al., 2018) with torchvision's parameter names.

Written here because torchvision does not work with this torch; the names match
``torchvision.models.mobilenet_v2`` so its ImageNet state dict loads with ``strict=True``.
Every nonlinearity is an ``nn.ReLU6`` module, so profiling finds all of them.
"""

from __future__ import annotations

from torch import Tensor, nn

# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))


class ConvBNReLU6(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> ReLU6, as torchvision's ``Conv2dNormActivation``.

    Example:
        >>> import torch
        >>> ConvBNReLU6(3, 8, stride=2)(torch.rand(1, 3, 16, 16)).shape
        torch.Size([1, 8, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=False),  # not in place: hooks then see the activation itself
        )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (3x3) -> project (1x1, linear), with a skip when shapes match.

    Example:
        >>> import torch
        >>> InvertedResidual(16, 16, stride=1, expand=6)(torch.rand(1, 16, 8, 8)).shape
        torch.Size([1, 16, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_res_connect = stride == 1 and c_in == c_out
        layers: list[nn.Module] = [] if expand == 1 else [ConvBNReLU6(c_in, hidden, kernel=1)]
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0) for 3x224x224 ImageNet-normalised input.

    Shape:
        ``(N, 3, H, W) -> (N, num_classes)``

    Example:
        >>> import torch
        >>> model = MobileNetV2().eval()
        >>> model(torch.rand(1, 3, 64, 64)).shape
        torch.Size([1, 1000])
        >>> sum(p.numel() for p in model.parameters())
        3504872
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        c_in = 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        layers.append(ConvBNReLU6(c_in, 1280, kernel=1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (N, 1280, H/32, W/32)
        x = self.pool(x)  # (N, 1280, 1, 1)
        x = self.flatten(x)  # (N, 1280)
        return self.classifier(x)  # (N, num_classes)
