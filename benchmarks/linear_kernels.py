"""Sparse-input Linear kernel vs dense F.linear, 11008 -> 4096 fp32.

Batch 1 at densities 0.5 ... 0.05 (target: speedup >= 0.8 / d), and batched B = 1, 8, 64 at
d = 0.1 per row (targets 2.5x at B = 8, 1.5x at B = 64); index_select + mm for comparison.
The sweep itself is :func:`actsparse.exploit.kernel_sweep.kernel_sweep`, shared with
``actsparse bench kernels``.

    .venv/bin/python -m benchmarks.linear_kernels [--repeats 40] [--out PATH]
"""

from __future__ import annotations

import argparse

from actsparse.exploit.kernel_sweep import kernel_sweep
from benchmarks._timing import write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--out", default="benchmarks/results/linear_kernels.json")
    args = parser.parse_args()
    write_json(args.out, kernel_sweep(repeats=args.repeats, log=print))


if __name__ == "__main__":
    main()
