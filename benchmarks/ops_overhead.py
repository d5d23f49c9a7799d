"""What the torch.library operators cost per call, against the eager ctypes path, at batch 1.

On the pretrained zoo MNIST CNN (one MNIST test image per call, ``torch.inference_mode()``,
2 threads unless ``--threads``), all timed interleaved in one run (medians):

- ``linear``: fc1 (3136 -> 128) as ``SparseInputLinear(mode='sparse')`` on its real input,
  through ctypes (what eager runs) and through ``torch.ops.actsparse.sparse_linear``;
- ``conv``: the features block as ``SparseConvSequential(mode='sparse')``, ctypes against the
  ``actsparse::sparse_conv2d`` operator;
- ``model``: PyTorch eager dense; the accelerated model in eager (ctypes), in eager through the
  operators, and under ``torch.compile`` (``aot_eager`` and ``inductor``); dense under
  ``torch.compile`` (inductor).

"Through the operators" forces the traced route in eager mode, which is what a compiled or
exported graph calls per layer. The eager layers take ctypes because of these figures.

    .venv/bin/python -m benchmarks.ops_overhead --json benchmarks/results/ops_overhead.json
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from actsparse import _tracing, zoo
from actsparse._jsonio import write_json
from actsparse._timing import interleaved, machine
from actsparse.exploit import conv as conv_mod
from actsparse.exploit import conv_sequential as seq_mod
from actsparse.exploit import linear as linear_mod
from actsparse.exploit.conv_sequential import SparseConvSequential
from actsparse.exploit.linear import SparseInputLinear

_MODULES = (linear_mod, conv_mod, seq_mod)


@contextmanager
def _operators_in_eager() -> Iterator[None]:
    """Make the layers take their traced route (the operators) in eager mode."""
    for module in _MODULES:
        module.tracing = lambda x: True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in _MODULES:
            module.tracing = _tracing.tracing  # type: ignore[attr-defined]


def _via_ops(fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        with _operators_in_eager():
            return fn()
    return run


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/ops_overhead.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    zm = zoo.load_model("mnist-cnn")
    dense = zm.module.eval()
    batch = next(iter(zm.batches(zoo.load_data("mnist", split="test", limit=1), batch_size=1)))
    image = batch[0] if isinstance(batch, tuple | list) else batch  # (1, 1, 28, 28)
    fast = copy.deepcopy(dense)
    fast.features = SparseConvSequential.from_sequential(fast.features, mode="sparse")
    fast.classifier[0] = SparseInputLinear.from_dense(fast.classifier[0], mode="sparse")
    fc1 = fast.classifier[0]

    results: dict[str, Any] = {"machine": machine(), "threads": args.threads,
                               "repeats": args.repeats}
    with torch.inference_mode():
        fc1_input = dense.features(image).flatten(1)  # (1, 3136)
        results["fc1_input_density"] = float((fc1_input != 0).float().mean())
        for name, fn in (("linear", lambda: fc1(fc1_input)),
                         ("conv", lambda: fast.features(image))):
            t = interleaved([fn, _via_ops(fn)], repeats=args.repeats, warmup=50)
            results[name] = {"ctypes_us": _us(t.medians[0]), "operator_us": _us(t.medians[1]),
                             "operator_slowdown": round(t.ratio(1, 0), 3)}  # operator / ctypes
        compiled = {"aot_eager": torch.compile(fast, backend="aot_eager", fullgraph=True),
                    "inductor": torch.compile(fast, fullgraph=True)}
        dense_inductor = torch.compile(dense)
        for model in (*compiled.values(), dense_inductor):
            model(image)  # compile now, not inside the timing
        fns = {"dense_eager": lambda: dense(image),
               "accelerated_eager_ctypes": lambda: fast(image),
               "accelerated_eager_operators": _via_ops(lambda: fast(image)),
               "accelerated_compiled_aot_eager": lambda: compiled["aot_eager"](image),
               "accelerated_compiled_inductor": lambda: compiled["inductor"](image),
               "dense_compiled_inductor": lambda: dense_inductor(image)}
        t = interleaved(list(fns.values()), repeats=args.repeats, warmup=50)
        results["model_us"] = {name: _us(m) for name, m in zip(fns, t.medians, strict=True)}
    write_json(args.json, results)
    print(results)


if __name__ == "__main__":
    main()
