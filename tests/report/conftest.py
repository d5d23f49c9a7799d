"""Small models and profiles shared by the report tests, and a check that a page is well formed."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest
import torch
from torch import nn

import actsparse
from actsparse.measure.profile import Profile


class ConvNet(nn.Module):
    """Two conv layers and a linear layer, each followed by a ReLU: 3 layers, 2 of them conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.act2 = nn.ReLU()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(8 * 8 * 8, 16)
        self.act3 = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 16, 16)
        x = self.act1(self.conv1(x))  # (N, 6, 16, 16)
        x = self.act2(self.conv2(x))  # (N, 8, 8, 8)
        return self.act3(self.fc(self.flat(x)))  # (N, 16)


@pytest.fixture
def conv_net() -> ConvNet:
    torch.manual_seed(0)
    return ConvNet()


@pytest.fixture
def conv_profile(conv_net: ConvNet) -> Profile:
    torch.manual_seed(1)
    return actsparse.profile(conv_net, [torch.randn(16, 1, 16, 16) for _ in range(2)])


VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "source", "wbr"}


class Checker(HTMLParser):
    """Collects <img> sources, every src/href, and tag-nesting errors."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values.get("src") or "")
        for key in ("src", "href"):
            if key in values:
                self.links.append(values[key] or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


@pytest.fixture
def well_formed() -> Callable[[str], Checker]:
    """Parse a page, assert every tag is closed in order, and return what it holds."""
    return parse
