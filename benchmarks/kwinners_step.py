"""k-winners training step: the MNIST CNN with KWinners2d/KWinners against the same CNN with ReLU.

One training step is forward + cross-entropy + backward + SGD step at batch 128 on MNIST
training images. The CNN is the zoo's MNIST CNN architecture (conv32-conv64-fc128); the sparse
variant puts ``KWinners2d`` after each conv and ``KWinners`` after the fc layer where the ReLUs
were, with the same weights. The two steps alternate within one run; the figure to quote is the
median of the per-repeat ratios (goal: at most 1.2x). ``ACTSPARSE_NO_NATIVE=1`` times the torch
reference path (``torch.topk``) instead of the C selection kernel.

    .venv/bin/python benchmarks/kwinners_step.py --json benchmarks/results/kwinners_step.json
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

import torch
from torch import nn

from actsparse import zoo
from actsparse.induce.kwinners import KWinners, KWinners2d, kwinners_kernel
from benchmarks._timing import interleaved, write_json


def mnist_cnn(sparse: bool, conv_density: float, fc_density: float) -> nn.Module:
    """conv32-conv64-fc128 as in the zoo's MNIST CNN, with ReLU or k-winners."""
    def act(kind: str, size: int) -> nn.Module:
        if not sparse:
            return nn.ReLU()
        if kind == "conv":
            return KWinners2d(size, conv_density)
        return KWinners(size, fc_density)

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), act("conv", 32), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), act("conv", 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), act("fc", 128), nn.Linear(128, 10),
    )


def make_step(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    state = {"i": 0}

    def step() -> None:
        x, y = batches[state["i"] % len(batches)]
        state["i"] += 1
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="benchmarks/results/kwinners_step.json")
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--conv-density", type=float, default=0.1)
    parser.add_argument("--fc-density", type=float, default=0.1)
    args = parser.parse_args()

    data = zoo.load_data("mnist", split="train", limit=args.batch * 4)
    zm = zoo.load_model("mnist-cnn")
    xs = list(zm.batches(data, batch_size=args.batch))
    labels = data.labels  # type: ignore[union-attr]
    batches = [(x, labels[i * args.batch:(i + 1) * args.batch]) for i, x in enumerate(xs)]

    torch.manual_seed(0)
    dense = mnist_cnn(False, args.conv_density, args.fc_density)
    sparse = mnist_cnn(True, args.conv_density, args.fc_density)
    sparse.load_state_dict(copy.deepcopy(dense.state_dict()), strict=False)
    timing = interleaved(make_step(dense, batches), make_step(sparse, batches), args.repeats,
                         warmup=3)
    print(f"k-winners step / ReLU step: median {timing['median_ratio']:.3f}x "
          f"({timing['median_baseline_s'] * 1e3:.1f} ms -> "
          f"{timing['median_candidate_s'] * 1e3:.1f} ms), batch {args.batch}, "
          f"{torch.get_num_threads()} threads, C kernel {kwinners_kernel() is not None}")
    write_json(args.json, {
        "benchmark": "kwinners_step", "goal_max_ratio": 1.2, "batch": args.batch,
        "native_kernel": kwinners_kernel() is not None,
        "conv_density": args.conv_density, "fc_density": args.fc_density,
        "sparse_layers": [repr(m) for m in sparse.modules()
                          if isinstance(m, KWinners | KWinners2d)],
        **timing,
    })


if __name__ == "__main__":
    main()
