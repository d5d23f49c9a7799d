"""``actsparse bench kernels``: run the sparse-linear kernel sweep and write it as JSON."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

import torch

from actsparse._jsonio import write_json
from actsparse.cli.common import check_at_least, positive_int
from actsparse.exploit.kernel_sweep import kernel_sweep


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``bench`` (with its ``kernels`` command) to the ``actsparse`` subparsers ``sub``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="actsparse")
        >>> _ = add_parser(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["bench", "kernels", "--json", "k.json"])
        >>> args.json, args.repeats, args.shape
        ('k.json', 20, [11008, 4096])
    """
    bench: argparse.ArgumentParser = sub.add_parser("bench", help="run a benchmark")
    which = bench.add_subparsers(dest="bench")
    kernels = which.add_parser(
        "kernels", help="sparse-input Linear kernel vs dense F.linear, by density and batch")
    kernels.add_argument("--json", required=True, help="where to write the results")
    kernels.add_argument("--repeats", type=positive_int, default=20,
                         help="interleaved repeats per case")
    kernels.add_argument("--shape", type=positive_int, nargs=2, default=[11008, 4096],
                         metavar=("IN", "OUT"), help="Linear in/out features (default 11008 4096)")
    kernels.set_defaults(benchmark=run_kernels)
    bench.set_defaults(usage=bench.print_help)
    return bench


def run(args: argparse.Namespace) -> int:
    """Handle ``actsparse bench BENCHMARK``; without a benchmark print the usage (status 2)."""
    benchmark = getattr(args, "benchmark", None)
    if benchmark is None:
        args.usage()
        return 2
    return int(benchmark(args))


def run_kernels(args: argparse.Namespace) -> int:
    """Run :func:`~actsparse.exploit.kernel_sweep.kernel_sweep` and write ``args.json``."""
    check_at_least("--repeats", args.repeats, 1)
    in_f, out_f = args.shape
    if in_f < 1 or out_f < 1:
        raise ValueError(f"--shape needs positive sizes, got {in_f} {out_f}")
    result = kernel_sweep(in_f, out_f, repeats=args.repeats, log=print)
    machine = {"python": platform.python_version(), "torch": torch.__version__,
               "threads": torch.get_num_threads(),
               "processor": platform.processor() or platform.machine()}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, {"machine": machine, **result})
    print(f"wrote {out}")
    return 0
